"""Every user-visible string, looked up by key from the YAML files in `themes/<theme>/messages/`.

Templates call `_("key")`; Python code calls `message("key", name=...)`. A missing key is a
loud error in tests rather than an English fallback shown to a member. A realm's theme
overrides the base theme's texts key by key (idp.themes).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from flask import Flask, current_app
from ruamel.yaml import YAML

from idp import themes


class MissingMessage(KeyError):
    """A template or view asked for a message key that the theme does not define."""


@lru_cache(maxsize=16)
def load_messages(folder: Path) -> dict[str, str]:
    """Every `*.yaml` file of the folder merged; a key defined twice is an error."""
    texts: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
        for key, value in data.items():
            if key in texts:
                raise ValueError(f"{path}: message {key!r} is defined twice")
            texts[str(key)] = str(value)
    return texts


@lru_cache(maxsize=16)
def messages_for(themes_dir: Path, theme: str = themes.BASE) -> dict[str, str]:
    """The base theme's texts with the realm theme's on top; a theme may only change a text
    the base theme has, so a misspelt key is an error instead of a silent no-op."""
    texts = dict(load_messages(Path(themes_dir) / themes.BASE / "messages"))
    if theme != themes.BASE:
        changed = load_messages(Path(themes_dir) / theme / "messages")
        unknown = sorted(set(changed) - set(texts))
        if unknown:
            raise ValueError(f"theme {theme!r} changes messages the base theme does not have: {', '.join(unknown)}")
        texts.update(changed)
    return texts


def message(key: str, **params) -> str:
    """The Japanese text for `key`, with `{name}` placeholders filled in."""
    texts = messages_for(current_app.config["IDP_SETTINGS"].themes_dir, themes.current_theme())
    try:
        text = texts[key]
    except KeyError:
        raise MissingMessage(key) from None
    return text.format(**params) if params else text


# Japan keeps +09:00 all year, so a fixed offset is right without tzdata.
JAPAN_TIME = timezone(timedelta(hours=9), "JST")


def japan_time_parts(moment: datetime) -> dict[str, int]:
    """The fields the `time.*` messages spell a moment with, in Japan time."""
    local = moment.astimezone(JAPAN_TIME)
    return {"year": local.year, "month": local.month, "day": local.day, "hour": local.hour, "minute": local.minute}


def japan_time(moment: datetime | None, key: str = "time.date_time") -> str:
    """A time as members read it (2026年4月1日 9:00), or "" for none; in a request."""
    return message(key, **japan_time_parts(moment)) if moment is not None else ""


def init_app(app: Flask) -> None:
    app.jinja_env.globals["_"] = message
