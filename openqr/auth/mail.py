"""Outgoing mail over SMTP (plain text plus HTML), configured by the OPENQR_SMTP_* settings."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
TIMEOUT = 15


def configured(config) -> bool:
    """True when an SMTP host is set; without one, callers log what they would send."""
    return bool(config.get("OPENQR_SMTP_HOST"))


def build_message(config, to: str, subject: str, text: str, html: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config["OPENQR_MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="openqr")
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def send(config, to: str, subject: str, text: str, html: str) -> None:
    """Send one message; raises smtplib.SMTPException or OSError when the server refuses or is down."""
    message = build_message(config, to, subject, text, html)
    security = config["OPENQR_SMTP_SECURITY"]
    host = config["OPENQR_SMTP_HOST"]
    port = config.get("OPENQR_SMTP_PORT") or DEFAULT_PORTS[security]
    context = ssl.create_default_context()
    if security == "tls":
        smtp = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=TIMEOUT)
    with smtp:
        if security == "starttls":
            smtp.starttls(context=context)
        if config.get("OPENQR_SMTP_USER"):
            smtp.login(config["OPENQR_SMTP_USER"], config.get("OPENQR_SMTP_PASSWORD") or "")
        smtp.send_message(message)
