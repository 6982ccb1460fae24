"""Scans stay anonymous: no IP address, full user agent or referrer path reaches the database or the logs."""

from __future__ import annotations

import logging
import sqlite3

from sqlalchemy import func, select

from openqr.extensions import db
from openqr.models import Scan
from openqr.services import services
from tests.conftest import Api, fresh_app, new_key
from tests.support.databases import sqlite_only

IPS = ["81.2.69.142", "2a02:c7f:dead:beef::1234", "100.64.12.34", "10.99.88.77"]
FORWARDED = "81.2.69.160, 198.51.100.23"
AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AnonProbe/7.3.1-zq Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AnonProbe/9.9.9-desk Chrome/120.0",
    "curl/8.4.0-anonprobe",
]
REFERRER = "https://ref.example/secret-path/alice?session=s3cr3t-token"
SECRETS = [
    *IPS,
    *FORWARDED.split(", "),
    *AGENTS,
    "AnonProbe",
    "anonprobe",
    "secret-path",
    "alice",
    "s3cr3t-token",
]


def _dump(database_file) -> str:
    connection = sqlite3.connect(database_file)
    try:
        return "\n".join(connection.iterdump())
    finally:
        connection.close()


@sqlite_only("it searches a dump of the SQLite file; PostgreSQL stores the same rows")
def test_no_ip_user_agent_or_referrer_path_is_ever_stored_or_logged(tmp_path, caplog):
    app = fresh_app(tmp_path, OPENQR_TRUSTED_PROXIES=(), OPENQR_LOG_LEVEL="DEBUG")
    api = Api(app.test_client(), new_key(app))
    code = api.create("https://example.com/landing")
    client = app.test_client()
    caplog.set_level(logging.DEBUG)
    sent = 0
    for ip in IPS:
        for agent in AGENTS:
            headers = {"User-Agent": agent, "Referer": REFERRER, "X-Forwarded-For": FORWARDED}
            response = client.get(f"/{code['slug']}", headers=headers, environ_base={"REMOTE_ADDR": ip})
            assert response.status_code == 302
            sent += 1
    # Also a bot, a HEAD, and an unknown slug: none may leave a trace either.
    client.get(
        f"/{code['slug']}",
        headers={"User-Agent": "Googlebot AnonProbe"},
        environ_base={"REMOTE_ADDR": IPS[0]},
    )
    client.head(f"/{code['slug']}", headers={"User-Agent": AGENTS[0]}, environ_base={"REMOTE_ADDR": IPS[1]})
    client.get("/no-such-code", headers={"User-Agent": AGENTS[1]}, environ_base={"REMOTE_ADDR": IPS[2]})
    services(app).recorder.flush()
    with app.app_context():
        # The scans were counted (curl is a tool, not a person: redirected but not counted).
        assert db.session.scalar(select(func.count()).select_from(Scan)) == sent - len(IPS)
        db.session.remove()
        db.engine.dispose()

    dump = _dump(tmp_path / "test.db")
    assert "INSERT INTO" in dump and "ref.example" in dump  # the dump is real: the referrer host is kept
    logs = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records) + caplog.text
    for secret in SECRETS:
        assert secret not in dump, f"{secret!r} was written to the database"
        assert secret not in logs, f"{secret!r} was written to the logs"
