"""Every scan answered with a 302 is stored exactly once, whatever happens to the server process
or its database afterwards: a real server (`python app.py`), clients counting the 302s they get,
then SIGKILL, a PostgreSQL outage longer than any retry budget, a stop during an outage, and a
journal folder the server cannot write. Each request carries a referrer host of its own, so the
stored rows say which answered scans are there, and that none is there twice.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from contextlib import contextmanager

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.support import databases
from tests.support.servers import PHONE, AppProcess

pytestmark = pytest.mark.slow

CLIENTS = 6
RETRY_MAX = "0.1"  # seconds between retries at most: an outage of seconds means many attempts
OLD_GIVE_UP = 40  # failed writes after which the recorder used to drop a batch


def seed_one_code(url: str, tmp_path) -> None:
    """Migrate, then one account and one code, /load-test."""
    databases.upgrade(url, tmp_path)
    databases.add_one_code(url)


@contextmanager
def suite_database(tmp_path):
    """The database of the pass (a SQLite file, or a PostgreSQL database of its own), seeded."""
    if databases.ON_POSTGRESQL:
        url = databases.create_postgresql_database("durable")
        try:
            seed_one_code(url, tmp_path)
            yield url
        finally:
            databases.drop_postgresql_database(url)
    else:
        url = f"sqlite:///{tmp_path / 'openqr.db'}"
        seed_one_code(url, tmp_path)
        yield url


def stored_referrers(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [row[0] for row in connection.execute(text("SELECT referrer FROM scans"))]
    finally:
        engine.dispose()


def rolled_up(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT coalesce(sum(n), 0) FROM scan_days")).scalar_one()
    finally:
        engine.dispose()


class Clients:
    """CLIENTS threads scanning /load-test without pause; each request has a referrer host of its
    own, kept when its answer is a 302 to the destination."""

    def __init__(self, base: str):
        self.base = base
        self.answered: list[str] = []
        self.wrong: list[str] = []
        self.sent = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(CLIENTS)]
        for thread in self._threads:
            thread.start()

    def _run(self, client: int) -> None:
        with requests.Session() as session:
            n = 0
            while not self._stop.is_set():
                n += 1
                host = f"c{client}-{n}.example"
                self.sent += 1
                try:
                    response = session.get(
                        f"{self.base}/load-test",
                        headers={"User-Agent": PHONE, "Referer": f"https://{host}/"},
                        allow_redirects=False,
                        timeout=10,
                    )
                except requests.RequestException:
                    continue  # no answer (the server was killed): not a scan anyone was told of
                if response.status_code == 302 and response.headers["Location"] == "https://example.com/":
                    self.answered.append(host)
                else:
                    self.wrong.append(f"{response.status_code} {response.text[:80]}")

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)


def wait_for(predicate, timeout: float, what: str, server=None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            detail = f"\n{healthz(server)}\n{server.log()[-3000:]}" if server is not None else ""
            raise AssertionError(f"not {what} after {timeout} s{detail}")
        time.sleep(0.2)


def assert_each_answered_scan_stored_once(url: str, answered: list[str], in_flight: int = 0) -> None:
    """Every answered scan stored, none twice; at most `in_flight` more (journaled, then the
    process died before its answer left), and the roll-ups agree with the rows."""
    rows = stored_referrers(url)
    assert len(rows) == len(set(rows)), "a scan was stored twice"
    missing = set(answered) - set(rows)
    assert not missing, f"{len(missing)} of {len(answered)} answered scans were not stored"
    assert len(rows) - len(answered) <= in_flight, (len(rows), len(answered))
    assert rolled_up(url) == len(rows)


def start_again_and_wait(tmp_path, url: str, answered: list[str], in_flight: int = 0) -> None:
    """Start the server again on the same instance folder; every answered scan is stored once."""
    again = AppProcess(tmp_path, "server", url)
    try:
        again.wait_ready()
        wait_for(lambda: len(stored_referrers(url)) >= len(answered), 20, "every scan stored", again)
        # Rows become visible at the commit; the journal is trimmed just after it.
        wait_for(lambda: healthz(again)["journal"]["pending_records"] == 0, 20, "the journal trimmed", again)
        assert again.stop() == 0, again.log()
    finally:
        again.stop()
    assert_each_answered_scan_stored_once(url, answered, in_flight)


def healthz(server) -> dict:
    return requests.get(server.url + "/healthz", timeout=10).json()


@contextmanager
def scanned(tmp_path, url: str, scan_for: float, **settings: str):
    """A server on `url` (ready), then clients scanning it for `scan_for` seconds; yields
    (server, clients) with the clients still scanning. Both end with the block."""
    server = AppProcess(tmp_path, "server", url, **settings)
    clients = None
    try:
        server.wait_ready()
        clients = Clients(server.url)
        time.sleep(scan_for)
        yield server, clients
    finally:
        if clients is not None:
            clients.stop()
        server.stop()


def test_sigkill_under_load_loses_no_answered_scan(tmp_path):
    with suite_database(tmp_path) as url, scanned(tmp_path, url, 3.0) as (server, clients):
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        clients.stop()
        answered = clients.answered
        assert len(answered) > 100 and not clients.wrong, (len(answered), clients.wrong[:3])
        before = len(stored_referrers(url))
        start_again_and_wait(tmp_path, url, answered, in_flight=CLIENTS)
        print(f"SIGKILL: {len(answered)} answered, {before} stored at the kill, {len(answered)} after")


def test_an_unwritable_journal_folder_keeps_redirecting_and_counts_the_scans_it_could_not_keep(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    unwritable = {"OPENQR_SCAN_JOURNAL_DIR": str(blocker / "journal")}
    with suite_database(tmp_path) as url, scanned(tmp_path, url, 2.0, **unwritable) as (server, clients):
        clients.stop()
        answered = clients.answered
        assert len(answered) > 100 and not clients.wrong, (len(answered), clients.wrong[:3])
        body = healthz(server)
        assert body["journal"]["write_failures"] == len(answered)
        assert body["journal"]["writable"] is False
        assert server.stop() == 0, server.log()
        log = server.log()
        assert "cannot open the scan journal" in log
        assert log.count("cannot open the scan journal") <= 2, log  # once per 10 s, not per scan
        # Kept in memory instead; with the database up, every one of them is stored all the same.
        assert_each_answered_scan_stored_once(url, answered)


on_postgresql_pass = pytest.mark.skipif(
    not databases.ON_POSTGRESQL, reason="runs in the PostgreSQL pass (a private cluster)"
)


@on_postgresql_pass
def test_postgresql_down_longer_than_any_retry_budget_then_up_stores_every_scan(private_postgres, tmp_path):
    url = private_postgres.url
    seed_one_code(url, tmp_path)
    settings = {"OPENQR_SCAN_RETRY_MAX": RETRY_MAX, "OPENQR_LOG_LEVEL": "INFO"}
    with scanned(tmp_path, url, 1.0, **settings) as (server, clients):
        private_postgres.stop()
        down_at = len(clients.answered)
        time.sleep(15.0)  # at most 0.1 s between attempts: well over a hundred failed writes
        during = len(clients.answered) - down_at
        body = requests.get(server.url + "/healthz", timeout=10)
        assert body.status_code == 503
        assert body.json()["journal"]["pending_records"] >= during > 300
        private_postgres.start()
        backlog = len(clients.answered)
        wait_for(lambda: len(stored_referrers(url)) >= backlog, 30, "the outage's scans stored", server)
        clients.stop()
        wait_for(lambda: len(stored_referrers(url)) >= len(clients.answered), 15, "every scan stored", server)
        assert not clients.wrong, clients.wrong[:3]
        assert server.stop() == 0, server.log()
        attempts = [int(n) for n in re.findall(r"stored again after (\d+) failed attempts", server.log())]
        assert attempts and max(attempts) > OLD_GIVE_UP, attempts
        assert_each_answered_scan_stored_once(url, clients.answered)
        print(f"PostgreSQL down 15 s: {len(clients.answered)} answered, {during} during the outage")


@on_postgresql_pass
def test_sigterm_during_a_postgresql_outage_then_a_start_after_it_stores_every_scan(
    private_postgres, tmp_path
):
    url = private_postgres.url
    seed_one_code(url, tmp_path)
    with scanned(tmp_path, url, 1.0) as (server, clients):
        private_postgres.stop()
        time.sleep(4.0)
        clients.stop()
        answered = clients.answered
        started = time.monotonic()
        assert server.stop() == 0, server.log()
        assert time.monotonic() - started < 10  # a deploy is not held up by the outage
        assert "they wait in the scan journal" in server.log()
        private_postgres.start()
        before = len(stored_referrers(url))
        assert before < len(answered)  # the stop could not store them all: the journal holds the rest
        assert not clients.wrong, clients.wrong[:3]
        start_again_and_wait(tmp_path, url, answered)
        print(f"SIGTERM during an outage: {len(answered)} answered, {before} stored at the stop")


@databases.sqlite_only("its write lock")
def test_sigterm_while_sqlite_is_write_locked_then_a_start_after_stores_every_scan(tmp_path):
    """SQLite's outage: another process (a backup, a migration) holds the write lock."""
    with suite_database(tmp_path) as url, scanned(tmp_path, url, 1.0) as (server, clients):
        holder = databases.SqliteWriteLock(tmp_path / "openqr.db")
        try:
            time.sleep(3.0)
            clients.stop()
            assert server.stop(timeout=30) == 0, server.log()
            holder.release()
        finally:
            holder.close()
        assert not clients.wrong, clients.wrong[:3]
        start_again_and_wait(tmp_path, url, clients.answered)
