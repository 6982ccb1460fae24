"""`/healthz` for load balancers and monitors: is the database reachable, and how is the scan buffer."""

from __future__ import annotations

import sqlite3

from flask import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..services import current_services

bp = Blueprint("health", __name__)

VERSION = "0.1.0"


def database_reachable() -> bool:
    """Whether the database can take a write now. PostgreSQL: a trivial query succeeds. SQLite: its
    write lock is free within a second (a backup or a long migration can hold it for minutes,
    while reads go on)."""
    url = db.engine.url
    try:
        if url.get_backend_name() == "sqlite" and url.database:
            connection = sqlite3.connect(url.database, timeout=1.0, isolation_level=None)
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("ROLLBACK")
            finally:
                connection.close()
        else:
            db.session.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, sqlite3.Error):
        db.session.rollback()
        return False
    return True


@bp.get("/healthz")
def healthz():
    """For load balancers and monitors: is the database reachable?"""
    database = database_reachable()
    body = {"status": "ok" if database else "degraded", "database": database, "version": VERSION}
    body.update(current_services().health())
    return body, 200 if database else 503, {"Cache-Control": "no-store"}
