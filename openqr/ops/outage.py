"""What the app answers while its database cannot: 503 for every kind of client, never a 500.

One error handler for every view: `/v1` gets JSON `{"error": "unavailable", ...}`, pages a
stand-alone page (the dashboard's layout would need the signed-in account, from the database);
both say when to retry. Redirects of known links do not get here: they come from memory.
"""

from __future__ import annotations

import logging
import time

from flask import Flask
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..errors import DatabaseUnavailable, error_response, is_api_request
from ..extensions import db
from ..web.pages import plain_page

log = logging.getLogger(__name__)

RETRY_AFTER = 5  # seconds: what clients are told to wait
CODE = "unavailable"  # the `error` of the API's answer
LOG_EVERY = 10.0  # seconds between two log lines about the same outage
UNAVAILABLE = (OperationalError, PoolTimeout, DatabaseUnavailable)
MESSAGE = "The database is unreachable right now; nothing was changed. Try again in a few seconds."

_last_log = [0.0]


def unavailable(err: Exception):
    """The one handler for database outages (see UNAVAILABLE)."""
    try:
        db.session.rollback()
    except UNAVAILABLE:
        pass  # the connection is gone; the session is removed at the end of the request anyway
    now = time.monotonic()
    if now - _last_log[0] >= LOG_EVERY:
        _last_log[0] = now
        log.warning("database unavailable: %s", str(err).splitlines()[0] if str(err) else type(err).__name__)
    headers = {"Retry-After": str(RETRY_AFTER), "Cache-Control": "no-store"}
    if is_api_request():
        return error_response(503, CODE, MESSAGE, headers)
    return plain_page("errors/unavailable.html", 503, headers)


def init_app(app: Flask) -> None:
    for error in UNAVAILABLE:
        app.register_error_handler(error, unavailable)
