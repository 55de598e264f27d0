"""A mail catcher for tests: an aiosmtpd server on a free port of 127.0.0.1 that keeps every
message the identity provider sends (IDP_MAIL_URL=catcher.url), for a test to open like a member;
and the outbox folder an in-process app writes its mail to (IDP_MAIL_URL=outbox:...)."""
from __future__ import annotations

import email
import threading
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from tests.support.servers import free_port


class MailCatcher:
    """Start it with `with MailCatcher() as catcher:`; the server stops when the block ends."""

    def __init__(self):
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.messages: list[EmailMessage] = []
        self._arrived = threading.Condition()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:
        """aiosmtpd's hook, on the server's own thread: keep the message, wake waiting tests."""
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 OK"

    def mails_to(self, to: str) -> list[EmailMessage]:
        """Every message to `to` so far, oldest first."""
        with self._arrived:
            return [message for message in self.messages if to.lower() in message["To"].lower()]

    def wait_for_mail(self, to: str, *, seconds: float = 10, after: int = 0) -> EmailMessage:
        """The newest message to `to`, waiting up to `seconds` until more than `after` of them have
        arrived (pass `len(catcher.mails_to(to))` taken earlier to wait for the next one)."""
        deadline = time.monotonic() + seconds
        with self._arrived:
            while True:
                found = [message for message in self.messages if to.lower() in message["To"].lower()]
                if len(found) > after:
                    return found[-1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no mail to {to} within {seconds} s; caught: "
                                         f"{[(m['To'], m['Subject']) for m in self.messages]}")
                self._arrived.wait(left)

    def __enter__(self) -> MailCatcher:
        self._controller.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._controller.stop()


def text_part(message: EmailMessage) -> str:
    """The plain-text body as a text-only mail client shows it (CRLF made plain lines)."""
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def html_part(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def outbox(settings) -> list[EmailMessage]:
    """Mails delivered to the test outbox, oldest first."""
    folder = Path(settings.mail_url.removeprefix("outbox:"))
    return [email.message_from_bytes(path.read_bytes(), policy=policy.default)
            for path in sorted(folder.glob("*.eml"))]
