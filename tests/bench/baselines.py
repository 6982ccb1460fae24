"""Baselines served on waitress defaults: `python -m tests.bench.baselines wsgi|flask PORT`."""

from __future__ import annotations

import sys

from waitress import serve

HEADERS = [("Location", "https://example.com/"), ("Cache-Control", "no-store"), ("Content-Length", "0")]


def plain_wsgi(environ, start_response):
    """The ceiling: a WSGI callable that answers the same 302 and does nothing else."""
    start_response("302 Found", HEADERS)
    return [b""]


def bare_flask():
    from flask import Flask

    app = Flask("bare")

    @app.get("/<slug>")
    def follow(slug):
        """The same 302, no database."""
        return "", 302, {"Location": "https://example.com/", "Cache-Control": "no-store"}

    return app


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    serve(plain_wsgi if kind == "wsgi" else bare_flask(), host="127.0.0.1", port=port, _quiet=True)
