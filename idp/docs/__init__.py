"""The operator guide's generated references, docs/reference/{realm,flow}-yaml.{ja,en}.md: made from
the pydantic schemas, kosmo-idp's own steps and conditions, and the texts in descriptions.yaml.

Regenerate with `python -m idp.docs`; `python -m idp.docs --check` only says which are stale.
"""
from __future__ import annotations

from pathlib import Path

from idp.config import CHECKOUT
from idp.docs.descriptions import LANGUAGES, Descriptions
from idp.docs.pages import BuiltIns, flow_page, realm_page
from idp.flows.registry import load_registry

REFERENCE_DIR = CHECKOUT / "docs" / "reference"
REGENERATE = "python -m idp.docs"


def reference_pages(words: Descriptions | None = None) -> dict[str, str]:
    """File name → Markdown for every reference page; raises DescriptionsIncomplete first."""
    words = words or Descriptions.load()
    builtins = BuiltIns.of(load_registry())
    pages = {}
    for language in LANGUAGES:
        pages[f"realm-yaml.{language}.md"] = realm_page(words, language)
        pages[f"flow-yaml.{language}.md"] = flow_page(words, language, builtins)
    words.check_complete()
    return pages


def stale_pages(folder: Path = REFERENCE_DIR) -> list[str]:
    """The reference files that are missing or differ from what the schemas give now."""
    return [name for name, text in reference_pages().items()
            if not (folder / name).exists() or (folder / name).read_text(encoding="utf-8") != text]


def write_pages(folder: Path = REFERENCE_DIR) -> list[str]:
    """Write every reference page; returns the names of those that changed."""
    changed = []
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in reference_pages().items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(name)
    return changed
