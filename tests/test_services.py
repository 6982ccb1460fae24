"""The app's services (openqr/services.py): started in order and stopped in the reverse order, each
once, within a bounded wait, leaving no thread behind and every answered scan written."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time

import pytest
from sqlalchemy import func, select

from openqr.extensions import db
from openqr.models import Code, Scan, WebhookDelivery
from openqr.services import services
from tests.assistant.test_mcp_transports import INITIALIZE
from tests.conftest import Api, close_app, fresh_app, new_key
from tests.support.servers import PHONE
from tests.support.waiting import wait_for
from tests.webhooks.test_webhooks import FAST, subscribe

ORDER = ["recorder", "links", "scheduler", "deliverer", "renders", "mail", "mcp"]
THREAD_NAMES = {
    "openqr-scan-flusher",
    "openqr-link-feed",
    "openqr-schedule",
    "openqr-webhooks",
    "openqr-mail",
    "openqr-mcp",
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def stored_scans(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Scan))


def scan(client, slug: str, n: int = 1) -> None:
    for _ in range(n):
        assert client.get(f"/{slug}", headers={"User-Agent": PHONE}).status_code == 302


@pytest.fixture
def buffering(tmp_path):
    """An app whose scans wait in memory for a minute: only a stop (or a flush) writes them."""
    app = fresh_app(tmp_path, OPENQR_SCAN_SYNC=False, OPENQR_SCAN_FLUSH_INTERVAL=60.0)
    yield app
    close_app(app)


def test_the_app_keeps_its_services_under_one_extension_key(app):
    assert [name for name in app.extensions if "openqr" in name] == ["openqr"]
    running = services(app)
    assert running.redirector.recorder is running.recorder and running.redirector.table is running.links
    assert running.metrics.recorder is running.recorder and running.metrics.deliverer is running.deliverer


def test_parts_start_in_order_and_stop_in_the_reverse_order_each_once(buffering, monkeypatch):
    running = services(buffering)
    calls = []
    for name, part in running.background():
        for verb in ("start", "stop"):
            original = getattr(part, verb)

            def spy(*args, _name=name, _verb=verb, _original=original):
                calls.append((_verb, _name))
                return _original(*args)

            monkeypatch.setattr(part, verb, spy)
    running.start()
    running.start()  # a second start does nothing
    running.stop()
    started = time.monotonic()
    running.stop()  # nor does a second stop, and it returns at once
    assert time.monotonic() - started < 0.1
    close_app(buffering)  # the fixtures' teardown: the same call, once more
    assert calls == [("start", name) for name in ORDER] + [("stop", name) for name in reversed(ORDER)]
    with pytest.raises(RuntimeError, match="stopped"):
        running.start()  # its threads are gone for good: a new app serves again


def test_a_stopped_app_leaves_no_thread_running_and_every_scan_written(buffering):
    before = set(threading.enumerate())
    client = buffering.test_client()
    key = new_key(buffering)
    code = Api(client, key).create()
    running = services(buffering)
    running.start()
    scan(client, code["slug"], 3)
    mounted = client.post("/mcp", json=INITIALIZE, headers={"Authorization": f"Bearer {key}", **MCP_HEADERS})
    assert mounted.status_code == 200, mounted.get_data(as_text=True)
    assert {thread.name for thread in set(threading.enumerate()) - before} >= THREAD_NAMES
    assert stored_scans(buffering) == 0  # held in memory

    running.stop()
    left = [thread for thread in set(threading.enumerate()) - before if thread.is_alive()]
    assert left == []
    # Threads other tests left behind (an asyncio executor's, say) are not this app's: only the
    # threads started since `before` are judged, daemon or not (above).
    assert stored_scans(buffering) == 3
    # A request that still reaches /mcp gets the API's 503, not a hang on the stopped loop.
    late = client.post("/mcp", json=INITIALIZE, headers={"Authorization": f"Bearer {key}", **MCP_HEADERS})
    assert late.status_code == 503 and late.headers["Retry-After"] == "5"
    assert late.get_json()["error"] == "unavailable"


def _database_destination(app, code_id: str) -> str:
    with app.app_context():
        destination = db.session.get(Code, code_id).destination
        db.session.remove()
        return destination


def _entry(seconds: int, destination: str) -> dict:
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=seconds)
    return {"at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "destination": destination}


def test_the_scheduler_writes_due_entries_while_started_and_nothing_once_stopped(app):
    api = Api(app.test_client(), new_key(app))
    code = api.create("https://example.com/before", schedule=[_entry(1, "https://example.com/soon")])
    running = services(app)
    running.start()
    # Read from the database, not the API: an API read applies due entries itself.
    assert wait_for(lambda: _database_destination(app, code["id"]) == "https://example.com/soon", 10)
    running.stop()
    later = _entry(1, "https://example.com/later")
    assert api.patch(f"/v1/dynamic/{code['id']}", json={"schedule": [later]}).status_code == 200
    due = dt.datetime.strptime(later["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()
    time.sleep(max(due - time.time(), 0) + 1.5)  # past the entry and the pass that would follow it
    assert _database_destination(app, code["id"]) == "https://example.com/soon"


def _attempts(app) -> int:
    with app.app_context():
        attempts = db.session.scalar(select(func.sum(WebhookDelivery.attempts))) or 0
        db.session.remove()
        return attempts


def test_a_part_that_hangs_is_waited_for_boundedly_and_the_scans_are_still_written(tmp_path):
    """The deliverer is stuck in a POST to an endpoint that never answers: stop waits for it at
    most its timeout, then the recorder writes every held scan."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel accepts connections; nobody ever reads or answers
        app = fresh_app(
            tmp_path,
            **{**FAST, "OPENQR_WEBHOOK_TIMEOUT": 5.0},
            OPENQR_SCAN_SYNC=False,
            OPENQR_SCAN_FLUSH_INTERVAL=60.0,
        )
        before = set(threading.enumerate())
        try:
            client = app.test_client()
            api = Api(client, new_key(app))
            receiver = type("Silent", (), {"url": f"http://127.0.0.1:{silent.getsockname()[1]}/hook"})()
            subscribe(api, receiver, ["code.created"])
            code = api.create()
            running = services(app)
            running.start()
            # The event was claimed (its attempt is written before the POST): the thread now waits.
            assert wait_for(lambda: _attempts(app) == 1)
            time.sleep(0.2)
            scan(client, code["slug"], 4)
            started = time.monotonic()
            running.stop(timeout=0.5)
            took = time.monotonic() - started
            assert 0.4 < took < 3.0, took  # the deliverer's 0.5 s, then the rest quickly
            assert stored_scans(app) == 4
        finally:
            close_app(app)
            for thread in set(threading.enumerate()) - before:
                thread.join(6)  # the stuck POST ends at its own 5 s timeout


def test_a_part_that_fails_to_stop_keeps_no_other_from_stopping(buffering, monkeypatch, caplog):
    client = buffering.test_client()
    code = Api(client, new_key(buffering)).create()
    running = services(buffering)
    running.start()
    scan(client, code["slug"], 2)

    def broken(timeout):
        raise RuntimeError("broken on purpose")

    deliverer_stop = running.deliverer.stop
    monkeypatch.setattr(running.deliverer, "stop", broken)
    with caplog.at_level(logging.ERROR, logger="openqr.services"):
        running.stop()
    assert "could not stop the deliverer cleanly" in caplog.text
    assert stored_scans(buffering) == 2  # the recorder, stopped after it, still wrote them
    assert not running.links._thread.is_alive() and not running.scheduler._thread.is_alive()
    deliverer_stop()  # what the broken stop left running
