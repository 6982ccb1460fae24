"""Webhook delivery by real server processes: a SIGKILL loses no event, and two processes on one
PostgreSQL database deliver each event exactly once between them."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, func, select

from openqr import create_app
from openqr.models import Scan, WebhookDelivery
from tests.conftest import close_app, empty_database, new_key
from tests.support import databases
from tests.support.receiver import Receiver
from tests.support.servers import PHONE, AppProcess

FAST = {
    "OPENQR_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    "OPENQR_WEBHOOK_INTERVAL": "0.05",
    "OPENQR_WEBHOOK_RETRY_BASE": "0.2",
    "OPENQR_WEBHOOK_TIMEOUT": "1",
}


def _key(url: str, tmp_path) -> str:
    """An API key made by an app in this process on the servers' database."""
    app = create_app(
        {"OPENQR_DATABASE_URL": url, "OPENQR_SECRET_KEY": "test-secret"}, instance_path=str(tmp_path)
    )
    try:
        return new_key(app)
    finally:
        close_app(app)


def _setup(base: str, key: str, receiver: Receiver) -> dict:
    """A webhook on every event type and one code, made through the server's API."""
    auth = {"Authorization": f"Bearer {key}"}
    body = {"url": receiver.url, "events": ["scan", "code.created", "code.updated", "code.deleted"]}
    hook = requests.post(base + "/v1/webhooks", json=body, headers=auth, timeout=10)
    assert hook.status_code == 201, hook.text
    receiver.secret = hook.json()["secret"]
    code = requests.post(
        base + "/v1/dynamic", json={"destination": "https://example.com/"}, headers=auth, timeout=10
    )
    assert code.status_code == 201
    return code.json()


def _scan(bases: list[str], slug: str, n: int) -> None:
    def one(i: int) -> int:
        response = requests.get(
            f"{bases[i % len(bases)]}/{slug}",
            headers={"User-Agent": PHONE},
            allow_redirects=False,
            timeout=10,
        )
        return response.status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, range(n))) == {302}


def _count(engine, query) -> int:
    with engine.connect() as connection:
        return connection.execute(query).scalar_one()


def test_a_sigkill_loses_no_event(tmp_path):
    url = empty_database(tmp_path)
    key = _key(url, tmp_path / "local")
    receiver = Receiver()
    receiver.answer = 500  # events pile up, attempts keep failing
    engine = create_engine(url)
    server = AppProcess(tmp_path, "first", url, **FAST)
    try:
        server.wait_ready()
        code = _setup(server.url, key, receiver)
        _scan([server.url], code["slug"], 200)
        pending_events = select(func.coalesce(func.sum(WebhookDelivery.event_count), 0)).where(
            WebhookDelivery.status == "pending"
        )
        assert receiver.wait_for(lambda: _count(engine, pending_events) == 201)
        assert receiver.wait_for(lambda: len(receiver.requests) >= 2)  # attempts are being made
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        server.stop()
        attempts_before = len(receiver.requests)

        receiver.answer = 200
        server = AppProcess(tmp_path, "second", url, **FAST)
        server.wait_ready()
        assert receiver.wait_for(lambda: len(receiver.unique_events()) == 201, timeout=30), server.log()
    finally:
        server.stop()
        receiver.down()
        engine.dispose()
    events = receiver.unique_events().values()
    assert (
        sum(event["type"] == "scan" for event in events)
        == 200
        == _count(engine, select(func.count()).select_from(Scan))
    )
    assert all(req["verified"] for req in receiver.requests)
    duplicates = len(receiver.accepted_events()) - len(receiver.unique_events())
    print(
        f"crash test: 201 events, {attempts_before} failed attempts before SIGKILL, {duplicates} duplicates"
    )


@pytest.mark.slow
@pytest.mark.skipif(not databases.ON_POSTGRESQL, reason="two processes share one database on PostgreSQL")
def test_two_processes_deliver_each_event_exactly_once(tmp_path):
    url = databases.create_postgresql_database("hooks")
    receiver = Receiver()
    servers = [AppProcess(tmp_path, name, url, **FAST) for name in "ab"]
    engine = create_engine(url)
    try:
        for server in servers:
            server.wait_ready()
        key = _key(url, tmp_path / "local")
        code = _setup(servers[0].url, key, receiver)
        _scan([server.url for server in servers], code["slug"], 400)
        assert receiver.wait_for(lambda: len(receiver.unique_events()) == 401, timeout=30)
        undelivered = select(func.count()).where(WebhookDelivery.status != "delivered")
        assert receiver.wait_for(lambda: _count(engine, undelivered) == 0)
        retried = _count(engine, select(func.count()).where(WebhookDelivery.attempts != 1))
        rows = _count(engine, select(func.count()).select_from(WebhookDelivery))
    finally:
        for server in servers:
            server.stop()
        receiver.down()
        engine.dispose()
        databases.drop_postgresql_database(url)
    assert len(receiver.accepted_events()) == 401  # no event twice: each row was claimed by one process
    assert retried == 0 and all(req["verified"] and req["status"] == 200 for req in receiver.requests)
    print(f"two processes: 401 events in {rows} outbox rows, {len(receiver.requests)} requests, 0 duplicates")
