"""`flask db-copy --to URL`: a SQLite install moved to PostgreSQL (or another SQLite file) intact."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select

from openqr.extensions import db
from openqr.models import Code
from openqr.ops import dbcopy
from tests.conftest import Api, make_app, new_key
from tests.support import databases
from tests.support.servers import PHONE


@pytest.fixture
def source(tmp_path):
    """A SQLite install with an account, keys, a folder, tagged and styled codes, and scans."""
    url = f"sqlite:///{tmp_path / 'source.db'}"
    databases.upgrade(url, tmp_path)
    app = make_app(tmp_path, OPENQR_DATABASE_URL=url)
    client = app.test_client()
    api = Api(client, new_key(app, "owner@example.com", "laptop"))
    new_key(app, "second@example.org")
    folder = api.post("/v1/folders", json={"name": "Posters"}).get_json()
    codes = [
        api.create(label="Spring poster — bus stops", tags=["spring", "outdoor"], folder_id=folder["id"]),
        api.create(slug="menu-2026", style={"dark": "#123456", "ecc": "H"}),
        api.create(),
    ]
    for i, code in enumerate(codes):
        for _ in range(i + 2):
            client.get(f"/{code['slug']}", headers={"User-Agent": PHONE, "Referer": "https://news.example/a"})
    yield app, api, codes
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


FEED_VERSION = Code.__table__.c.version


def _rows(url):
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            # Every column but codes.version: each database numbers its own change feed (triggers,
            # migration 0003), so the copied codes get the target's numbers.
            return {
                table.name: sorted(
                    connection.execute(
                        select(*(c for c in table.c if c is not Code.__table__.c.version))
                    ).all(),
                    key=repr,
                )
                for table in db.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def test_copy_keeps_every_row_and_the_copy_serves(source, blank_database_url, tmp_path):
    app, api, codes = source
    result = app.test_cli_runner().invoke(args=["db-copy", "--to", blank_database_url])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines()[1:])
    assert lines["scans"].split() == ["9", "9"]
    assert lines["codes"].split() == ["3", "3"]
    assert _rows(app.config["SQLALCHEMY_DATABASE_URI"]) == _rows(blank_database_url)

    copy = make_app(tmp_path / "copy", OPENQR_DATABASE_URL=blank_database_url)
    try:
        moved = Api(copy.test_client(), api.key)  # keys still work: their hashes came along
        assert moved.get(f"/v1/dynamic/{codes[1]['id']}").get_json()["slug"] == "menu-2026"
        assert moved.get(f"/v1/dynamic/{codes[2]['id']}/scans").get_json()["scans"]["total"] == 4
        fresh = Api(copy.test_client(), new_key(copy, "newcomer@example.net"))  # new ids follow the copied
        made = fresh.create(slug="after-move")
        response = copy.test_client().get("/after-move", headers={"User-Agent": PHONE})
        assert response.status_code == 302 and made["slug"] == "after-move"
    finally:
        with copy.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_target_with_rows_is_refused(source, blank_database_url):
    app, _api, _codes = source
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db-copy", "--to", blank_database_url]).exit_code == 0
    again = runner.invoke(args=["db-copy", "--to", blank_database_url])
    assert again.exit_code != 0
    assert "target is not empty" in again.output


def test_a_count_mismatch_fails(source, blank_database_url, monkeypatch):
    app, _api, _codes = source
    copy_table = dbcopy._copy_table

    def lose_scans(source_connection, target_connection, table, batch):
        if table.name != "scans":
            copy_table(source_connection, target_connection, table, batch)

    monkeypatch.setattr(dbcopy, "_copy_table", lose_scans)
    result = app.test_cli_runner().invoke(args=["db-copy", "--to", blank_database_url])
    assert result.exit_code == 1
    assert "MISMATCH" in result.output and "row counts differ" in result.output


@pytest.mark.parametrize("bad", ["mysql://x/y", "/tmp/plain-path.db"])
def test_a_target_that_is_not_a_database_url_is_refused(source, bad):
    app, _api, _codes = source
    result = app.test_cli_runner().invoke(args=["db-copy", "--to", bad])
    assert result.exit_code == 2 and "--to" in result.output
