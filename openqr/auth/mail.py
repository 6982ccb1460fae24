"""Outgoing mail over SMTP (plain text plus HTML), configured by the OPENQR_SMTP_* settings, and
the queue that sends it off the request path.

A sign-in request only puts a job on the queue; one thread per process runs the jobs in an app
context (look up the address, issue the link, send or log it). So the answer takes the same time
whether or not the address has an account, and a slow or unreachable mail server never holds a
request (or a waitress thread) up.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from collections import deque
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import make_msgid

from flask import Flask

DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
TIMEOUT = 15
QUEUE_CAPACITY = 1_000  # jobs waiting at most; the sign-in limits keep real use far below
STOP_TIMEOUT = 10.0  # seconds a stopping server gives the queue to send what it holds

log = logging.getLogger(__name__)


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


class MailQueue:
    """Jobs (functions of no arguments) run one at a time by a background thread, in an app context.

    `put` never blocks and never raises; `start` and `stop` are for the process that serves
    (`put` starts the thread when nobody did); `wait_idle` is for tests.
    """

    def __init__(self, app: Flask, capacity: int = QUEUE_CAPACITY):
        self.app, self.capacity = app, capacity
        self._jobs: deque[Callable[[], None]] = deque()
        self._changed = threading.Condition()
        self._busy = self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._changed:
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name="openqr-mail", daemon=True)
                self._thread.start()

    def put(self, job: Callable[[], None]) -> None:
        """Run `job` soon on the mail thread; a full queue drops it, loudly."""
        with self._changed:
            if len(self._jobs) >= self.capacity:
                log.error("The mail queue is full (%d jobs): a sign-in email was not sent", self.capacity)
                return
            self._jobs.append(job)
            self._changed.notify_all()
        self.start()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every job put so far has run; False if that took longer than `timeout`."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._jobs and not self._busy, timeout)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Run what is queued (for at most `timeout` seconds), then end the thread."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.error("Stopped with %d sign-in emails not sent (mail server too slow)", len(self._jobs))

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._jobs or self._stopping)
                if not self._jobs:
                    return  # stopping, and nothing left to send
                job = self._jobs.popleft()
                self._busy = True
            try:
                with self.app.app_context():  # its end returns the job's database session
                    job()
            except Exception:  # a database outage or a bug: say so, keep the thread for the next job
                log.exception("A sign-in email job failed")
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()
