"""The references' words, Japanese and English, read from `descriptions.yaml` beside this module:
what each model, key, step and condition means, and the pages' own labels.

Every lookup is remembered, so a key the schemas no longer have, or one they gained without a
description, is reported by name instead of silently dropped or left blank.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

FILE = Path(__file__).with_name("descriptions.yaml")
LANGUAGES = ("ja", "en")


class DescriptionsIncomplete(ValueError):
    """descriptions.yaml lacks texts the schemas need, or keeps texts nothing uses."""

    def __init__(self, missing: list[str], unused: list[str]):
        lines = [f"{FILE}: the references cannot be generated:"]
        lines += [f"  missing: {path} (give it `ja:` and `en:`)" for path in missing]
        lines += [f"  unused:  {path} (the schema no longer has it; remove it)" for path in unused]
        super().__init__("\n".join(lines))
        self.missing, self.unused = missing, unused


class Descriptions:
    """Texts by dotted path, e.g. `models.TokenSettings.fields.login_timeout`, in one language."""

    def __init__(self, data: dict):
        self.data = data
        self.used: set[str] = set()
        self.missing: set[str] = set()

    @classmethod
    def load(cls, path: Path = FILE) -> Descriptions:
        return cls(YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {})

    def text(self, path: str, language: str, **values) -> str:
        """The text at `path` in `language`; a missing one is noted and rendered as its path."""
        node: Any = self.data
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        text = node.get(language) if isinstance(node, dict) else None
        if not isinstance(text, str) or not text.strip():
            self.missing.add(f"{path}.{language}")
            return path
        self.used.add(path)
        return text.strip("\n").format(**values) if values else text.strip("\n")

    def check_complete(self) -> None:
        """Raise DescriptionsIncomplete unless every text was found and every description was used.

        Labels are the pages' vocabulary (e.g. the word for a type no schema uses today), so an
        unused label is no error."""
        unused = sorted(path for path in _text_paths(self.data)
                        if path not in self.used and not path.startswith("labels."))
        if self.missing or unused:
            raise DescriptionsIncomplete(sorted(self.missing), unused)


def _text_paths(node: dict, prefix: str = ""):
    """Paths of the nodes that hold `ja:`/`en:` texts."""
    if any(language in node for language in LANGUAGES):
        yield prefix
    for key, value in node.items():
        if key not in LANGUAGES and isinstance(value, dict):
            yield from _text_paths(value, f"{prefix}.{key}" if prefix else str(key))
