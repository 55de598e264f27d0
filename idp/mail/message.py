"""Composing a member's mail as a MIME message: UTF-8 text part, optional HTML part, headers."""
from __future__ import annotations

import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, localtime, make_msgid

# A URL ends at whitespace or at characters that cannot appear unescaped in one; trailing
# punctuation from the surrounding sentence (Japanese or ASCII) is trimmed off.
_LINK = re.compile(r"https?://[^\s<>\"'「」『』（）()、。]+")
_TRAILING = ".,;:!?"


def find_links(text: str) -> list[str]:
    """The http(s) links in a plain-text body, in order of appearance."""
    return [match.group(0).rstrip(_TRAILING) for match in _LINK.finditer(text)]


def compose(
    *, to: str, subject: str, text: str, html: str | None, sender: str, sender_name: str | None
) -> EmailMessage:
    """A message ready for SMTP: multipart/alternative when there is HTML, else text/plain."""
    message = EmailMessage(policy=SMTP)
    message["From"] = _address(sender, sender_name)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(localtime())
    message["Message-ID"] = make_msgid(domain=_domain(sender))
    message.set_content(text, charset="utf-8")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8")
    return message


def _address(sender: str, sender_name: str | None) -> Address | str:
    if not sender_name:
        return sender
    username, _, domain = sender.rpartition("@")
    return Address(display_name=sender_name, username=username, domain=domain)


def _domain(sender: str) -> str:
    return sender.rpartition("@")[2] or "localhost"
