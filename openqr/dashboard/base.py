"""The dashboard blueprint itself: sign-in requirement, error pages, template filters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from ..auth import roles, workspaces
from ..codes import core as codes
from ..errors import DomainError
from ..extensions import db, login_manager
from ..models import Code, utcnow
from ..ops import security
from ..text import iso_z
from ..web.htmx import is_htmx, vary_on_htmx

bp = Blueprint("dashboard", __name__)
WORKSPACE_KEY = "workspace_id"  # the session's chosen workspace (the switcher sets it)
bp.after_request(vary_on_htmx)


@bp.before_request
def require_sign_in():
    """Every dashboard page belongs to a signed-in person acting in one of their workspaces (the
    one the switcher chose), with a role that may do what the request asks."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    access = workspaces.member_access(current_user, session.get(WORKSPACE_KEY))
    if access is None:
        return _respond(
            "errors/error.html",
            403,
            "No workspace",
            "You are not a member of any workspace here. Ask a workspace's admin for an invitation.",
        )
    g.access, g.workspace = access, access.workspace
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None:
        roles.require_for_request(access, roles.required_role(view, request.method), request.view_args)
    return None


@bp.get("/")
def index():
    """The front door: the overview once the workspace has codes, else the codes page to make one."""
    has_codes = db.session.scalar(select(Code.id).where(Code.workspace_id == g.workspace.id).limit(1))
    return redirect(url_for("dashboard.overview" if has_codes else "dashboard.codes"))


def _respond(template: str, status: int, title: str, message: str):
    """A readable error: the fragment for HTMX (swapped in place), the full page otherwise."""
    return make_response(render_template(template, title=title, message=message, status=status), status)


@bp.errorhandler(DomainError)
def domain_error(err: DomainError):
    titles = {
        403: "Not allowed",
        404: "Not found",
        409: "Already taken",
        429: "Slow down",
        503: "Busy right now",
    }
    response = _respond(
        "errors/_error.html" if is_htmx() else "errors/error.html",
        err.status,
        titles.get(err.status, "That did not work"),
        err.message,
    )
    response.headers.update(getattr(err, "headers", {}) or {})
    return response


# Pages that answer a form over the server's limits themselves (endpoint -> page for a message);
# the others show the error.
TOO_LARGE_PAGES: dict[str, Callable[[str], Response]] = {}


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_err: RequestEntityTooLarge):
    """A form over the body or field limit (Werkzeug refuses it unread): say so, never a bare page."""
    message = security.too_large_message()
    page = TOO_LARGE_PAGES.get(request.endpoint or "")
    if page:
        return page(message)
    return _respond("errors/_error.html" if is_htmx() else "errors/error.html", 413, "Too large", message)


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
