"""Sending mail: SMTP, or an outbox folder of .eml files for development."""
from __future__ import annotations

from idp.config import Settings
from idp.mail.delivery import MailError, deliver
from idp.mail.message import compose, find_links

__all__ = ["MailError", "find_links", "send_mail"]


def send_mail(
    settings: Settings,
    *,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    sender: str | None = None,
    sender_name: str | None = None,
) -> None:
    """Deliver one mail per `settings.mail_url`; raises `MailError` when it cannot be delivered.

    `text` must carry every link as a plain URL: members with text-only mail clients see
    only that part (docs/member-screens.md §2, steps 7–8).
    """
    message = compose(
        to=to,
        subject=subject,
        text=text,
        html=html,
        sender=sender or settings.mail_from,
        sender_name=sender_name,
    )
    deliver(settings.mail_url, message)
