"""Which database the suite runs on, and throw-away PostgreSQL databases for it.

`OPENQR_TEST_DB=postgresql` (set by `make test`'s second pass) runs the suite on
PostgreSQL at `OPENQR_TEST_DATABASE_URL`; otherwise it runs on SQLite. Every PostgreSQL
database made here is named `openqr_test_<pid>_<random>`, created through the URL's own
database and dropped at the end, so concurrent runs never see each other's rows.
"""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRESQL_URL = os.environ.get("OPENQR_TEST_DATABASE_URL", "").strip() or None
ON_POSTGRESQL = os.environ.get("OPENQR_TEST_DB", "sqlite").strip().lower() in ("postgresql", "postgres", "pg")
if ON_POSTGRESQL and not POSTGRESQL_URL:
    raise RuntimeError("OPENQR_TEST_DB=postgresql needs OPENQR_TEST_DATABASE_URL=postgresql+psycopg://...")

NO_POSTGRESQL = "no PostgreSQL configured: set OPENQR_TEST_DATABASE_URL=postgresql+psycopg://..."


def sqlite_only(reason: str):
    """Mark a test that checks something only SQLite has; PostgreSQL runs skip it, saying why."""
    import pytest

    return pytest.mark.skipif(ON_POSTGRESQL, reason=f"SQLite only: {reason}")


def _admin_engine(server_url: str | None):
    return create_engine(server_url or POSTGRESQL_URL, isolation_level="AUTOCOMMIT")


def create_postgresql_database(tag: str = "", server_url: str | None = None) -> str:
    """A new, empty PostgreSQL database made through `server_url` (default: the test URL);
    returns its URL (with password, usable by subprocesses)."""
    name = f"openqr_test_{os.getpid()}_{tag}{secrets.token_hex(4)}"
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return make_url(server_url or POSTGRESQL_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgresql_database(url: str, server_url: str | None = None) -> None:
    """Drop a database made by `create_postgresql_database`, closing whatever still uses it."""
    name = make_url(url).database
    assert name and name.startswith("openqr_test_"), name
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def upgrade(url: str, tmp_path) -> None:
    """Apply the migrations to the database at `url`, the way `python app.py` does at start."""
    from flask_migrate import upgrade as flask_upgrade

    from openqr import create_app
    from openqr.extensions import db

    app = create_app(
        {"OPENQR_DATABASE_URL": url, "OPENQR_SECRET_KEY": "test-secret"},
        instance_path=str(tmp_path / "instance-migrate"),
    )
    with app.app_context():
        flask_upgrade()
        db.engine.dispose()


@contextmanager
def bench_database(tmp: Path):
    """The database a benchmark fills: with `OPENQR_BENCH_DATABASE_URL=postgresql+psycopg://...`
    a fresh database made through that URL (dropped afterwards), else a SQLite file in `tmp`."""
    server_url = os.environ.get("OPENQR_BENCH_DATABASE_URL", "").strip()
    if not server_url:
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    url = create_postgresql_database("bench", server_url)
    try:
        yield url
    finally:
        drop_postgresql_database(url, server_url)
