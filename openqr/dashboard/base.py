"""The dashboard blueprint itself: sign-in requirement, error pages, template filters."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, make_response, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy import select

from ..codes import core as codes
from ..errors import DomainError
from ..extensions import db, login_manager
from ..models import Code, utcnow
from ..text import iso_z
from ..web.htmx import is_htmx, vary_on_htmx

bp = Blueprint("dashboard", __name__)
bp.after_request(vary_on_htmx)


@bp.before_request
def require_sign_in():
    """Every dashboard page belongs to a signed-in account."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


@bp.get("/")
def index():
    """The front door: the overview once the account has codes, else the codes page to make one."""
    has_codes = db.session.scalar(select(Code.id).where(Code.account_id == current_user.id).limit(1))
    return redirect(url_for("dashboard.overview" if has_codes else "dashboard.codes"))


def _respond(template: str, status: int, title: str, message: str):
    """A readable error: the fragment for HTMX (swapped in place), the full page otherwise."""
    return make_response(render_template(template, title=title, message=message, status=status), status)


@bp.errorhandler(DomainError)
def domain_error(err: DomainError):
    titles = {404: "Not found", 409: "Already taken", 429: "Slow down"}
    response = _respond(
        "errors/_error.html" if is_htmx() else "errors/error.html",
        err.status,
        titles.get(err.status, "That did not work"),
        err.message,
    )
    response.headers.update(getattr(err, "headers", {}) or {})
    return response


@bp.app_errorhandler(CSRFError)
def csrf_error(err: CSRFError):
    """A stale or missing CSRF token: say how to recover instead of a bare 400."""
    return _respond(
        "errors/_error.html" if is_htmx() else "errors/error.html",
        400,
        "Please reload the page",
        "This form expired or was sent from elsewhere (missing security token). Reload and try again.",
    )


@bp.app_template_filter("ago")
def ago(moment: dt.datetime | None) -> Markup:
    """'3 hours ago' inside a <time> whose datetime and title carry the exact UTC time."""
    if moment is None:
        return Markup("never")
    seconds = int((utcnow() - moment).total_seconds())
    iso = iso_z(moment)
    if seconds < 45:
        text = "just now"
    else:
        for unit, size in (
            ("year", 31536000),
            ("month", 2592000),
            ("day", 86400),
            ("hour", 3600),
            ("minute", 60),
        ):
            if seconds >= size:
                n = round(seconds / size) if unit == "minute" else seconds // size
                text = f"{n} {unit}{'s' if n != 1 else ''} ago"
                break
        else:
            text = "1 minute ago"
    return Markup('<time datetime="{0}" title="{0} UTC">{1}</time>').format(iso, text)


@bp.app_template_filter("short_url")
def short_url(code) -> str:
    """The link a code's image encodes: `{{ code|short_url }}`."""
    return codes.short_url(code)


@bp.app_template_filter("thousands")
def thousands(n: int) -> str:
    """A scan count with thousands separators: 20,000."""
    return f"{n:,}"


@bp.app_template_filter("colour_input")
def colour_input(value: str | None, default: str) -> str:
    """A saved colour as <input type=color> needs it: #rrggbb, lower case (transparent -> default)."""
    if not value or not value.startswith("#"):
        return default
    value = value.lower()
    return "#" + "".join(ch * 2 for ch in value[1:]) if len(value) == 4 else value


@bp.app_template_global("code_status")
def code_status(code, lifetime_scans: int) -> str:
    """active, ended or disabled, for marking codes in the list."""
    return codes.status_of(code, lifetime_scans)
