"""The redirect: `GET /<slug>` answers 302 to the code's current destination and counts the scan.

`Redirector.decide` is the one place that says what a request for a link gets (smart
destinations included); `Redirector.follow` applies it and counts the scan. Both the WSGI
fast path (openqr.redirect.fastpath) and the view below call them.
"""

import time

from flask import Blueprint, Response, current_app, request

from ..codes import smart
from ..scans import classify
from ..scans.recorder import ScanRecorder
from ..services import services
from ..web.pages import plain_page
from . import links

bp = Blueprint("redirect", __name__)


def counts_as_scan(environ: dict) -> bool:
    """A scan is a GET from a person: HEAD requests, crawlers and preview bots are not counted."""
    return environ["REQUEST_METHOD"] == "GET" and not classify.is_bot(environ.get("HTTP_USER_AGENT", ""))


_NOBODY = classify.Visitor()


class Redirector:
    """What the redirect needs of one app: its link table, visitor classifier and scan recorder."""

    __slots__ = ("classifier", "recorder", "table")

    def __init__(self, table: links.LinkTable, classifier: classify.ScanClassifier, recorder: ScanRecorder):
        self.table, self.classifier, self.recorder = table, classifier, recorder

    def decide(self, link: links.Link, environ: dict, now: float) -> tuple[int, str | None, str | None]:
        """What a request for `link` gets at `now` (Unix time): (status, Location or None for a
        page, the destination a scan records, None once ended). A smart link is decided from
        memory (no query): the visitor's facts are computed only when a rule reads them."""
        if link.status != "active":
            return 410, None, None
        plan = link.plan
        if plan is None:
            return 302, link.location, link.destination
        visitor = self.classifier.visitor(plan.needs, environ) if plan.needs else _NOBODY
        scans_so_far = self.table.scans_of(link.code_id) if plan.max_scans is not None else 0
        location, destination, _ended = smart.decide(plan, link.destination, visitor, now, scans_so_far)
        if location is None:
            return 410, None, None  # ended, with no fallback: the view renders the page
        return 302, links.location_of(location), destination

    def follow(self, link: links.Link, environ: dict, counts) -> tuple[int, str | None]:
        """Decide, and count the scan when the visitor is sent on to a live destination (`counts`:
        openqr.ops.metrics' redirect counters; an answer without a Location is counted by the view that
        renders its page). An ended code's fallback is not a scan: the cap would keep growing."""
        status, location, destination = self.decide(link, environ, time.time())
        if location is not None:
            if destination is None:
                next(counts.ended)  # an ended code's fallback: the visitor is sent on, not counted
            elif counts_as_scan(environ):
                self.recorder.add(link.code_id, environ, destination)
                next(counts.scan)
                if link.plan is not None and link.plan.max_scans is not None:
                    self.table.count(link.code_id)
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


@bp.route("/<slug>", methods=["GET", "HEAD"])
def follow(slug: str):
    """Send the visitor on; count GETs from people (not HEAD, not crawlers or preview bots)."""
    link = links.resolve(slug)  # DatabaseUnavailable: a 503 page (openqr.ops.outage)
    found = services(current_app)
    counts = found.metrics.routed  # redirects answered here, by outcome
    if link is None:
        next(counts.not_found)
        return plain_page("redirect/not_found.html", 404)
    status, location = found.redirector.follow(link, request.environ, counts)
    if location is None:
        next(counts.ended)
        # Switched off by the operator, or ended by its owner (expired or at its scan cap).
        page = "redirect/disabled.html" if link.status == "disabled" else "redirect/ended.html"
        return plain_page(page, status)
    return Response(b"", status, redirect_headers(location))
