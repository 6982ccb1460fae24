"""Upgrading is replacing the file and restarting: the new binary, started on an install made at
an earlier revision with a row in every table, brings it to the newest schema and keeps them all."""

from __future__ import annotations

import sqlite3

import pytest
import requests
from flask_migrate import downgrade

from tests.conftest import close_app
from tests.support.servers import AppProcess, binary
from tests.test_migrations import RENAMED, _revisions, _row_counts, filled_app

pytestmark = pytest.mark.slow
REVISIONS = _revisions()


# The first release's schema, and the one just before the newest (the usual upgrade).
@pytest.mark.parametrize("revision", [REVISIONS[0], REVISIONS[-2]])
def test_the_new_binary_keeps_every_row_of_an_older_install(tmp_path, revision):
    binary()  # skip before building anything when there is no binary to test
    instance = tmp_path / "server-run" / "instance"  # where AppProcess runs the binary: ./instance
    instance.mkdir(parents=True)
    url = f"sqlite:///{instance / 'openqr.db'}"
    app = filled_app(url, tmp_path / "source-instance")
    try:
        with app.app_context():
            downgrade(revision=revision)
    finally:
        close_app(app)
    before = _row_counts(url)
    assert min(before["accounts"], before["codes"], before["scans"], before["api_keys"]) >= 1, before
    with sqlite3.connect(instance / "openqr.db") as connection:
        slug, destination = connection.execute("SELECT slug, destination FROM codes").fetchone()

    server = AppProcess(tmp_path, "server", None, kind="binary")
    try:
        server.wait_ready()
        # HEAD is redirected but not counted: the rows stay exactly those of the old install.
        answer = requests.head(f"{server.url}/{slug}", allow_redirects=False, timeout=5)
        # An install with smart destinations (0007 on) also appends the code's utm parameters.
        location, _, query = answer.headers["Location"].partition("?")
        assert (answer.status_code, location) == (302, destination)
        assert all(pair.startswith("utm_") for pair in query.split("&") if pair), query
    finally:
        assert server.stop() == 0, server.log()
    after = _row_counts(url)
    assert {name: after[RENAMED.get(name, name)] for name in before} == before  # 0010 moved the roll-ups
    with sqlite3.connect(instance / "openqr.db") as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(REVISIONS[-1],)]
