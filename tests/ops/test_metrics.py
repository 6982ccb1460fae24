"""GET /metrics: off without a token, Bearer-guarded with one, parsed with prometheus_client's own parser."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from openqr.extensions import db
from openqr.services import services
from tests.conftest import Api, close_app, fresh_app, new_key
from tests.support.receiver import Receiver
from tests.support.servers import PHONE

TOKEN = "s3cret-metrics-token"
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
def metered(tmp_path):
    app = fresh_app(
        tmp_path,
        OPENQR_METRICS_TOKEN=TOKEN,
        OPENQR_WEBHOOK_ALLOW_HOSTS=frozenset({"127.0.0.1"}),
        OPENQR_WEBHOOK_INTERVAL=0.05,
    )
    yield app
    close_app(app)


def scrape(app) -> dict[tuple, float]:
    """Every sample as {(name, (sorted labels without `process`)): value}."""
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "process"))
            samples[(sample.name, labels)] = sample.value
    return samples


def test_off_without_the_setting(app, client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 404


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "]
)
def test_a_wrong_or_missing_token_is_401(metered, header):
    headers = {"Authorization": header} if header else {}
    response = metered.test_client().get("/metrics", headers=headers)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert b"openqr_" not in response.data


def test_counters_move_as_scans_happen(metered):
    api = Api(metered.test_client(), new_key(metered))
    receiver = Receiver()
    try:
        response = api.post("/v1/webhooks", json={"url": receiver.url, "events": ["scan"]})
        assert response.status_code == 201
        code = api.create()
        before = scrape(metered)
        visitor = metered.test_client()
        for _ in range(3):  # the first through Flask's view, the next through the fast path
            assert visitor.get(f"/{code['slug']}", headers={"User-Agent": PHONE}).status_code == 302
        assert visitor.get(f"/{code['slug']}", headers={"User-Agent": BOT}).status_code == 302
        assert visitor.head(f"/{code['slug']}", headers={"User-Agent": PHONE}).status_code == 302
        assert visitor.get("/no-such-code").status_code == 404
        services(metered).deliverer.run_once()
        after = scrape(metered)
    finally:
        receiver.down()

    def moved(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert moved("openqr_redirects_total", outcome="scan") == 3
    assert moved("openqr_redirects_total", outcome="bot") == 2
    assert moved("openqr_redirects_total", outcome="not_found") == 1
    assert moved("openqr_scans_written_total") == 3
    assert moved("openqr_scan_flush_seconds_count") == 3  # tests write each scan at once
    assert moved("openqr_http_requests_total", blueprint="redirect", status="302") == 5
    assert moved("openqr_http_requests_total", blueprint="redirect", status="404") == 1
    assert moved("openqr_webhook_deliveries_total", result="delivered") == 1
    assert after[("openqr_webhook_outbox_events", ())] == 0
    assert before[("openqr_webhook_outbox_events", ())] == 0 and before[("openqr_scans_buffered", ())] == 0
    assert after[("openqr_scans_dropped_total", ())] == 0 and after[("openqr_scans_failed_total", ())] == 0
    assert any(name == "openqr_build_info" for name, _ in after)
    assert ("openqr_database_errors_total", ()) in after


def test_outbox_depth_counts_waiting_events_and_ended_codes_are_counted(metered):
    api = Api(metered.test_client(), new_key(metered))
    receiver = Receiver()
    receiver.down()  # nothing listens: events wait
    api.post("/v1/webhooks", json={"url": receiver.url, "events": ["scan", "code.created"]})
    code = api.create()
    visitor = metered.test_client()
    for _ in range(4):
        visitor.get(f"/{code['slug']}", headers={"User-Agent": PHONE})
    assert scrape(metered)[("openqr_webhook_outbox_events", ())] == 5
    assert metered.test_cli_runner().invoke(args=["codes", "disable", code["slug"]]).exit_code == 0
    before = scrape(metered)[("openqr_redirects_total", (("outcome", "ended"),))]
    assert visitor.get(f"/{code['slug']}", headers={"User-Agent": PHONE}).status_code == 410
    assert scrape(metered)[("openqr_redirects_total", (("outcome", "ended"),))] == before + 1


def test_database_errors_are_counted(metered):
    before = scrape(metered)[("openqr_database_errors_total", ())]
    with metered.app_context():
        for _ in range(3):  # the error raised is the driver's every time, however many came before
            with pytest.raises(DBAPIError):
                db.session.execute(text("SELECT no_such_column FROM codes"))
            db.session.rollback()
    assert scrape(metered)[("openqr_database_errors_total", ())] == before + 3


def test_the_scan_journal_is_in_the_metrics(metered, monkeypatch):
    """What the journal holds while the database cannot take its scans, and what it could not write."""
    from openqr.scans import store as scans

    api = Api(metered.test_client(), new_key(metered))
    code = api.create()
    visitor = metered.test_client()
    assert visitor.get(f"/{code['slug']}", headers={"User-Agent": PHONE}).status_code == 302
    stored = scrape(metered)
    assert stored[("openqr_scan_journal_pending_records", ())] == 0
    assert stored[("openqr_scan_journal_pending_bytes", ())] == 0
    assert stored[("openqr_scan_journal_segments", ())] == 1

    def down(*_args, **_kwargs):
        raise DBAPIError("INSERT", {}, Exception("the database is down"))

    monkeypatch.setattr(scans, "store_scans", down)
    for _ in range(4):
        assert visitor.get(f"/{code['slug']}", headers={"User-Agent": PHONE}).status_code == 302
    waiting = scrape(metered)
    assert waiting[("openqr_scan_journal_pending_records", ())] == 4
    assert waiting[("openqr_scans_buffered", ())] == 4
    assert waiting[("openqr_scan_journal_pending_bytes", ())] > 0
    recorder = services(metered).recorder
    recorder.journal.release()  # the disk gives up on it: scans go on, kept in memory
    assert visitor.get(f"/{code['slug']}", headers={"User-Agent": PHONE}).status_code == 302
    assert scrape(metered)[("openqr_scan_journal_write_failures_total", ())] == 1
    monkeypatch.undo()
    recorder.flush()
    after = scrape(metered)
    assert after[("openqr_scans_buffered", ())] == 0 and after[("openqr_scans_written_total", ())] == 6
