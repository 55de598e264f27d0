"""Per-society themes: `themes/<name>/` may override any template, message, mail or stylesheet
of the base theme `themes/ja/`, and a realm picks its theme with `theme:` in its YAML.

What a theme leaves out comes from `ja`, so a society's folder holds only what differs (a
`static/css/theme.css` for colours and logo, a changed message, its own terms page).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from flask import Flask, abort, current_app, has_app_context, send_from_directory, url_for
from flask.templating import Environment
from jinja2 import BaseLoader, FileSystemLoader, TemplateNotFound

BASE = "ja"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
STYLESHEET = "css/theme.css"


class ThemeError(ValueError):
    """A realm names a theme that is not there."""


def folders(themes_dir: Path, theme: str) -> list[Path]:
    """The theme's folder, then the base theme's: the first that has a file wins."""
    names = [theme, BASE] if theme != BASE else [BASE]
    return [Path(themes_dir) / name for name in names]


def check(themes_dir: Path, theme: str) -> None:
    """Refuse a theme name that is malformed or has no folder, naming the folder looked for."""
    if not NAME.match(theme):
        raise ThemeError(f"theme {theme!r}: use lower-case letters, digits, '-' and '_'")
    if not (Path(themes_dir) / theme).is_dir():
        raise ThemeError(f"theme {theme!r}: no folder {Path(themes_dir) / theme}")


def current_theme() -> str:
    """The theme of the realm this request is for (the base theme outside a realm)."""
    realm_theme = current_app.extensions["idp.realm_theme"] if has_app_context() else None
    return (realm_theme() if realm_theme else None) or BASE


class ThemedEnvironment(Environment):
    """Flask's Jinja environment, asking for a realm theme's own copy of a template when the
    theme has one. The name then carries the theme (`@acme/login.html`), so Jinja's cache keeps
    each theme's copy apart; `extends` and `import` go through here too."""

    def get_template(self, name, parent=None, globals=None):
        if isinstance(name, str) and not name.startswith("@"):
            theme = current_theme()
            if theme != BASE and (self.themes_dir / theme / "templates" / name).is_file():
                name = f"@{theme}/{name}"
        return super().get_template(name, parent, globals)

    @property
    def themes_dir(self) -> Path:
        return Path(self.app.config["IDP_SETTINGS"].themes_dir)


class ThemeLoader(BaseLoader):
    """Base theme templates by their plain name, a realm theme's by `@<theme>/<name>`."""

    def __init__(self, themes_dir: Path):
        self.themes_dir = Path(themes_dir)
        self.base = FileSystemLoader(str(self.themes_dir / BASE / "templates"))

    def get_source(self, environment, template):
        if not template.startswith("@"):
            return self.base.get_source(environment, template)
        theme, _, name = template[1:].partition("/")
        if not NAME.match(theme):
            raise TemplateNotFound(template)
        return FileSystemLoader(str(self.themes_dir / theme / "templates")).get_source(environment, name)

    def list_templates(self):
        return self.base.list_templates()


def stylesheet_url() -> str | None:
    """The realm theme's `static/css/theme.css`, loaded after the base stylesheet, if it has one."""
    theme = current_theme()
    if theme == BASE or not (current_app.config["IDP_SETTINGS"].themes_dir / theme / "static" / STYLESHEET).is_file():
        return None
    return url_for("theme_static", theme=theme, filename=STYLESHEET)


def theme_static(theme: str, filename: str):
    """A realm theme's static file (its stylesheet, logo, fonts); the base theme's are `static`."""
    if not NAME.match(theme) or theme == BASE:
        abort(404)
    return send_from_directory(current_app.config["IDP_SETTINGS"].themes_dir / theme / "static", filename,
                               max_age=3600)


def init_app(app: Flask, realm_theme: Callable[[], str | None]) -> None:
    """Templates and static files by theme; `realm_theme` names the request's realm's theme
    (None outside a realm), so that this module needs no notion of a request's realm."""
    app.extensions["idp.realm_theme"] = realm_theme
    app.jinja_loader = ThemeLoader(app.config["IDP_SETTINGS"].themes_dir)
    app.add_url_rule("/resources/themes/<theme>/<path:filename>", "theme_static", theme_static)
    app.jinja_env.globals["theme_stylesheet"] = stylesheet_url
