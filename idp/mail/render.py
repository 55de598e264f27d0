"""The bodies of the mails steps send: a theme's `templates/mail/<name>.txt` and `.html`,
rendered with plain Jinja, since steps run outside Flask's request context."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from idp import themes
from idp.config import Settings
from idp.i18n import messages_for
from idp.realms.schema import RealmConfig


def render_mail(settings: Settings, theme: str, name: str, /, **values) -> tuple[str, str]:
    """The text and the HTML body of mail `name`; templates call `_(key, **params)` for the
    theme's messages, as page templates do."""
    texts = messages_for(settings.themes_dir, theme)

    def text(key: str, **params) -> str:
        return texts[key].format(**params) if params else texts[key]

    folders = themes.folders(settings.themes_dir, theme)
    templates = _environment(tuple(folder / "templates" / "mail" for folder in folders))
    plain = templates.get_template(f"{name}.txt").render(_=text, **values)
    html = templates.get_template(f"{name}.html").render(_=text, **values)
    return plain, html


def realm_mail(settings: Settings, config: RealmConfig, name: str, subject_key: str, /,
               **values) -> tuple[str, str, str]:
    """The subject, text and HTML body of a realm's mail `name`: the subject is the realm's
    prefix and the theme's `subject_key`; templates also get `site`, the realm's shown name."""
    subject = config.email.subject_prefix + messages_for(settings.themes_dir, config.theme)[subject_key]
    plain, html = render_mail(settings, config.theme, name, site=config.display_name or config.realm, **values)
    return subject, plain, html


@lru_cache(maxsize=8)
def _environment(folders: tuple[Path, ...]) -> Environment:
    # HTML escaped, text not; an unknown variable is an error rather than an empty hole in a mail.
    # The realm theme's mail templates first, then the base theme's.
    return Environment(
        loader=FileSystemLoader([str(folder) for folder in folders]),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
