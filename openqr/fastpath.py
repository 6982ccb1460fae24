"""A thin WSGI layer in front of Flask for the one hot path: `GET`/`HEAD /<slug>` of a known link.

It answers only when the slug is in the link cache, active, and Flask's redirect view has
already answered once (the layer copies that answer's status and headers, so both paths
send the same bytes). Everything else, including the first scan of a slug, unknown and
disabled slugs, goes to Flask, where the redirect blueprint stays the one place that
decides what a redirect does; the layer reuses its decision (`counts_as_scan`).
"""

from __future__ import annotations

from functools import lru_cache

from flask import Flask
from werkzeug.urls import iri_to_uri

from . import links, metrics
from .redirect import LEARN_KEY, count_scan, counts_as_scan, route

_location = lru_cache(maxsize=4096)(iri_to_uri)  # what werkzeug sends as Location for a destination


class FastPath:
    """WSGI middleware: `app.wsgi_app = FastPath(app, app.wsgi_app)`."""

    def __init__(self, app: Flask, wsgi_app):
        self.wsgi_app = wsgi_app
        self.cache = links.cache_of(app)
        self.recorder = app.extensions["openqr.recorder"]
        self.classifier = app.extensions["openqr.classifier"]
        self.counts = metrics.metrics_of(app).fast  # redirects answered here, by outcome
        self.answer: tuple[str, list[tuple[str, str]]] | None = None  # learned from Flask's redirect

    def __call__(self, environ, start_response):
        answer = self.answer
        method = environ["REQUEST_METHOD"]
        if method == "GET" or method == "HEAD":
            path = environ.get("PATH_INFO", "")
            slug = path[1:]
            if answer is not None and slug and "/" not in slug and path[0] == "/":
                link = self.cache.get(slug)
                if link is not None and link.status == "active":
                    if link.plan is None:
                        location = link.destination
                        if counts_as_scan(environ):
                            self.recorder.add(link.code_id, environ, location)
                            next(self.counts.scan)
                        else:
                            next(self.counts.bot)
                    else:
                        decision = route(link, environ, self.cache, self.classifier)
                        location = decision.location
                        if location is not None:  # an ended code without fallback: Flask's 410 page
                            count_scan(link, environ, decision, self.cache, self.recorder, self.counts)
                    if location is not None:
                        status, headers = answer
                        start_response(status, [("Location", _location(location)), *headers])
                        return [b""]
            if answer is None:
                return self.wsgi_app(environ, self._learning(environ, start_response))
        return self.wsgi_app(environ, start_response)

    def _learning(self, environ, start_response):
        """Wrap start_response to keep the status and headers of the redirect view's answer."""

        def learn(status, headers, exc_info=None):
            if environ.get(LEARN_KEY) and status.startswith("302") and exc_info is None:
                kept = [(name, value) for name, value in headers if name.lower() != "location"]
                # A cookie belongs to one visitor: an answer that sets one is not a template.
                if not any(name.lower() == "set-cookie" for name, _ in kept):
                    self.answer = (status, kept)
            return start_response(status, headers, exc_info)

        return learn


def init_app(app: Flask) -> None:
    app.wsgi_app = FastPath(app, app.wsgi_app)
