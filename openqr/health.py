"""`/healthz` for load balancers and monitors: is the database reachable, and how is the scan buffer."""

from __future__ import annotations

from flask import Blueprint, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db

bp = Blueprint("health", __name__)

VERSION = "0.1.0"


def database_reachable() -> bool:
    """Whether a trivial query succeeds; a failed one is rolled back so the session stays usable."""
    try:
        db.session.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError):
        db.session.rollback()
        return False
    return True


@bp.get("/healthz")
def healthz():
    """For load balancers and monitors: is the database reachable?"""
    database = database_reachable()
    body = {"status": "ok" if database else "degraded", "database": database, "version": VERSION}
    body.update(current_app.extensions.get("openqr.health", lambda: {})())
    return body, 200 if database else 503, {"Cache-Control": "no-store"}
