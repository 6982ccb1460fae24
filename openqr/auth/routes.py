"""Sign-in views: ask for a link, confirm it, sign out."""

from __future__ import annotations

import fnmatch
import logging
import smtplib

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from .. import keys, mail
from ..dashboard.htmx import hx_redirect, is_htmx
from ..extensions import db, login_manager
from ..models import Account
from . import tokens
from .throttle import Throttle

bp = Blueprint("auth", __name__)

log = logging.getLogger("openqr.auth")


@login_manager.user_loader
def load_user(user_id: str) -> Account | None:
    """The account of a session cookie, if its session_version is still current (sign-out bumps it)."""
    account_id, _, version = user_id.partition(":")
    if not account_id.isdigit() or not version.isdigit():
        return None
    account = db.session.get(Account, int(account_id))
    if account is None or account.session_version != int(version):
        return None
    return account


@login_manager.unauthorized_handler
def unauthorized():
    """Pages need a signed-in person: send them to the sign-in page and back afterwards."""
    target = url_for("auth.login", next=request.full_path.rstrip("?"))
    if is_htmx():
        return hx_redirect(target)
    return redirect(target)


def _throttle() -> Throttle:
    return current_app.extensions.setdefault("openqr.login_throttle", Throttle())


def safe_next(value: str | None) -> str | None:
    """Only a path on this site: never another host (`//evil`, `/\\evil`, `https://...`)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    # Browsers drop tabs and newlines from URLs: "/\t/evil.example" would become "//evil.example".
    if any(ch < " " or ch == "\x7f" for ch in value):
        return None
    return value


def may_sign_in(email: str) -> bool:
    """Whether the sign-up policy and address patterns let `email` in."""
    config = current_app.config
    patterns = config.get("OPENQR_ALLOWED_EMAILS") or ()
    if patterns and not any(fnmatch.fnmatchcase(email, pattern) for pattern in patterns):
        return False
    if config.get("OPENQR_SIGNUPS") == "closed":
        return db.session.execute(select(Account.id).where(Account.email == email)).first() is not None
    return True


def _send_link(email: str, next_path: str | None) -> None:
    link = current_app.config["OPENQR_BASE_URL"] + url_for(
        "auth.confirm", token=tokens.issue(email), next=next_path
    )
    context = {"link": link, "minutes": tokens.MAX_AGE // 60}
    if not mail.configured(current_app.config):
        log.warning("No SMTP host configured; sign-in link for %s: %s", email, link)
        return
    try:
        mail.send(
            current_app.config,
            email,
            "Your OpenQR sign-in link",
            render_template("mail/login.txt", **context),
            render_template("mail/login.html", **context),
        )
    except (smtplib.SMTPException, OSError) as err:
        # The page must not differ (it would reveal the account); the operator needs to know.
        log.error("Could not send the sign-in email to %s: %s", email, err)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form: an allowed address gets a link; the page never says whether it has an account."""
    next_path = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(next_path or url_for("dashboard.index"))
        return render_template("auth/login.html", next=next_path)
    typed = request.form.get("email", "")
    email = keys.clean_email(typed)
    if email is None:
        return render_template(
            "auth/login.html",
            next=next_path,
            email=typed.strip()[:254],
            error="Enter an email address such as you@example.com.",
        ), 400
    config = current_app.config
    client = current_app.extensions["openqr.classifier"].client_address(request.environ)
    wait = _throttle().hit("client:" + client, config["OPENQR_LOGIN_LIMIT_PER_CLIENT"]) or _throttle().hit(
        "email:" + email, config["OPENQR_LOGIN_LIMIT_PER_EMAIL"]
    )
    if wait:
        response = current_app.make_response(
            (render_template("auth/too_many.html", minutes=-(-wait // 60)), 429)
        )
        response.headers["Retry-After"] = str(wait)
        return response
    if may_sign_in(email):
        _send_link(email, next_path)
    else:
        log.info("Sign-in refused by the sign-up policy for %s", email)
    return render_template("auth/sent.html", email=email, mail_configured=mail.configured(config))


@bp.route("/login/<token>", methods=["GET", "POST"])
def confirm(token: str):
    """GET shows a button (mail scanners prefetch links); POST uses the link once and signs in."""
    next_path = safe_next(request.values.get("next"))
    try:
        if request.method == "GET":
            row = tokens.peek(token)
            return render_template("auth/confirm.html", email=row.email, token=token, next=next_path)
        email = tokens.use(token)
    except tokens.BadLink as err:
        return render_template("auth/bad_link.html", message=str(err)), 400
    if not may_sign_in(email):
        db.session.rollback()
        return render_template("auth/bad_link.html", message="This address may not sign in here."), 403
    account = keys.get_or_create_account(email)
    db.session.commit()
    login_user(account)
    return redirect(next_path or url_for("dashboard.index"), 303)


@bp.post("/logout")
def logout():
    """Sign out here and everywhere: bumping session_version voids every earlier session cookie."""
    if current_user.is_authenticated:
        account = db.session.get(Account, current_user.id)
        account.session_version += 1
        db.session.commit()
    logout_user()
    return hx_redirect(url_for("auth.login", signed_out=1))
