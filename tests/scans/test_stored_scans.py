"""One reader of a code's stored scans: the dashboard's list, a capped code's status and the link table."""

from __future__ import annotations

import datetime as dt

from openqr.models import utcnow
from openqr.scans import analytics
from openqr.scans.classify import ScanEvent
from openqr.scans.store import store_scans
from openqr.services import services
from tests.dashboard.test_dashboard import make_code


def _store(app, code_id: str, days_ago: int, count: int) -> None:
    at = utcnow() - dt.timedelta(days=days_ago)
    with app.app_context():
        assert store_scans([ScanEvent(code_id, at, "GB", "mobile", None)] * count) == count


def test_stored_scans_counts_all_or_since_a_day_and_names_every_code(app):
    busy, quiet = make_code(app), make_code(app)
    _store(app, busy, 10, 3)
    _store(app, busy, 2, 4)
    with app.app_context():
        assert analytics.stored_scans([busy, quiet]) == {busy: 7, quiet: 0}
        since = utcnow().date() - dt.timedelta(days=6)
        assert analytics.stored_scans([busy, quiet], since=since) == {busy: 4, quiet: 0}
        assert analytics.scan_counts([busy, quiet]) == {busy: (7, 4), quiet: (0, 0)}
        assert analytics.stored_scans([]) == {}
        with services(app).links.engine.connect() as connection:  # the link table's own engine
            assert analytics.stored_scans([busy], connection=connection) == {busy: 7}


def test_a_capped_code_ends_by_the_same_count_in_the_api_and_the_redirect(app, api):
    capped = api.create(max_scans=3)
    _store(app, capped["id"], 1, 3)
    listed = api.get("/v1/dynamic").get_json()["codes"]
    assert [code["status"] for code in listed] == ["ended"]
    assert api.get(f"/v1/dynamic/{capped['id']}").get_json()["status"] == "ended"
    table = services(app).links
    table.poll()
    assert table.scans_of(capped["id"]) == 3
    assert app.test_client().get(f"/{capped['slug']}").status_code == 410
