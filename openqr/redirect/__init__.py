"""The redirect: `GET /<slug>` answers 302 to the code's current destination and counts the scan."""

import time

from flask import Blueprint, current_app, request, url_for

from .. import links, metrics, scans, smart

bp = Blueprint("redirect", __name__)

LEARN_KEY = "openqr.redirect"  # set on the environ of a redirect answer, for the fast path


def counts_as_scan(environ: dict) -> bool:
    """A scan is a GET from a person: HEAD requests, crawlers and preview bots are not counted."""
    return environ["REQUEST_METHOD"] == "GET" and not scans.is_bot(environ.get("HTTP_USER_AGENT", ""))


_NOBODY = smart.Visitor()


def route(link: links.Link, environ: dict, cache: links.LinkCache, classifier: scans.ScanClassifier):
    """Where this request goes: the one decision for the Flask view and the fast path.

    A plain link goes to its destination; a smart one is decided by `smart.decide` from the
    in-memory link (no query): the visitor's facts are computed only when a rule reads them.
    """
    plan = link.plan
    if plan is None:
        return smart.Decision(link.destination, link.destination)
    visitor = classifier.visitor(plan.needs, environ) if plan.needs else _NOBODY
    count = cache.scans_of(link) if plan.max_scans is not None else 0
    return smart.decide(plan, link.destination, visitor, time.time(), count)


def count_scan(link: links.Link, environ: dict, decision, cache: links.LinkCache, recorder, counts) -> None:
    """Record a person's scan with where it went (an ended code counts nothing); `counts` are
    the metrics of the path that answered."""
    if decision.destination is None:
        next(counts.ended)
    elif counts_as_scan(environ):
        recorder.add(link.code_id, environ, decision.destination)
        next(counts.scan)
        if link.plan is not None and link.plan.max_scans is not None:
            cache.count(link)
    else:
        next(counts.bot)


def plain_page(template: str, status: int):
    """A stand-alone page for visitors: rendered without the dashboard's context (no session look-up)."""
    html = current_app.jinja_env.get_template(template).render(url_for=url_for)
    return html, status, {"Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8"}


@bp.route("/<slug>", methods=["GET", "HEAD"])
def follow(slug: str):
    """Send the visitor on; count GETs from people (not HEAD, not crawlers or preview bots)."""
    link = links.resolve(slug)
    counts = metrics.metrics_of(current_app).routed  # redirects answered here, by outcome
    if link is None:
        next(counts.not_found)
        return plain_page("redirect/not_found.html", 404)
    if link.status != "active":
        next(counts.ended)
        return plain_page("redirect/disabled.html", 410)
    extensions = current_app.extensions
    cache = links.cache_of(current_app)
    decision = route(link, request.environ, cache, extensions["openqr.classifier"])
    if decision.location is None:
        next(counts.ended)
        return plain_page("redirect/ended.html", 410)
    count_scan(link, request.environ, decision, cache, extensions["openqr.recorder"], counts)
    request.environ[LEARN_KEY] = True  # openqr.fastpath answers the next scans of this link the same way
    return "", 302, {"Location": decision.location, "Cache-Control": "no-store"}
