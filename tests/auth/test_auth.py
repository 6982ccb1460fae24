"""Magic-link sign-in: the link, its expiry and single use, sign-up policy, throttling, sign-out."""

from __future__ import annotations

import datetime as dt
import logging
import re

import itsdangerous.timed
import pytest
from sqlalchemy import select

from openqr.auth.accounts import get_or_create_account
from openqr.extensions import db
from openqr.models import Account, LoginToken, utcnow
from openqr.services import services
from tests.support.htmlparse import Page
from tests.support.servers import free_port


@pytest.fixture
def web(web_app):
    return web_app.test_client()


def request_link(client, caplog, email="person@example.com") -> str | None:
    """Ask for a link; return its path as logged (no SMTP configured), or None when none was sent."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="openqr.auth"):
        response = client.post("/login", data={"email": email})
        assert services(client.application).mail.wait_idle()  # the mail thread has done its part
    assert response.status_code in (200, 429)
    found = re.search(r"http://qr\.test(/login/\S+)", caplog.text)
    return found.group(1) if found else None


def test_front_door_goes_to_sign_in(web):
    response = web.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    page = Page(web.get("/login").text)
    assert page.has("input", name="email", type="email")
    assert page.has("label", for_="f-email")
    assert "Sign in to OpenQR" in page.text


def test_link_signs_in_once(web, caplog):
    path = request_link(web, caplog)
    assert path
    confirm = web.get(path)  # a prefetching mail scanner does only this
    assert confirm.status_code == 200
    assert Page(confirm.text).has("button", type="submit")
    assert web.get(path).status_code == 200  # still unused
    response = web.post(path)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert web.get("/codes").status_code == 200
    again = web.post(path)
    assert again.status_code == 400
    assert "already used" in Page(again.text).text


def test_link_expires_after_15_minutes(web, caplog, monkeypatch):
    path = request_link(web, caplog)
    real = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() + 15 * 60 + 5)
    response = web.post(path)
    assert response.status_code == 400
    assert "expired" in Page(response.text).text
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() + 14 * 60)
    assert web.post(path).status_code == 303


def test_wrong_signature_is_refused(web, caplog):
    path = request_link(web, caplog)
    token = path.rsplit("/", 1)[1]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    response = web.post("/login/" + forged)
    assert response.status_code == 400
    assert "not valid" in Page(response.text).text
    assert web.get("/codes").status_code == 302


def test_same_page_whether_or_not_the_account_exists(web_app, web, caplog):
    web_app.config["OPENQR_SIGNUPS"] = "closed"
    with web_app.app_context():
        get_or_create_account("known@example.com")
        db.session.commit()
    known = web.post("/login", data={"email": "known@example.com"})
    unknown = web.post("/login", data={"email": "unknown@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert Page(known.text).text.replace("known@", "X@").replace("unX@", "X@") == Page(
        unknown.text
    ).text.replace("unknown@", "X@")


def test_closed_signups_send_links_only_to_existing_accounts(web_app, web, caplog):
    web_app.config["OPENQR_SIGNUPS"] = "closed"
    assert request_link(web, caplog, "stranger@example.com") is None
    with web_app.app_context():
        get_or_create_account("member@example.com")
        db.session.commit()
    assert request_link(web, caplog, "member@example.com")
    with web_app.app_context():
        assert (
            db.session.execute(select(Account).where(Account.email == "stranger@example.com")).first() is None
        )


@pytest.mark.parametrize(
    "email, allowed",
    [
        ("ann@example.com", True),
        ("ANN@Example.com", True),
        ("ann@example.org", False),
        ("ann@sub.example.com", False),
    ],
)
def test_allowed_email_patterns(web_app, web, caplog, email, allowed):
    web_app.config["OPENQR_ALLOWED_EMAILS"] = ("*@example.com",)
    assert (request_link(web, caplog, email) is not None) is allowed


def test_throttled_per_address_with_readable_429(web_app, web, caplog):
    web_app.config["OPENQR_LOGIN_LIMIT_PER_EMAIL"] = 2
    assert request_link(web, caplog, "a@example.com")
    assert request_link(web, caplog, "a@example.com")
    response = web.post("/login", data={"email": "a@example.com"})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many sign-in requests" in Page(response.text).text
    assert request_link(web, caplog, "b@example.com")  # another address is not held up


def test_throttled_per_client(web_app, web):
    web_app.config["OPENQR_LOGIN_LIMIT_PER_CLIENT"] = 3
    statuses = [web.post("/login", data={"email": f"p{i}@example.com"}).status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_bad_address_is_explained(web):
    response = web.post("/login", data={"email": "not-an-email"})
    assert response.status_code == 400
    assert "Enter an email address" in Page(response.text).text


def test_sign_out_kills_old_cookies(web_app, web, caplog):
    web.post(request_link(web, caplog))
    stolen = web_app.test_client()
    stolen.set_cookie("session", web.get_cookie("session").value, domain="localhost")
    assert stolen.get("/codes").status_code == 200
    response = web.post("/logout")
    assert response.status_code == 303
    assert web.get("/codes").status_code == 302
    assert stolen.get("/codes").status_code == 302  # the copied cookie died with the session version


def test_logged_link_when_no_smtp(web, caplog):
    path = request_link(web, caplog)
    assert path and any(r.levelno == logging.WARNING and r.name == "openqr.auth" for r in caplog.records)


def test_the_mail_reaches_an_smtp_server_with_text_and_html_parts(web_app, web, smtp):
    sink, port = smtp
    web_app.config.update(OPENQR_SMTP_HOST="127.0.0.1", OPENQR_SMTP_PORT=port, OPENQR_SMTP_SECURITY="none")
    page = Page(web.post("/login", data={"email": "mail@example.com"}).text)
    assert "Check your email" in page.text and "server's log" not in page.text
    message = sink.message_to("mail@example.com")
    assert message["Subject"] == "Your OpenQR sign-in link"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    text = message.get_body(("plain",)).get_content()
    path = re.search(r"http://qr\.test(/login/\S+)", text).group(1)
    assert f'href="http://qr.test{path}' in message.get_body(("html",)).get_content().replace("&amp;", "&")
    assert web.post(path).status_code == 303  # the mailed link signs in


def test_next_is_kept_but_only_on_this_site(web, caplog):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="openqr.auth"):
        web.post("/login", data={"email": "n@example.com", "next": "//evil.example/x"})
        assert services(web.application).mail.wait_idle()
    path = re.search(r"http://qr\.test(/login/\S+)", caplog.text).group(1)
    assert "evil" not in path
    assert web.post(path).headers["Location"] == "/"  # the front door: overview, or codes for a new account


def test_an_address_with_a_control_character_is_refused_readably(web):
    response = web.post("/login", data={"email": "a\x00b@example.com"})
    assert response.status_code == 400
    assert "Enter an email address" in response.get_data(as_text=True)


def test_without_smtp_the_sent_page_says_where_the_link_went(web, web_app):
    """A local install has no mail server: the page points at the server's log."""
    page = Page(web.post("/login", data={"email": "person@example.com"}).text)
    assert "Check your email" in page.text and "written to the server's log" in page.text
    web_app.config["OPENQR_SMTP_HOST"] = "127.0.0.1"
    web_app.config["OPENQR_SMTP_PORT"] = (
        free_port()
    )  # nothing listens: the send fails, the page stays the same
    page = Page(web.post("/login", data={"email": "other@example.com"}).text)
    assert "Check your email" in page.text and "server's log" not in page.text


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "/\\evil.example", "/\t/evil.example", "/\n/evil.example", "https://evil.example/"],
)
def test_next_never_leads_off_site(target):
    from openqr.auth.routes import safe_next

    assert safe_next(target) is None
    assert safe_next("/codes?tag=menu") == "/codes?tag=menu"


def test_links_past_their_15_minutes_are_forgotten(web_app, web, caplog):
    """Sign-in links leave no rows behind once they can no longer work."""
    with web_app.app_context():
        old = utcnow() - dt.timedelta(minutes=16)
        db.session.add_all(LoginToken(id=f"old-{i}", email="x@example.com", created_at=old) for i in range(5))
        db.session.add(LoginToken(id="recent", email="y@example.com", created_at=utcnow()))
        db.session.commit()
    assert request_link(web, caplog)
    with web_app.app_context():
        ids = set(db.session.execute(select(LoginToken.id)).scalars())
    assert "recent" in ids and len(ids) == 2 and not any(i.startswith("old-") for i in ids)
