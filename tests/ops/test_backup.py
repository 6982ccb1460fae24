"""`flask backup FILE` / `openqr backup FILE`: a consistent copy of a live SQLite database, the
README's restore (stop, put the file in place, start) done for real, and PostgreSQL's pg_dump line."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from flask_migrate import downgrade
from sqlalchemy import create_engine, text

from openqr import create_app
from openqr.extensions import db
from tests.conftest import close_app
from tests.ops.test_graceful_stop import serve_one_code
from tests.support.databases import sqlite_only
from tests.support.servers import PHONE, ROOT, AppProcess
from tests.test_migrations import _revisions, _row_counts, filled_app

PHONE_HEADERS = {"User-Agent": PHONE}
pytestmark = sqlite_only("the copy is SQLite's online backup; PostgreSQL gets the pg_dump line")


def openqr_command(*args: str, database_url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """`openqr ARGS` as the binary runs it (`python -m openqr` is the same entry point)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENQR_", "FLASK_"))}
    env.update(
        OPENQR_DATABASE_URL=database_url,
        OPENQR_SECRET_KEY="test-secret",
        OPENQR_INSTANCE_PATH=str(tmp_path / "cli-instance"),
        OPENQR_LOG_LEVEL="WARNING",
    )
    command = [sys.executable, "-m", "openqr", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def counts(path: Path) -> tuple[int, int]:
    """(raw scan rows, the day roll-ups' sum) of the SQLite file at `path`."""
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT count(*) FROM scans").fetchone()[0]
        days = connection.execute("SELECT coalesce(sum(n), 0) FROM scan_days").fetchone()[0]
    return rows, days


class Scanner:
    """Phones scanning `slug` without pause from two threads until stopped; counts the 302s."""

    def __init__(self, url: str):
        self.url, self.answered, self.errors = url, 0, []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._scan) for _ in range(2)]
        for thread in self._threads:
            thread.start()

    def _scan(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                try:
                    response = session.get(
                        self.url, allow_redirects=False, headers={"User-Agent": PHONE}, timeout=5
                    )
                except requests.RequestException as err:
                    self.errors.append(err)
                    continue
                if response.status_code == 302:
                    with self._lock:
                        self.answered += 1

    def stop(self) -> int:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        return self.answered


def test_a_backup_taken_while_the_server_writes_scans_restores_to_a_working_install(tmp_path):
    server, engine = serve_one_code(tmp_path)
    live = tmp_path / "openqr.db"
    url = f"sqlite:///{live}"
    copy = tmp_path / "backups" / "openqr-monday.db"
    copy.parent.mkdir()
    try:
        key = openqr_command(
            "keys", "create", "load@example.com", "--name", "ci", database_url=url, tmp_path=tmp_path
        )
        assert key.returncode == 0, key.stderr
        key = key.stdout.strip()
        scanner = Scanner(f"{server.url}/load-test")
        time.sleep(1.0)  # scans are being written when the backup starts
        started = scanner.answered
        result = openqr_command("backup", str(copy), database_url=url, tmp_path=tmp_path)
        during = scanner.answered - started
        time.sleep(0.5)
        answered = scanner.stop()
        assert server.stop() == 0, server.log()
    finally:
        server.stop()
        engine.dispose()
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and f"to {copy}" in result.stderr
    assert during > 0 and not scanner.errors  # the server kept answering while it was copied
    assert counts(live) == (answered, answered)
    kept, rolled_up = counts(copy)
    assert 0 < kept < answered and rolled_up == kept  # one instant: every roll-up matches its rows
    with sqlite3.connect(copy) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file to keep
    assert sorted(path.name for path in copy.parent.iterdir()) == [copy.name]  # no partial file left

    # The README's restore: the server is stopped; put the file in place; start.
    for stale in (live, live.with_name("openqr.db-wal"), live.with_name("openqr.db-shm")):
        stale.unlink(missing_ok=True)
    shutil.copyfile(copy, live)
    restored = AppProcess(tmp_path, "restored", url)
    try:
        restored.wait_ready()
        assert requests.get(f"{restored.url}/load-test", allow_redirects=False, timeout=5).status_code == 302
        report = requests.get(
            f"{restored.url}/v1/dynamic/c0de/scans", headers={"Authorization": f"Bearer {key}"}, timeout=5
        )
        assert report.status_code == 200 and report.json()["scans"]["total"] == kept
    finally:
        restored.stop()


def test_an_older_backup_is_brought_up_to_date_by_the_start(tmp_path):
    """A copy made before an upgrade: the new server applies the migrations and keeps every row."""
    old = tmp_path / "old.db"
    app = filled_app(f"sqlite:///{old}", tmp_path / "fill-instance")
    try:
        with app.app_context():
            downgrade(revision=_revisions()[0])
            db.engine.dispose()
    finally:
        close_app(app)
    before = _row_counts(f"sqlite:///{old}")
    copy = tmp_path / "old-backup.db"
    result = openqr_command("backup", str(copy), database_url=f"sqlite:///{old}", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(old) as connection:  # `backup` copies, it never migrates what it copies
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone()[0] == _revisions()[0]
    live = tmp_path / "live.db"
    shutil.copyfile(copy, live)
    server = AppProcess(tmp_path, "upgraded", f"sqlite:///{live}")
    try:
        server.wait_ready()
    finally:
        server.stop()
    after = _row_counts(f"sqlite:///{live}")
    assert {name: after[name] for name in before} == before
    engine = create_engine(f"sqlite:///{live}")
    try:
        with engine.connect() as connection:
            assert (
                connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
                == _revisions()[-1]
            )
    finally:
        engine.dispose()


@pytest.fixture
def cli_app(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "OPENQR_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "OPENQR_SECRET_KEY": "x",
        },
        instance_path=str(tmp_path / "instance"),
    )
    yield app
    close_app(app)


def test_a_backup_never_replaces_a_file(cli_app, tmp_path):
    existing = tmp_path / "keep.db"
    existing.write_bytes(b"yesterday's backup")
    result = cli_app.test_cli_runner().invoke(args=["backup", str(existing)])
    assert result.exit_code == 1
    assert result.output == f"Error: {existing} already exists; a backup never replaces a file\n"
    assert existing.read_bytes() == b"yesterday's backup"


def test_a_backup_into_a_missing_folder_is_refused(cli_app, tmp_path):
    target = tmp_path / "nowhere" / "openqr.db"
    result = cli_app.test_cli_runner().invoke(args=["backup", str(target)])
    assert result.exit_code == 1
    assert result.output == f"Error: the folder {target.parent} does not exist\n"
    assert not target.parent.exists()


def test_a_backup_into_a_folder_it_cannot_write_says_why(cli_app, tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o555)
    if os.access(folder, os.W_OK):
        folder = Path("/proc")  # root may write anywhere but there
    result = cli_app.test_cli_runner().invoke(args=["backup", str(folder / "openqr.db")])
    assert result.exit_code == 1 and result.output.startswith(f"Error: cannot write {folder / 'openqr.db'}: ")
    assert len(result.output.splitlines()) == 1 and not (folder / "openqr.db").exists()


def test_on_postgresql_it_prints_the_pg_dump_command_and_exits_2(tmp_path):
    url = "postgresql+psycopg://openqr:s3cret@db.internal:5433/openqr?sslmode=require"
    app = create_app(
        {"TESTING": True, "OPENQR_DATABASE_URL": url, "OPENQR_SECRET_KEY": "x"},
        instance_path=str(tmp_path / "instance"),
    )
    try:
        result = app.test_cli_runner().invoke(args=["backup", "/var/backups/openqr.dump"])
    finally:
        close_app(app)
    assert result.exit_code == 2
    assert result.stdout == (
        "pg_dump --format=custom --file=/var/backups/openqr.dump "
        "'--dbname=postgresql://openqr@db.internal:5433/openqr?sslmode=require'\n"
    )
    assert "s3cret" not in result.output and "pg_restore" in result.stderr
