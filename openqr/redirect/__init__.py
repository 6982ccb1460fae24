"""The redirect: `GET /<slug>` answers 302 to the code's current destination and counts the scan.

`decide` is the one place that says what a request for a link gets; `follow_link` applies it
(and counts the scan). Both the WSGI fast path (openqr.fastpath) and the view below call them.
"""

import time

from flask import Blueprint, Response, current_app, request, url_for

from .. import links, metrics, scans

bp = Blueprint("redirect", __name__)


def counts_as_scan(environ: dict) -> bool:
    """A scan is a GET from a person: HEAD requests, crawlers and preview bots are not counted."""
    return environ["REQUEST_METHOD"] == "GET" and not scans.is_bot(environ.get("HTTP_USER_AGENT", ""))


def decide(link: links.Link, environ: dict, now: float) -> tuple[int, str | None]:
    """What a request for `link` gets at `now` (Unix time): (status, Location) or (status, None)
    for a page. The visitor's request is in `environ`."""
    if link.status != "active":
        return 410, None
    return 302, link.location


def follow_link(link: links.Link, environ: dict, recorder, counts) -> tuple[int, str | None]:
    """Decide, and count the scan when the visitor is sent on (`counts`: openqr.metrics' redirect
    counters; an answer without a Location is counted by the view that renders its page)."""
    status, location = decide(link, environ, time.time())
    if location is not None:
        if counts_as_scan(environ):
            recorder.add(link.code_id, environ)
            next(counts.scan)
        else:
            next(counts.bot)
    return status, location


def redirect_headers(location: str) -> list[tuple[str, str]]:
    """The headers of every redirect answer, from the fast path and from Flask alike."""
    return [
        ("Location", location),
        ("Cache-Control", "no-store"),
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Length", "0"),
        ("X-Content-Type-Options", "nosniff"),
        ("Vary", "Cookie"),  # Flask's view sends it anyway (Flask-Login reads the session after it)
    ]


def plain_page(template: str, status: int, headers: dict | None = None):
    """A stand-alone page for visitors: rendered without the dashboard's context (no session look-up)."""
    html = current_app.jinja_env.get_template(template).render(url_for=url_for)
    return (
        html,
        status,
        {"Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8", **(headers or {})},
    )


@bp.route("/<slug>", methods=["GET", "HEAD"])
def follow(slug: str):
    """Send the visitor on; count GETs from people (not HEAD, not crawlers or preview bots)."""
    link = links.resolve(slug)  # DatabaseUnavailable: a 503 page (openqr.outage)
    counts = metrics.metrics_of(current_app).routed  # redirects answered here, by outcome
    if link is None:
        next(counts.not_found)
        return plain_page("redirect/not_found.html", 404)
    status, location = follow_link(link, request.environ, current_app.extensions["openqr.recorder"], counts)
    if location is None:
        next(counts.ended)
        return plain_page("redirect/disabled.html", status)
    return Response(b"", status, redirect_headers(location))
