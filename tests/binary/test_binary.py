"""The built binary as shipped: run from an empty folder with a bare environment (PATH, HOME and
OPENQR_* only), it makes its key, serves the guide's curl flow, the QR image, the redirect, `/mcp`
and `/metrics`, and keeps its data in ./instance of the folder it runs in.

`make test` builds dist/openqr and points OPENQR_BINARY at it; without a binary these tests skip.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time

import pytest
import requests
import zxingcpp
from PIL import Image
from sqlalchemy import create_engine, text

from openqr.ops.health import VERSION
from tests.assistant.test_mcp_transports import INITIALIZE
from tests.support import databases
from tests.support.guide import curl_commands, python_example
from tests.support.servers import PHONE, AppProcess, bare_env, binary
from tests.test_migrations import _revisions

pytestmark = pytest.mark.slow
GUIDE_HOST = "https://openqr.uk"
GUIDE_KEY = "oqr_live_yourkey"
GUIDE_ID = "b1c2…"
GUIDE_SHORT_URL = "https://oqr.to/k7Pm2qR"
REVISIONS = _revisions()


def run(folder, *args, timeout=60, **settings) -> subprocess.CompletedProcess:
    """`openqr ARGS...` in `folder`, with a bare environment."""
    return subprocess.run(
        [str(binary()), *args],
        cwd=folder,
        env=bare_env(folder, **settings),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_version_and_help_name_every_command(tmp_path):
    version = run(tmp_path, "--version")
    assert version.returncode == 0 and version.stdout == f"openqr {VERSION}\n"
    shown = run(tmp_path, "--help")
    assert shown.returncode == 0, shown.stderr
    listed = set(re.findall(r"^  ([a-z-]+)  ", shown.stdout, re.MULTILINE))
    assert listed == {"keys", "users", "codes", "scans", "db-copy", "backup", "mcp", "db"}
    command_help = run(tmp_path, "keys", "create", "--help")
    assert command_help.returncode == 0 and "--name" in command_help.stdout
    assert list(tmp_path.iterdir()) == []  # none of them touches a database


def test_a_bad_setting_ends_with_one_line(tmp_path):
    done = run(tmp_path, "keys", "list", "a@example.com", OPENQR_PORT="eighty")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        "openqr: configuration error: OPENQR_PORT='eighty' must be a whole number from 1 to 65535\n"
    )


def _curl(command: str, folder) -> tuple[int, str]:
    """Run one of the guide's curl commands with bash; returns (HTTP status, body)."""
    done = subprocess.run(
        ["bash", "-c", command + ' -sS -w "\\n%{http_code}"'],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


def _scan(server, slug: str) -> requests.Response:
    headers = {"User-Agent": PHONE, "CF-IPCountry": "GB"}
    return requests.get(f"{server.url}/{slug}", headers=headers, allow_redirects=False, timeout=5)


def test_the_guides_curl_flow_against_the_binary_from_an_empty_folder(tmp_path):
    folder = tmp_path / "server-run"  # where AppProcess runs the binary
    folder.mkdir()
    made = run(folder, "keys", "create", "you@example.com", "--name", "laptop")  # a fresh folder
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert made.stdout == key + "\n" and key.startswith("oqr_live_")
    database = folder / "instance" / "openqr.db"
    assert database.is_file() and (folder / "instance" / "secret_key").is_file()

    unpack = tmp_path / "tmp"  # a private /tmp, as deploy/openqr.service gives it
    unpack.mkdir()
    server = AppProcess(
        tmp_path,
        "server",
        None,
        kind="binary",
        OPENQR_SCAN_FLUSH_INTERVAL="0.1",
        OPENQR_METRICS_TOKEN="scrape",
        TMPDIR=str(unpack),
    )
    try:
        server.wait_ready()
        create, qr, patch, listing, delete = (
            command.replace(GUIDE_HOST, server.url).replace(GUIDE_KEY, key) for command in curl_commands()
        )
        status, body = _curl(create, folder)
        code = json.loads(body)
        assert status == 201, body
        assert code["destination"] == "https://example.com/spring-launch"
        assert code["label"] == "Spring poster — bus stops"
        assert code["short_url"] == f"http://localhost:8080/{code['slug']}"  # OPENQR_BASE_URL's default

        status, _ = _curl(qr.replace(GUIDE_SHORT_URL, code["short_url"]), folder)
        assert status == 200
        decoded = zxingcpp.read_barcodes(Image.open(folder / "spring-poster.png"))
        assert [symbol.text for symbol in decoded] == [code["short_url"]]

        scanned_on = time.strftime("%Y-%m-%d", time.gmtime())  # the UTC day the scans count on
        assert _scan(server, code["slug"]).headers["Location"] == "https://example.com/spring-launch"
        status, body = _curl(patch.replace(GUIDE_ID, code["id"]), folder)
        assert status == 200 and json.loads(body)["destination"] == "https://example.com/spring/live"
        assert _scan(server, code["slug"]).headers["Location"] == "https://example.com/spring/live"

        script = python_example().replace(GUIDE_HOST, server.url).replace(GUIDE_ID, code["id"])
        deadline = time.monotonic() + 10
        while True:  # the scans reach the database with the server's next flush
            report = subprocess.run(
                [sys.executable, "-c", script],
                env={"PATH": "/usr/bin:/bin", "OPENQR_KEY": key},
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert report.returncode == 0, report.stderr
            if report.stdout.startswith("Lifetime: 2 ") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert report.stdout.splitlines() == [
            "Lifetime: 2 | 14d: 2",
            f"Busiest day: {scanned_on} (2)",
            "Top country: GB (2)",
            "Top referrer: Direct (2)",
        ]

        # The parts that load their libraries on first use: the MCP endpoint and the metrics.
        mcp = requests.post(
            server.url + "/mcp",
            json=INITIALIZE,
            headers={"Authorization": f"Bearer {key}", "Accept": "application/json, text/event-stream"},
            timeout=30,
        )
        assert mcp.status_code == 200 and mcp.json()["result"]["serverInfo"]["name"], mcp.text
        metrics = requests.get(server.url + "/metrics", headers={"Authorization": "Bearer scrape"}, timeout=5)
        assert 'openqr_redirects_total{outcome="scan",' in metrics.text, metrics.text

        status, body = _curl(listing, folder)
        assert status == 200 and [c["id"] for c in json.loads(body)["codes"]] == [code["id"]]
        status, body = _curl(delete.replace(GUIDE_ID, code["id"]), folder)
        assert status == 200 and json.loads(body) == {"deleted": True}
        assert _scan(server, code["slug"]).status_code == 404
        assert list(unpack.iterdir())  # the binary runs from what it unpacked there
    finally:
        assert server.stop() == 0, server.log()
    assert list(unpack.iterdir()) == []  # and removes it when it stops
    with sqlite3.connect(database) as connection:  # what the server wrote stays in ./instance
        used = connection.execute("SELECT last_used_at FROM api_keys").fetchall()
    assert len(used) == 1 and used[0][0] is not None


@pytest.mark.parametrize("target", ["sqlite", "postgresql"])
def test_operator_commands_on_the_binary(tmp_path, target):
    """`openqr users|scans|codes|backup|db-copy|db` as the `flask` commands: seed scans, switch a
    code off, back it up, copy the install to another database (PostgreSQL: the driver is inside
    the file), and Alembic's own `db upgrade` and `db current` there."""
    if target == "postgresql" and not databases.POSTGRESQL_URL:
        pytest.skip(databases.NO_POSTGRESQL)
    assert run(tmp_path, "users", "create", "ops@example.com").returncode == 0
    database = tmp_path / "instance" / "openqr.db"
    with sqlite3.connect(database) as connection:
        connection.execute(
            "INSERT INTO codes (id, workspace_id, slug, destination, style, status, created_at,"
            " updated_at) VALUES ('c0de', 1, 'poster', 'https://example.com/', '{}', 'active',"
            " '2025-01-01', '2025-01-01')"
        )
    seeded = run(
        tmp_path, "scans", "seed", "--code", "poster", "--count", "500", "--days", "10", "--seed", "1"
    )
    assert seeded.returncode == 0, seeded.stderr
    assert run(tmp_path, "codes", "disable", "poster").returncode == 0
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT count(*) FROM scans").fetchone() == (500,)
        assert connection.execute("SELECT status FROM codes").fetchone() == ("disabled",)
    backed_up = run(tmp_path, "backup", "backup.db")
    assert backed_up.returncode == 0, backed_up.stderr
    with sqlite3.connect(tmp_path / "backup.db") as connection:
        assert connection.execute("SELECT count(*) FROM scans").fetchone() == (500,)
    again = run(tmp_path, "backup", "backup.db")
    assert (
        again.returncode == 1
        and again.stderr == "Error: backup.db already exists; a backup never replaces a file\n"
    )
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    if target == "postgresql":
        url = databases.create_postgresql_database("binary")
    try:
        copied = run(tmp_path, "db-copy", "--to", url, timeout=120)
        assert copied.returncode == 0, copied.stderr
        upgraded = run(tmp_path, "db", "upgrade", OPENQR_DATABASE_URL=url)  # at head already: nothing to do
        assert upgraded.returncode == 0, upgraded.stderr
        current = run(tmp_path, "db", "current", OPENQR_DATABASE_URL=url)
        assert current.returncode == 0 and f"{REVISIONS[-1]} (head)" in current.stdout, current.stderr
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM scans")).scalar() == 500
                assert connection.execute(text("SELECT slug, status FROM codes")).one() == (
                    "poster",
                    "disabled",
                )
        finally:
            engine.dispose()
    finally:
        if target == "postgresql":
            databases.drop_postgresql_database(url)


def test_the_binary_proves_a_styled_code_and_prints_it_as_pdf(tmp_path):
    # Pillow, fontTools, the shipped font and zxing-cpp all inside the one file.
    folder = tmp_path / "server-run"
    folder.mkdir()
    key = run(folder, "keys", "create", "you@example.com", "--name", "print").stdout.strip()
    unpack = tmp_path / "tmp"
    unpack.mkdir()
    server = AppProcess(tmp_path, "server", None, kind="binary", TMPDIR=str(unpack))
    try:
        server.wait_ready()
        auth = {"Authorization": f"Bearer {key}"}
        style = {
            "dots": "rounded",
            "corners": "extra-rounded",
            "corner_dots": "dot",
            "frame": {"text": "Café"},
        }
        made = requests.post(
            f"{server.url}/v1/dynamic",
            json={"destination": "https://example.com/a", "style": style},
            headers=auth,
        )
        assert made.status_code == 201, made.text
        pale = requests.post(
            f"{server.url}/v1/dynamic",
            json={
                "destination": "https://example.com/a",
                "style": {"gradient": {"type": "linear", "to": "#eeeeee"}},
            },
            headers=auth,
        )
        assert pale.status_code == 400 and pale.json()["error"] == "unscannable"
        code = made.json()
        pdf = requests.get(f"{server.url}/v1/dynamic/{code['id']}/qr?format=pdf&size_mm=40", headers=auth)
        assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
        from tests.images.raster import decode, pdf_image

        assert [r.text for r in decode(pdf_image(pdf.content))] == [code["short_url"]]
    finally:
        server.stop()
