"""Mail leaves the identity provider as a proper MIME message, by SMTP or into the outbox folder."""
from __future__ import annotations

import datetime
import email
import ipaddress
import logging
import socket
import ssl
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from idp.mail import MailError, find_links, send_mail
from tests.support.settings import make_settings

SUBJECT = "【KOSMOWeb】ワンタイムパスワードのお知らせ"
TEXT = "KOSMO Communication Webにログインするためのワンタイムパスワード\n\n123456\n\n確認: https://idp.example/realms/kosmo-demo/verify?key=abc。\n"
HTML = '<p>確認</p><p><a href="https://idp.example/realms/kosmo-demo/verify?key=abc">メールアドレスの確認</a></p>'


class Inbox:
    """An aiosmtpd handler that keeps every message it receives, with who logged in."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=True)


def text_of(message) -> str:
    # Text travels in canonical CRLF form (RFC 2045); members' mail clients show plain lines.
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def smtps_server(tmp_path, monkeypatch):
    """An implicit-TLS server with a self-signed certificate that the client is told to trust."""
    cert_path, key_path = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=context,
        authenticator=inbox.authenticate,
        # aiosmtpd only counts STARTTLS as TLS; this connection is TLS from its first byte.
        auth_require_tls=False,
    )
    controller.start()
    yield inbox, controller.port
    controller.stop()


def test_a_mail_with_html_arrives_as_text_and_html_alternatives(tmp_path, smtp_server):
    inbox, port = smtp_server
    settings = make_settings(tmp_path, mail_url=f"smtp://127.0.0.1:{port}", mail_from="no-reply@kosmo-demo.example")

    send_mail(settings, to="hanako@example.jp", subject=SUBJECT, text=TEXT, html=HTML, sender_name="KOSMO Web")

    [received] = inbox.messages
    assert received.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in received.iter_parts()] == ["text/plain", "text/html"]
    assert text_of(received) == TEXT
    assert received.get_body(("html",)).get_content().strip() == HTML
    assert all(part.get_content_charset() == "utf-8" for part in received.iter_parts())


def test_the_japanese_subject_and_sender_name_survive_the_trip(tmp_path, smtp_server):
    inbox, port = smtp_server
    settings = make_settings(tmp_path, mail_url=f"smtp://127.0.0.1:{port}", mail_from="no-reply@kosmo-demo.example")

    send_mail(settings, to="hanako@example.jp", subject=SUBJECT, text=TEXT, sender_name="KOSMO Web デモ健保")

    [received], [envelope] = inbox.messages, inbox.envelopes
    raw_headers = envelope.content.split(b"\r\n\r\n", 1)[0]
    assert raw_headers.isascii(), "headers must be RFC 2047 encoded, not raw UTF-8"
    assert received["Subject"] == SUBJECT
    assert received["From"].addresses[0].display_name == "KOSMO Web デモ健保"
    assert received["From"].addresses[0].addr_spec == "no-reply@kosmo-demo.example"
    assert envelope.mail_from == "no-reply@kosmo-demo.example"
    assert envelope.rcpt_tos == ["hanako@example.jp"]
    assert email.utils.parsedate_to_datetime(received["Date"]).tzinfo is not None
    assert received["Message-ID"].endswith("@kosmo-demo.example>")
    assert received.get_content_type() == "text/plain"


def test_smtps_logs_in_with_the_url_decoded_user_and_password(tmp_path, smtps_server):
    inbox, port = smtps_server
    settings = make_settings(tmp_path, mail_url=f"smtps://relay%40kosmo.example:p%40ss%3Aword@127.0.0.1:{port}")

    send_mail(settings, to="hanako@example.jp", subject=SUBJECT, text=TEXT)

    assert inbox.logins == [("relay@kosmo.example", "p@ss:word")]
    assert inbox.messages[0]["Subject"] == SUBJECT


def test_an_unreachable_server_raises_a_mail_error(tmp_path):
    settings = make_settings(tmp_path, mail_url=f"smtp://127.0.0.1:{free_port()}")

    with pytest.raises(MailError, match="hanako@example.jp"):
        send_mail(settings, to="hanako@example.jp", subject=SUBJECT, text=TEXT)


def test_the_outbox_keeps_a_parseable_eml_and_logs_each_link(tmp_path, caplog):
    settings = make_settings(tmp_path, mail_url=f"outbox:{tmp_path / 'outbox'}")
    caplog.set_level(logging.INFO, logger="idp.mail")

    send_mail(settings, to="hanako@example.jp", subject=SUBJECT, text=TEXT, html=HTML)

    [path] = (tmp_path / "outbox").glob("*.eml")
    saved = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert saved["Subject"] == SUBJECT
    assert saved["To"] == "hanako@example.jp"
    assert text_of(saved) == TEXT
    link_lines = [r.getMessage() for r in caplog.records if r.name == "idp.mail"]
    assert len(link_lines) == 1
    assert link_lines[0].endswith("https://idp.example/realms/kosmo-demo/verify?key=abc")


def test_outbox_files_sort_in_the_order_they_were_sent(tmp_path):
    settings = make_settings(tmp_path, mail_url=f"outbox:{tmp_path / 'outbox'}")

    for number in range(5):
        send_mail(settings, to=f"member{number}@example.jp", subject=SUBJECT, text=TEXT)

    paths = sorted((tmp_path / "outbox").glob("*.eml"))
    recipients = [email.message_from_bytes(p.read_bytes(), policy=policy.default)["To"] for p in paths]
    assert recipients == [f"member{number}@example.jp" for number in range(5)]


def test_an_outbox_that_cannot_be_written_raises_a_mail_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    settings = make_settings(tmp_path, mail_url=f"outbox:{blocker}")

    with pytest.raises(MailError):
        send_mail(settings, to="hanako@example.jp", subject=SUBJECT, text=TEXT)


def test_links_stop_before_japanese_punctuation_and_trailing_periods():
    text = "こちら（https://a.example/x?y=1）をご覧ください。次: https://b.example/z. 以上"
    assert find_links(text) == ["https://a.example/x?y=1", "https://b.example/z"]
