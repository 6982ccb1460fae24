"""The migrations build exactly the models' schema, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from openqr import create_app
from openqr.extensions import db
from openqr.models import Invitation, utcnow
from openqr.services import services
from tests.support import databases

ROOT = Path(__file__).resolve().parent.parent
ENV_PY = ROOT / "migrations" / "env.py"
FLASK = [sys.executable, "-m", "flask"]


def _app(url, tmp_path):
    return create_app(
        {"OPENQR_DATABASE_URL": url, "OPENQR_SECRET_KEY": "test-secret"},
        instance_path=str(tmp_path / "instance"),
    )


def _differences(url):
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return compare_metadata(context, db.metadata)
    finally:
        engine.dispose()


def test_migrations_build_the_models_schema(blank_database_url, tmp_path):
    app = _app(blank_database_url, tmp_path)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    assert _differences(blank_database_url) == []


def test_downgrade_to_nothing_and_up_again(blank_database_url, tmp_path):
    app = _app(blank_database_url, tmp_path)
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        db.engine.dispose()
    assert _differences(blank_database_url) == []


@pytest.mark.skipif(
    not databases.ON_POSTGRESQL, reason="the advisory lock is PostgreSQL's; SQLite needs none"
)
def test_processes_starting_together_take_turns(blank_database_url, tmp_path):
    """Three `flask db upgrade` at once wait for the migration lock; then one migrates, two find it done."""
    lock_id = int(re.search(r"MIGRATION_LOCK_ID = (0x[0-9A-Fa-f]+)", ENV_PY.read_text()).group(1), 16)
    env = {
        **os.environ,
        "OPENQR_DATABASE_URL": blank_database_url,
        "OPENQR_SECRET_KEY": "test-secret",
        "OPENQR_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    holder = create_engine(blank_database_url, isolation_level="AUTOCOMMIT")
    try:
        with holder.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
            processes = [
                subprocess.Popen(
                    [*FLASK, "db", "upgrade"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                for _ in range(3)
            ]
            try:
                deadline = time.monotonic() + 30
                waiting = 0
                while waiting < 3 and time.monotonic() < deadline:
                    time.sleep(0.1)
                    waiting = connection.execute(
                        text(
                            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                        )
                    ).scalar()
                assert waiting == 3, [p.poll() for p in processes]
                assert inspect(connection).get_table_names() == []
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
            outputs = [process.communicate(timeout=60)[0] for process in processes]
    finally:
        holder.dispose()
    assert [process.returncode for process in processes] == [0, 0, 0], outputs
    assert sum("Running upgrade  -> 0001" in output for output in outputs) == 1, outputs
    assert _differences(blank_database_url) == []


def _revisions() -> list[str]:
    """Every revision, oldest first (the chain is linear)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(ROOT / "migrations"))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def _fill_every_table(app) -> None:
    """A row in every table, made the way users make them: keys, folders, codes with tags and a
    schedule, a changed destination, a deleted code, a webhook, scans flushed, a sign-in link."""
    from openqr.auth import tokens
    from tests.conftest import Api, new_key

    client = app.test_client()
    api = Api(client, new_key(app))
    folder = api.post("/v1/folders", json={"name": "Menus"}).get_json()
    code = api.create(tags=["menu"], folder_id=folder["id"], max_scans=1000, utm={"source": "poster"})
    api.patch(f"/v1/dynamic/{code['id']}", json={"destination": "https://example.com/new"})
    api.delete(f"/v1/dynamic/{api.create()['id']}")
    hook = api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["scan"]})
    assert hook.status_code == 201, hook.get_json()
    for n in range(3):
        client.get(f"/{code['slug']}", headers={"User-Agent": f"Mozilla/5.0 (iPhone) visitor {n}"})
    services(app).recorder.flush()
    with app.app_context():
        tokens.issue("owner@example.com")
        db.session.add(
            Invitation(
                workspace_id=1,
                email="manager@example.com",
                role="editor",
                expires_at=utcnow() + dt.timedelta(days=7),
            )
        )
        db.session.commit()


def filled_app(url: str, instance_path) -> Flask:
    """An app on the database at `url`, migrated to the newest revision and with a row in every table."""
    app = create_app(
        {
            "TESTING": True,
            "OPENQR_DATABASE_URL": url,
            "OPENQR_SECRET_KEY": "test-secret",
            "OPENQR_WEBHOOK_ALLOW_HOSTS": frozenset({"127.0.0.1"}),
        },
        instance_path=str(instance_path),
    )
    with app.app_context():
        upgrade()
    _fill_every_table(app)
    return app


def _row_counts(url) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            names = [n for n in inspect(connection).get_table_names() if n != "alembic_version"]
            return {
                name: connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar() for name in names
            }
    finally:
        engine.dispose()


RENAMED = {f"account_scan_{name}": f"workspace_scan_{name}" for name in ("days", "hours", "day_values")}


@pytest.mark.parametrize("revision", _revisions()[:-1])
def test_upgrading_from_an_earlier_revision_keeps_every_row(blank_database_url, tmp_path, revision):
    """An install at `revision` with rows in every table upgrades to head without losing one
    (SQLite's table rebuilds once cascade-deleted every code, key and scan)."""
    from tests.conftest import close_app

    app = filled_app(blank_database_url, tmp_path / "instance")
    try:
        assert [name for name, n in _row_counts(blank_database_url).items() if n == 0] == []
        with app.app_context():
            downgrade(revision=revision)
            db.engine.dispose()
        before = _row_counts(blank_database_url)
        assert min(before["accounts"], before["codes"], before["scans"], before["api_keys"]) >= 1, before
        with app.app_context():
            upgrade()
            db.engine.dispose()
        after = _row_counts(blank_database_url)
    finally:
        close_app(app)
    # Migration 0010 moved the account-wide roll-ups to the workspace's tables, row for row.
    assert {name: after[RENAMED.get(name, name)] for name in before} == before
    assert after["workspaces"] == after["memberships"] == before["accounts"]
    assert _differences(blank_database_url) == []
