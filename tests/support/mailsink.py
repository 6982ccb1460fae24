"""A real SMTP server for tests (aiosmtpd on a free local port) that keeps what it receives."""

from __future__ import annotations

import email
import re
import time
from email import policy


class Sink:
    """aiosmtpd handler that keeps every message it receives."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def message_to(self, address: str, timeout: float = 10) -> email.message.EmailMessage:
        """The newest message to `address` (waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in reversed(self.messages):
                if message["To"] == address:
                    return message
            time.sleep(0.05)
        raise AssertionError(f"no mail to {address}")

    def link_for(self, address: str, timeout: float = 10) -> str:
        """The sign-in link of the newest message to `address` (waits for it)."""
        text = self.message_to(address, timeout).get_body(("plain",)).get_content()
        return re.search(r"(http://\S+/login/\S+)", text).group(1)
