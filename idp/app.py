"""The Flask application factory: wires settings, storage, templates and blueprints together."""
from __future__ import annotations

import logging

from flask import Flask

from idp import admin, db, ephemeral, errors, i18n, operations, request_context, themes
from idp.account import views as account
from idp.config import Settings
from idp.extensions import csrf
from idp.login import views as login
from idp.oidc import logout_notices
from idp.oidc import views as oidc
from idp.security import headers, malformed, rate_limit


class IdentityProvider(Flask):
    """Flask with templates looked up in the realm's theme first (idp.themes)."""

    jinja_environment = themes.ThemedEnvironment


def create_app(settings: Settings | None = None, database: db.Database | None = None) -> Flask:
    """Build the identity provider for `settings` (default: from the environment)."""
    settings = settings or Settings.from_env()
    app = IdentityProvider(
        __name__,
        template_folder=str(settings.themes_dir / "ja" / "templates"),
        static_folder=str(settings.themes_dir / "ja" / "static"),
        static_url_path="/resources/ja",
    )
    app.config.update(
        IDP_SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="IDP_FORM",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url_is_https,
        WTF_CSRF_TIME_LIMIT=None,
        # Pages send no Referer (Referrer-Policy: no-referrer); the CSRF token and SameSite=Lax protect.
        WTF_CSRF_SSL_STRICT=False,
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    logging.getLogger("idp").setLevel(settings.log_level)
    database = database or db.Database(settings.database_url)
    db.init_app(app, database)
    ephemeral.init_app(app, ephemeral.make_store(settings.redis_url, database))
    themes.init_app(app, realm_theme=request_context.realm_theme)
    i18n.init_app(app)
    request_context.init_app(app)
    csrf.init_app(app)
    headers.init_app(app)
    malformed.init_app(app)
    _register_blueprints(app)
    operations.init_app(app)
    logout_notices.init_app(app)
    rate_limit.init_app(app)
    if settings.proxy_fix:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.proxy_fix
        # Flask's documented way to wrap its WSGI app in middleware.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)
    return app


def _register_blueprints(app: Flask) -> None:
    """The realm's areas under `/realms/<realm>`, the Admin API, and the error pages. Protocol code
    is handed the sign-in it starts, so it never imports the pages."""
    oidc.init_app(app, begin_sign_in=login.begin_sign_in)
    login.init_app(app)
    admin.init_app(app)
    app.register_blueprint(request_context.realm_blueprint(oidc.bp, login.bp, account.bp))
    errors.init_app(app)
