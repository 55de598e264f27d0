"""Handing a composed message over: to an SMTP server (plain or implicit TLS) or to an outbox folder."""
from __future__ import annotations

import logging
import secrets
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

from idp.mail.message import find_links

log = logging.getLogger("idp.mail")

SMTP_TIMEOUT_SECONDS = 30


class MailError(Exception):
    """A message could not be delivered (server unreachable, refused, bad address, full disk)."""


def deliver(mail_url: str, message: EmailMessage) -> None:
    """Send `message` the way `mail_url` says; any failure becomes a `MailError`."""
    try:
        if mail_url.startswith("outbox:"):
            write_to_outbox(Path(mail_url.removeprefix("outbox:")), message)
        elif mail_url.startswith(("smtp://", "smtps://")):
            send_by_smtp(mail_url, message)
        else:
            raise MailError(f"unsupported mail URL scheme in {mail_url.split(':', 1)[0]!r}")
    except (smtplib.SMTPException, ssl.SSLError, OSError) as error:
        raise MailError(f"mail to {message['To']} was not delivered: {error}") from error


def send_by_smtp(mail_url: str, message: EmailMessage) -> None:
    """smtp://host:port speaks plain SMTP; smtps://user:pass@host:port uses implicit TLS and logs in."""
    url = urlsplit(mail_url)
    host = url.hostname or "localhost"
    if url.scheme == "smtps":
        context = ssl.create_default_context()
        with smtplib.SMTP_SSL(host, url.port or 465, timeout=SMTP_TIMEOUT_SECONDS, context=context) as server:
            if url.username:
                server.login(unquote(url.username), unquote(url.password or ""))
            server.send_message(message)
    else:
        with smtplib.SMTP(host, url.port or 25, timeout=SMTP_TIMEOUT_SECONDS) as server:
            server.send_message(message)


def write_to_outbox(folder: Path, message: EmailMessage) -> Path:
    """Write one .eml file, named so that a plain sort lists mails oldest first, and log its links."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{stamp}-{secrets.token_hex(4)}.eml"
    path.write_bytes(message.as_bytes())
    for link in find_links(_text_part(message)):
        log.info("mail to %s (%s): %s", message["To"], path.name, link)
    return path


def _text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""
