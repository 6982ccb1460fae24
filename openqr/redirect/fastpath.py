"""A thin WSGI layer in front of Flask for the one hot path: `GET`/`HEAD /<slug>` of a known link.

It answers every link of the in-memory table (openqr.redirect.links), looking a slug up once when it
is not there, with the redirect's own decision (`redirect.Redirector`) and headers. Whatever
is not a redirect (unknown slugs, disabled links, an unreachable database, other paths and
methods) goes to Flask, where the redirect view renders the page for it.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.http import HTTP_STATUS_CODES

from ..codes import core as codes
from ..errors import DatabaseUnavailable
from ..services import services
from .views import redirect_headers

STATUS_LINES = {code: f"{code} {phrase.upper()}" for code, phrase in HTTP_STATUS_CODES.items()}  # as werkzeug


class FastPath:
    """WSGI middleware: `app.wsgi_app = FastPath(app, app.wsgi_app)`."""

    def __init__(self, app: Flask, wsgi_app):
        self.wsgi_app = wsgi_app
        found = services(app)
        self.table, self.redirector = found.links, found.redirector
        self.counts = found.metrics.fast  # redirects answered here, by outcome
        with app.app_context():
            self.reserved = codes.reserved_slugs()  # routes of the app itself: never looked up

    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        if method == "GET" or method == "HEAD":
            path = environ.get("PATH_INFO", "")
            slug = path[1:]
            if slug and path[0] == "/" and "/" not in slug:
                table = self.table
                if table.loaded is False:
                    table.start()
                link = table.get(slug)
                if link is None and slug.lower() not in self.reserved:
                    try:
                        link = table.find(slug)
                    except DatabaseUnavailable:
                        link = None  # Flask's view answers the 503 page
                if link is not None:
                    status, location = self.redirector.follow(link, environ, self.counts)
                    if location is not None:
                        start_response(STATUS_LINES[status], redirect_headers(location))
                        return [b""]
        return self.wsgi_app(environ, start_response)


def init_app(app: Flask) -> None:
    app.wsgi_app = FastPath(app, app.wsgi_app)
