"""Sign-in views: ask for a link, confirm it, sign out."""

from __future__ import annotations

import logging
import smtplib

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from ..errors import RateLimited
from ..extensions import login_manager
from ..models import Account
from ..services import current_services
from ..web.htmx import hx_redirect, is_htmx, vary_on_htmx
from ..web.pages import safe_next
from . import accounts, mail, tokens

bp = Blueprint("auth", __name__)
bp.after_request(vary_on_htmx)  # sign-out and the sign-in redirect answer HTMX differently

log = logging.getLogger("openqr.auth")


@login_manager.user_loader
def load_user(user_id: str) -> Account | None:
    """The account of a session cookie, if its session_version is still current (sign-out bumps it)."""
    return accounts.account_of_session(user_id)


@login_manager.unauthorized_handler
def unauthorized():
    """Pages need a signed-in person: send them to the sign-in page and back afterwards."""
    target = url_for("auth.login", next=request.full_path.rstrip("?"))
    if is_htmx():
        return hx_redirect(target)
    return redirect(target)


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
    email = accounts.clean_email(typed)
    if email is None:
        return render_template(
            "auth/login.html",
            next=next_path,
            email=typed.strip()[: accounts.MAX_EMAIL_LENGTH],
            error="Enter an email address such as you@example.com.",
        ), 400
    client = current_services().classifier.client_address(request.environ)
    try:
        accounts.count_sign_in_request(email, client)
    except RateLimited as err:
        page = render_template("auth/too_many.html", minutes=-(-err.retry_after // 60))
        return page, 429, {"Retry-After": str(err.retry_after)}
    if accounts.may_sign_in(email):
        _send_link(email, next_path)
    else:
        log.info("Sign-in refused by the sign-up policy for %s", email)
    return render_template("auth/sent.html", email=email, mail_configured=mail.configured(current_app.config))


@bp.route("/login/<token>", methods=["GET", "POST"])
def confirm(token: str):
    """GET shows a button (mail scanners prefetch links); POST uses the link once and signs in."""
    next_path = safe_next(request.values.get("next"))
    try:
        if request.method == "GET":
            row = tokens.peek(token)
            return render_template("auth/confirm.html", email=row.email, token=token, next=next_path)
        account = accounts.sign_in(tokens.use(token))
    except tokens.BadLink as err:
        return render_template("auth/bad_link.html", message=str(err)), 400
    except accounts.NotAllowed as err:
        return render_template("auth/bad_link.html", message=err.message), 403
    login_user(account)
    return redirect(next_path or url_for("dashboard.index"), 303)


@bp.post("/logout")
def logout():
    """Sign out here and everywhere: bumping session_version voids every earlier session cookie."""
    if current_user.is_authenticated:
        accounts.end_sessions(current_user.id)
    logout_user()
    return hx_redirect(url_for("auth.login", signed_out=1))
