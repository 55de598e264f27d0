"""The development mailbox: the identity provider's outbox folder shown as a list of mails with their links.

Mails are untrusted input here (they carry what members typed), so HTML parts are only ever
shown as escaped source, never rendered.
"""
from __future__ import annotations

import email
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, render_template

bp = Blueprint("mailbox", __name__, url_prefix="/dev/mailbox")

NEWEST_SHOWN = 100
_MAIL_FILE = re.compile(r"^[\w.-]+\.eml$")
_LINK = re.compile(r"https?://[^\s<>\"'「」『』（）()、。]+")
_TRAILING = ".,;:!?"


@dataclass(frozen=True)
class Mail:
    """One mail of the outbox, as the mailbox page shows it."""

    file_name: str
    subject: str
    to: str
    sent_at: datetime | None
    text: str
    html: str | None

    @property
    def links(self) -> list[str]:
        return [link for kind, link in self.text_pieces if kind == "link"]

    @property
    def text_pieces(self) -> list[tuple[str, str]]:
        """The text part cut into ("text", ...) and ("link", ...) pieces, so links can be made clickable."""
        pieces, position = [], 0
        for match in _LINK.finditer(self.text):
            link = match.group(0).rstrip(_TRAILING)
            pieces.append(("text", self.text[position : match.start()]))
            pieces.append(("link", link))
            position = match.start() + len(link)
        pieces.append(("text", self.text[position:]))
        return [piece for piece in pieces if piece[1]]


def read_mail(path: Path) -> Mail:
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    return Mail(
        file_name=path.name,
        subject=str(message.get("Subject", "")),
        to=str(message.get("To", "")),
        sent_at=_sent_at(message),
        text=_body(message, "plain") or "",
        html=_body(message, "html"),
    )


def newest_mails(folder: Path, limit: int = NEWEST_SHOWN) -> list[Mail]:
    """The newest mails first; outbox file names sort by the time they were written."""
    if not folder.is_dir():
        return []
    paths = sorted((p for p in folder.iterdir() if _MAIL_FILE.match(p.name)), reverse=True)
    return [read_mail(path) for path in paths[:limit]]


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    return part.get_content().replace("\r\n", "\n")


def _sent_at(message: EmailMessage) -> datetime | None:
    try:
        return parsedate_to_datetime(message["Date"]).astimezone()
    except (TypeError, ValueError):
        return None


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _outbox() -> Path:
    return Path(current_app.config["PORTAL_OUTBOX_DIR"])


@bp.get("/")
def index():
    """Every mail of the outbox, newest first, with the links it carries."""
    return render_template("mailbox.html", mails=newest_mails(_outbox()))


@bp.get("/<file_name>")
def show(file_name: str):
    """One mail: its text with clickable links, and its HTML part as escaped source."""
    path = _outbox() / file_name
    if not _MAIL_FILE.match(file_name) or not path.is_file():
        abort(404)
    return render_template("mail.html", mail=read_mail(path))
