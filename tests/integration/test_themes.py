"""A society's own theme: `themes/<name>/` changes texts, pages, mails and colours of its realm
only, and everything it leaves out comes from the base theme `themes/ja/`."""
from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from idp.config import CHECKOUT
from idp.db import Database
from idp.mail.render import render_mail
from idp.setup import prepare
from idp.themes import ThemeError
from tests.support.settings import make_settings
from tests.support.sign_in import authorize, pkce_pair


def sign_in_page(client, **overrides) -> str:
    return authorize(client, pkce_pair()[1], **overrides).get_data(as_text=True)


def themes_with(tmp_path, files: dict[str, str]):
    """A themes folder holding the shipped base theme and a society theme `acme` with `files`."""
    folder = tmp_path / "themes"
    folder.mkdir()
    (folder / "ja").symlink_to(CHECKOUT / "themes" / "ja", target_is_directory=True)
    for name, text in files.items():
        path = folder / "acme" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (folder / "acme").mkdir(exist_ok=True)
    return folder


def realm_theme(settings, theme: str) -> None:
    yaml = YAML()
    path = settings.realms_dir / "kosmo-demo.yaml"
    document = yaml.load(path.read_text(encoding="utf-8"))
    document["theme"] = theme
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(document, out)


@pytest.fixture
def themed_app(tmp_path):
    from idp.app import create_app

    themes_dir = themes_with(tmp_path, {
        "messages/acme.yaml": 'login.title: "アクメ健保 ログイン"\n',
        "templates/error.html": '{% extends "base.html" %}{% block content %}'
                                '<p id="acme-error">{{ _(message_key) }}</p>{% endblock %}',
        "static/css/theme.css": ":root { --accent: #006400; }\n",
        "templates/mail/verify-email.txt": "アクメ健保からのお知らせ\n{{ url }}\n",
    })
    settings = make_settings(tmp_path, themes_dir=themes_dir)
    realm_theme(settings, "acme")
    database = Database(settings.database_url)
    prepare(settings, database)
    app = create_app(settings, database)
    app.config.update(TESTING=True)
    yield app
    database.dispose()


def test_the_societys_text_replaces_the_base_text_and_the_rest_stays(themed_app):
    page = sign_in_page(themed_app.test_client())
    assert "アクメ健保 ログイン" in page
    assert "ユーザID" in page and "パスワードを忘れた方はこちら" in page


def test_the_societys_stylesheet_is_linked_after_the_base_one_and_served(themed_app):
    client = themed_app.test_client()
    page = sign_in_page(client)
    base, society = page.index("/resources/ja/css/idp.css"), page.index("/resources/themes/acme/css/theme.css")
    assert base < society
    css = client.get("/resources/themes/acme/css/theme.css")
    assert css.status_code == 200 and b"#006400" in css.data
    assert "max-age=3600" in css.headers["Cache-Control"]
    assert client.get("/resources/themes/acme/../ja/templates/base.html").status_code == 404


def test_the_societys_page_template_is_used_for_its_realm(themed_app):
    page = sign_in_page(themed_app.test_client(), client_id="nobody")
    assert 'id="acme-error"' in page


def test_the_outage_page_of_a_societys_realm_keeps_its_theme(themed_app, monkeypatch):
    """The database goes away after a rollback left the realm unread: the page names no realm
    (reading it again would need the database) but still wears the realm's theme."""
    from sqlalchemy.exc import OperationalError

    from idp.db import db_session
    from idp.oidc import authorize as authorization
    from idp.request_context import realm_request

    def database_gone(args):
        db_session().rollback()
        db_session().expire(realm_request().realm)
        raise OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(authorization, "sso_session_for", database_gone)
    response = authorize(themed_app.test_client(), pkce_pair()[1])
    assert response.status_code == 503 and 'id="acme-error"' in response.get_data(as_text=True)


def test_a_mail_template_the_theme_has_wins_and_the_others_come_from_the_base(themed_app):
    settings = themed_app.config["IDP_SETTINGS"]
    text, html = render_mail(settings, "acme", "verify-email", url="https://idp/link", name="山田 太郎",
                             minutes=5, site="アクメ健保")
    assert text.startswith("アクメ健保からのお知らせ") and "https://idp/link" in text
    assert "https://idp/link" in html  # the base theme's HTML body


def test_a_realm_on_the_base_theme_sees_no_society_files(tmp_path):
    from idp.app import create_app

    settings = make_settings(tmp_path, themes_dir=themes_with(tmp_path, {"messages/acme.yaml": 'login.title: "X"\n'}))
    database = Database(settings.database_url)
    prepare(settings, database)
    page = sign_in_page(create_app(settings, database).test_client())
    database.dispose()
    assert "<title>ログイン" in page or ">ログイン<" in page
    assert "/resources/themes/" not in page


def test_a_realm_naming_a_missing_theme_is_refused_before_anything_is_loaded(tmp_path):
    settings = make_settings(tmp_path, themes_dir=themes_with(tmp_path, {}))
    realm_theme(settings, "nosuch")
    database = Database(settings.database_url)
    with pytest.raises(ThemeError, match="nosuch"):
        prepare(settings, database)
    with database.session() as session:
        from idp.db.models import Realm

        assert session.query(Realm).count() == 0
    database.dispose()


def test_a_theme_text_for_a_key_the_base_theme_lacks_is_an_error(tmp_path):
    from idp.i18n import messages_for

    folder = themes_with(tmp_path, {"messages/acme.yaml": 'login.titel: "typo"\n'})
    with pytest.raises(ValueError, match="login.titel"):
        messages_for(folder, "acme")
