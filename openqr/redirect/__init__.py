"""The redirect: `GET /<slug>` answers 302 to the code's current destination and counts the scan."""

from flask import Blueprint, current_app, request, url_for

from .. import links, scans

bp = Blueprint("redirect", __name__)

LEARN_KEY = "openqr.redirect"  # set on the environ of a redirect answer, for the fast path


def counts_as_scan(environ: dict) -> bool:
    """A scan is a GET from a person: HEAD requests, crawlers and preview bots are not counted."""
    return environ["REQUEST_METHOD"] == "GET" and not scans.is_bot(environ.get("HTTP_USER_AGENT", ""))


def plain_page(template: str, status: int):
    """A stand-alone page for visitors: rendered without the dashboard's context (no session look-up)."""
    html = current_app.jinja_env.get_template(template).render(url_for=url_for)
    return html, status, {"Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8"}


@bp.route("/<slug>", methods=["GET", "HEAD"])
def follow(slug: str):
    """Send the visitor on; count GETs from people (not HEAD, not crawlers or preview bots)."""
    link = links.resolve(slug)
    if link is None:
        return plain_page("redirect/not_found.html", 404)
    if link.status != "active":
        return plain_page("redirect/disabled.html", 410)
    if counts_as_scan(request.environ):
        scans.record_scan(link.code_id, request.environ)
    request.environ[LEARN_KEY] = True  # openqr.fastpath answers the next scans of this link the same way
    return "", 302, {"Location": link.destination, "Cache-Control": "no-store"}
