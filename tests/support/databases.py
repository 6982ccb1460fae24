"""Which database the suite runs on, and throw-away PostgreSQL databases for it.

`OPENQR_TEST_DB=postgresql` (set by `make test`'s second pass) runs the suite on
PostgreSQL at `OPENQR_TEST_DATABASE_URL`; otherwise it runs on SQLite. Every PostgreSQL
database made here is named `openqr_test_<pid>_<random>`, created through the URL's own
database and dropped at the end, so concurrent runs never see each other's rows.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
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


def add_one_code(url: str, code_id: str = "c0de", slug: str = "load-test") -> None:
    """An account and one active code to https://example.com/, written straight into the
    (migrated) database at `url`."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO accounts (email, created_at, session_version) "
                    "VALUES ('load@example.com', '2025-01-01 00:00:00', 0)"
                )
            )
            connection.execute(
                text("INSERT INTO workspaces (id, name, created_at) VALUES (1, 'load', '2025-01-01')")
            )
            connection.execute(
                text(
                    "INSERT INTO memberships (workspace_id, account_id, role, joined_at) "
                    "VALUES (1, 1, 'owner', '2025-01-01')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO codes (id, workspace_id, slug, destination, style, status, created_at, "
                    "updated_at) VALUES (:id, 1, :slug, 'https://example.com/', '{}', 'active', "
                    "'2025-01-01', '2025-01-01')"
                ),
                {"id": code_id, "slug": slug},
            )
    finally:
        engine.dispose()


_LOCK_HOLDER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
"""


class SqliteWriteLock:
    """Another process holding a SQLite file's write lock (`BEGIN EXCLUSIVE`), as a backup or a
    long migration does, from its making until `release()` (`close()` ends it in any case)."""

    def __init__(self, path: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-c", _LOCK_HOLDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        self.process.communicate("release\n", timeout=10)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
