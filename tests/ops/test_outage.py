"""Database outages under a stream of scans to a real server process (`python app.py`).

PostgreSQL: a private cluster (made with `initdb`, owned by the test) is stopped for seconds,
then started again. SQLite: another process holds the write lock (`BEGIN EXCLUSIVE`), as a
backup or a long migration does. Meanwhile every code keeps redirecting to its destination,
`/healthz` answers 503, the API 503 JSON with Retry-After, the dashboard a readable 503 page;
afterwards every answered scan is stored.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests
from sqlalchemy import create_engine, func, select, text

from openqr import create_app
from openqr.auth.accounts import get_or_create_account
from openqr.auth.keys import create_key
from openqr.auth.workspaces import first_workspace
from openqr.extensions import db
from openqr.models import Scan
from tests.support import databases
from tests.support.htmlparse import Page
from tests.support.servers import PHONE, AppProcess

pytestmark = pytest.mark.slow

SEEDED = 40  # codes in the database before the server starts (none scanned before the outage)


class ScanStream:
    """One thread scanning every code in turn, as fast as the server answers; keeps each answer."""

    def __init__(self, base: str, destinations: dict[str, str]):
        self.base, self.destinations = base, destinations
        self.answers: list[tuple[str, int, str | None]] = []  # slug, status, Location
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        slugs = list(self.destinations)
        with requests.Session() as session:
            i = 0
            while not self._stop.is_set():
                slug = slugs[i % len(slugs)]
                i += 1
                try:
                    response = session.get(
                        f"{self.base}/{slug}",
                        headers={"User-Agent": PHONE},
                        allow_redirects=False,
                        timeout=10,
                    )
                except requests.RequestException as err:
                    self.errors.append(repr(err))
                    continue
                self.answers.append((slug, response.status_code, response.headers.get("Location")))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)

    def wrong(self) -> list:
        return [answer for answer in self.answers if answer[1:] != (302, self.destinations[answer[0]])]


def seed(url: str, tmp_path) -> tuple[dict[str, str], str, str]:
    """Migrate, add SEEDED codes and an API key; returns (slug -> destination, key, session cookie)."""
    databases.upgrade(url, tmp_path)
    engine = create_engine(url)
    destinations = {f"seeded-{n}": f"https://example.com/poster/{n}" for n in range(SEEDED)}
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO accounts (email, created_at, session_version) "
                "VALUES ('owner@example.com', '2025-01-01 00:00:00', 0)"
            )
        )
        # The account's workspace, as a sign-up makes it (migration 0010 numbers it as the account).
        connection.execute(
            text("INSERT INTO workspaces (id, name, created_at) VALUES (1, 'owner', '2025-01-01')")
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
                "updated_at) "
                "VALUES (:id, 1, :slug, :destination, '{}', 'active', '2025-01-01', '2025-01-01')"
            ),
            [
                {"id": f"c{n}", "slug": slug, "destination": d}
                for n, (slug, d) in enumerate(destinations.items())
            ],
        )
    engine.dispose()
    app = create_app(
        {"OPENQR_DATABASE_URL": url, "OPENQR_SECRET_KEY": "test-secret"}, instance_path=str(tmp_path)
    )
    with app.app_context():
        account = get_or_create_account("owner@example.com")
        _key, plain = create_key(first_workspace(account), "outage", created_by=account)
        cookie = app.session_interface.get_signing_serializer(app).dumps(
            {"_user_id": f"{account.id}:{account.session_version}", "_fresh": True}
        )
        db.session.remove()
        db.engine.dispose()
    return destinations, plain, cookie


def stored_scans(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(Scan.__table__)).scalar_one()
    finally:
        engine.dispose()


def wait_for(predicate, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, f"not {what} after {timeout} s"
        time.sleep(0.1)
    return time.monotonic() - started


def healthz(server) -> int:
    return requests.get(server.url + "/healthz", timeout=10).status_code


def assert_unavailable_json(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"] == "unavailable" and response.json()["message"]
    assert int(response.headers["Retry-After"]) > 0


def assert_unavailable_page(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Temporarily unavailable" in Page(response.text).text
    assert int(response.headers["Retry-After"]) > 0


@pytest.mark.skipif(not databases.ON_POSTGRESQL, reason="runs in the PostgreSQL pass (a private cluster)")
def test_postgresql_stopped_and_restarted_under_a_stream_of_scans(private_postgres, tmp_path):
    url = private_postgres.url
    destinations, key, cookie = seed(url, tmp_path)
    server = AppProcess(tmp_path, "server", url)
    stream = None
    try:
        server.wait_ready()
        auth = {"Authorization": f"Bearer {key}"}
        created = requests.post(
            server.url + "/v1/dynamic",
            json={"destination": "https://example.com/new"},
            headers=auth,
            timeout=10,
        ).json()
        destinations[created["slug"]] = "https://example.com/new"  # never scanned before the outage
        stream = ScanStream(server.url, destinations)
        time.sleep(1.0)

        private_postgres.stop()
        down_at = len(stream.answers)
        assert healthz(server) == 503
        assert_unavailable_json(requests.get(server.url + "/v1/dynamic", headers=auth, timeout=10))
        assert_unavailable_json(
            requests.patch(
                f"{server.url}/v1/dynamic/{created['id']}",
                json={"destination": "https://example.com/lost"},
                headers=auth,
                timeout=10,
            )
        )
        assert_unavailable_page(requests.get(server.url + "/codes", cookies={"session": cookie}, timeout=10))
        assert_unavailable_page(requests.get(server.url + "/no-such-code", timeout=10))
        time.sleep(3.0)
        during = stream.answers[down_at:]
        scanned_during = {slug for slug, *_ in during}
        private_postgres.start()

        wait_for(lambda: healthz(server) == 200, 15, "healthy again")
        time.sleep(0.5)
        stream.stop()
        assert not stream.errors and not stream.wrong(), (stream.errors[:3], stream.wrong()[:3])
        assert len(during) > 2 * len(destinations) and scanned_during == set(destinations)
        patched = requests.patch(
            f"{server.url}/v1/dynamic/{created['id']}",
            json={"destination": "https://example.com/after"},
            headers=auth,
            timeout=10,
        )
        assert patched.status_code == 200
        after = requests.get(
            f"{server.url}/{created['slug']}",
            headers={"User-Agent": PHONE},
            allow_redirects=False,
            timeout=10,
        )
        assert after.headers["Location"] == "https://example.com/after"
        assert server.stop() == 0, server.log()
        # Every scan answered (the stream's and the last one) is stored, those of the outage too.
        assert stored_scans(url) == len(stream.answers) + 1
    finally:
        if stream is not None:
            stream.stop()
        server.stop()


@databases.sqlite_only("its write lock")
def test_sqlite_write_locked_by_another_process_under_a_stream_of_scans(tmp_path):
    path = tmp_path / "openqr.db"
    url = f"sqlite:///{path}"
    destinations, key, _cookie = seed(url, tmp_path)
    server = AppProcess(tmp_path, "server", url)
    stream = holder = None
    try:
        server.wait_ready()
        auth = {"Authorization": f"Bearer {key}"}
        stream = ScanStream(server.url, destinations)
        time.sleep(0.5)
        holder = databases.SqliteWriteLock(path)
        locked_at = len(stream.answers)
        assert healthz(server) == 503
        # Reads go on (WAL): an unknown slug is known to be unknown.
        assert requests.get(server.url + "/no-such-code", timeout=10).status_code == 404
        # A write waits for the lock (busy timeout, 10 s), then gives up with a 503.
        started = time.monotonic()
        assert_unavailable_json(
            requests.post(
                server.url + "/v1/dynamic",
                json={"destination": "https://example.com/x"},
                headers=auth,
                timeout=30,
            )
        )
        assert time.monotonic() - started < 15
        during = stream.answers[locked_at:]
        holder.release()

        wait_for(lambda: healthz(server) == 200, 10, "healthy again")
        stream.stop()
        assert not stream.errors and not stream.wrong(), (stream.errors[:3], stream.wrong()[:3])
        assert {slug for slug, *_ in during} == set(destinations)
        assert server.stop() == 0, server.log()
        assert stored_scans(url) == len(stream.answers)
    finally:
        if stream is not None:
            stream.stop()
        if holder is not None:
            holder.close()
        server.stop()
