"""A real server process resolves through the test's resolver (a sitecustomize patches
`socket.getaddrinfo` in it) and is fenced to loopback: it looks a webhook's host up once per
attempt, connects only to what it checked, and a rebinding name never reaches the receiver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select

from openqr.models import Webhook, WebhookDelivery
from tests.conftest import close_app, empty_database, make_app, new_key
from tests.support.receiver import Receiver
from tests.support.servers import ROOT, AppProcess

SERVERSIDE = Path(__file__).resolve().parent / "serverside"
PUBLIC = "93.184.215.14"

pytestmark = pytest.mark.slow


def _lines(log: Path, kind: str) -> list[list[str]]:
    text = log.read_text() if log.exists() else ""
    return [line.split()[1:] for line in text.splitlines() if line.startswith(kind + " ")]


def test_a_server_process_looks_up_once_per_attempt_and_connects_only_where_it_checked(tmp_path):
    url = empty_database(tmp_path)
    local = make_app(tmp_path, OPENQR_DATABASE_URL=url)
    key = new_key(local)
    close_app(local)
    receiver = Receiver()
    table = {
        "hooks.partner.test": [["127.0.0.1"]],
        # public to the creation's check and to the first delivery, loopback from then on
        "rebind.evil.example": [[PUBLIC], [PUBLIC], ["127.0.0.1"]],
        "example.com": [[PUBLIC]],
    }
    log = tmp_path / "network.log"
    server = AppProcess(
        tmp_path,
        "server",
        url,
        PYTHONPATH=f"{SERVERSIDE}:{ROOT}",
        FAKEDNS_TABLE=json.dumps(table),
        FAKEDNS_LOG=str(log),
        OPENQR_RESOLVE_DESTINATIONS="true",
        OPENQR_WEBHOOK_ALLOW_HOSTS=f"hooks.partner.test:{receiver.port}",
        OPENQR_WEBHOOK_INTERVAL="0.05",
        OPENQR_WEBHOOK_RETRY_BASE="0.2",
        OPENQR_WEBHOOK_TIMEOUT="1",
    )
    engine = create_engine(url)
    try:
        server.wait_ready()
        auth = {"Authorization": f"Bearer {key}"}
        for hook_url in (
            f"http://hooks.partner.test:{receiver.port}/partner",
            f"http://rebind.evil.example:{receiver.port}/rebind",
        ):
            body = {"url": hook_url, "events": ["code.created"]}
            response = requests.post(server.url + "/v1/webhooks", json=body, headers=auth, timeout=10)
            assert response.status_code == 201, response.text
        code = requests.post(
            server.url + "/v1/dynamic", json={"destination": "https://example.com/"}, headers=auth, timeout=10
        )
        assert code.status_code == 201, code.text
        rebound = ["rebind.evil.example", "127.0.0.1"]
        done = receiver.wait_for(lambda: receiver.requests and rebound in _lines(log, "lookup"), timeout=20)
        assert done, server.log()
    finally:
        server.stop()
        receiver.down()
    with engine.connect() as connection:
        rebind = connection.execute(
            select(WebhookDelivery).join(Webhook).where(Webhook.url.contains("rebind"))
        ).one()
    engine.dispose()

    assert [request["path"] for request in receiver.requests] == ["/partner"]
    assert receiver.requests[0]["host"] == f"hooks.partner.test:{receiver.port}"
    lookups = [name for name, *_ in _lines(log, "lookup")]
    # One look-up when the webhook was made (OPENQR_RESOLVE_DESTINATIONS), one per delivery attempt.
    assert lookups.count("rebind.evil.example") == 1 + rebind.attempts
    assert rebind.attempts >= 2 and rebind.status == "pending"
    assert "resolves to 127.0.0.1" in rebind.last_error
    connects = {tuple(line) for line in _lines(log, "connect")}
    # The partner's checked address, and the rebinding name's public answer (stopped by the fence):
    # never the receiver under the rebinding name, never anything but what was checked.
    assert connects == {("127.0.0.1", str(receiver.port), "allowed"), (PUBLIC, str(receiver.port), "blocked")}
