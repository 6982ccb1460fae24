"""Sign-in mail goes out from the mail thread: the answer never waits for the mail server, and a
request does the same work whether or not the address has an account."""

from __future__ import annotations

import asyncio
import logging
import re
import threading

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import event

from openqr.auth import mail
from openqr.auth.accounts import get_or_create_account
from openqr.extensions import db
from openqr.services import services
from tests.support.htmlparse import Page
from tests.support.mailsink import Sink
from tests.support.servers import free_port


class HeldSink(Sink):
    """An SMTP server that holds every message's DATA until the test lets it go."""

    def __init__(self):
        super().__init__()
        self.holding, self.release = threading.Event(), threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.holding.set()
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def held_smtp():
    sink = HeldSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield sink, controller.port
    finally:
        sink.release.set()
        controller.stop()


def test_the_answer_does_not_wait_for_the_mail_server_and_the_mail_still_arrives(web_app, held_smtp):
    sink, port = held_smtp
    web_app.config.update(OPENQR_SMTP_HOST="127.0.0.1", OPENQR_SMTP_PORT=port, OPENQR_SMTP_SECURITY="none")
    client = web_app.test_client()
    answers = []
    asking = threading.Thread(
        target=lambda: answers.append(client.post("/login", data={"email": "a@example.com"}))
    )
    asking.start()
    assert sink.holding.wait(10)  # the mail server has the message and is holding it...
    asking.join(5)
    assert not asking.is_alive() and answers[0].status_code == 200  # ...and the answer is already out
    assert "Check your email" in Page(answers[0].text).text
    assert sink.messages == []
    sink.release.set()
    link = sink.link_for("a@example.com")
    path = re.search(r"http://qr\.test(/login/\S+)", link).group(1)
    assert client.post(path).status_code == 303  # the mailed link signs in


def _statements_of_this_thread(app):
    """The SQL a request run in this thread sends (the mail thread's statements are not its)."""
    seen, me = [], threading.get_ident()

    def record(_conn, _cursor, statement, _parameters, _context, _many):
        if threading.get_ident() == me:
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    return seen, lambda: event.remove(engine, "before_cursor_execute", record)


def test_a_request_does_the_same_work_whether_or_not_the_address_has_an_account(web_app, caplog):
    web_app.config["OPENQR_SIGNUPS"] = "closed"
    with web_app.app_context():
        get_or_create_account("known@example.com")
        db.session.commit()
    client = web_app.test_client()
    client.post("/login", data={"email": "warm-up@example.com"})  # first-request set-up, not counted
    queue = services(web_app).mail
    assert queue.wait_idle()
    work = {}
    for email in ("known@example.com", "unknown@example.com"):
        seen, stop = _statements_of_this_thread(web_app)
        try:
            with caplog.at_level(logging.INFO, logger="openqr.auth"):
                caplog.clear()
                response = client.post("/login", data={"email": email})
                assert queue.wait_idle()
        finally:
            stop()
        assert response.status_code == 200
        work[email] = (
            seen,
            "sign-in link for" in caplog.text,
            "refused by the sign-up policy" in caplog.text,
        )
    assert work["known@example.com"][0] == work["unknown@example.com"][0] != []
    assert work["known@example.com"][1:] == (True, False)  # the link went out for the account...
    assert work["unknown@example.com"][1:] == (False, True)  # ...and not for the stranger


def test_the_queue_runs_every_job_before_it_stops_and_survives_a_failing_one(web_app, caplog):
    queue = mail.MailQueue(web_app, capacity=2)
    ran, started, go_on = [], threading.Event(), threading.Event()

    def first():
        started.set()
        go_on.wait(10)
        ran.append("first")

    def fails():
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="openqr.auth.mail"):
        queue.put(first)
        assert started.wait(10)  # the thread is busy with the first job; two more fit behind it
        queue.put(fails)
        queue.put(lambda: ran.append("after the failure"))
        queue.put(lambda: ran.append("one too many"))
        go_on.set()
        queue.stop()
    assert ran == ["first", "after the failure"]
    assert "A sign-in email job failed" in caplog.text and "RuntimeError: boom" in caplog.text
    assert "The mail queue is full (2 jobs): a sign-in email was not sent" in caplog.text
    queue.put(lambda: ran.append("later"))  # a stopped queue starts again when given work
    assert queue.wait_idle() and ran[-1] == "later"
    queue.stop()
