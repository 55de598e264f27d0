"""The portal's application factory: settings from the environment, messages, security headers."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, current_app
from flask_wtf.csrf import CSRFProtect
from ruamel.yaml import YAML

MESSAGES_FILE = Path(__file__).resolve().parents[2] / "themes" / "ja" / "messages" / "portal.yaml"

DEFAULTS = {
    "PORTAL_IDP_URL": "http://localhost:8080",
    "PORTAL_REALM": "kosmo-demo",
    "PORTAL_URL": "http://localhost:8081",
    "PORTAL_CLIENT_ID": "kosmo-portal",
    "KOSMO_PORTAL_SECRET": "demo-portal-secret-change-me",
    "PORTAL_SECRET_KEY": "",
    "PORTAL_OUTBOX_DIR": "",
}


def load_config(environ=os.environ) -> dict[str, str]:
    """Every portal setting from its environment variable, falling back to the demo defaults."""
    return {name: environ.get(name) or default for name, default in DEFAULTS.items()}


def load_messages(path: Path = MESSAGES_FILE) -> dict[str, str]:
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    return {str(key): str(value) for key, value in data.items()}


def _translator(messages: dict[str, str]):
    def text(key: str, **params) -> str:
        """The Japanese text for `key`; an unknown key fails loudly rather than showing the key."""
        return messages[key].format(**params) if params else messages[key]

    return text


def create_portal(config: dict | None = None) -> Flask:
    """Build the portal; `config` overrides the environment, keyed by the variable names."""
    settings = {**load_config(), **(config or {})}
    app = Flask(__name__)
    app.config.update(settings)
    app.config.update(
        # Without a configured key, sessions last only as long as this one process.
        SECRET_KEY=settings["PORTAL_SECRET_KEY"] or secrets.token_urlsafe(32),
        SESSION_COOKIE_NAME="KOSMO_PORTAL",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["PORTAL_URL"].startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.jinja_env.globals["_"] = _translator(load_messages())
    csrf = CSRFProtect(app)
    _register_blueprints(app, csrf)
    app.after_request(_security_headers)
    return app


def _register_blueprints(app: Flask, csrf: CSRFProtect) -> None:
    from examples.portal import auth, backchannel, mailbox, pages

    auth.init_app(app)
    backchannel.init_app(app, csrf)
    pages.init_app(app)
    if app.config["PORTAL_OUTBOX_DIR"]:
        mailbox.init_app(app)


def _security_headers(response):
    idp = urlsplit(current_app.config["PORTAL_IDP_URL"])
    # Browsers apply form-action to the redirect that follows a form post: the logout form
    # ends at the identity provider, so its origin must be allowed.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
        f"form-action 'self' {idp.scheme}://{idp.netloc}; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response
