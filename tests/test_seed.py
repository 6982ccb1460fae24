"""`flask scans seed`: realistic scans, raw rows and roll-ups that agree."""

from __future__ import annotations

from sqlalchemy import func, select

from openqr.extensions import db
from openqr.models import Scan, ScanDay, ScanDayValue


def test_seed_writes_rows_and_matching_rollups(app, api, runner):
    code = api.create()
    result = runner.invoke(args=["scans", "seed", "--code", code["slug"], "--count", "3000", "--days", "30"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Scan)).scalar_one() == 3000
        assert db.session.execute(select(func.sum(ScanDay.n))).scalar_one() == 3000
        per_dimension = dict(
            db.session.execute(
                select(ScanDayValue.dimension, func.sum(ScanDayValue.n)).group_by(ScanDayValue.dimension)
            ).all()
        )
        assert per_dimension == {"country": 3000, "device": 3000, "referrer": 3000}
    body = api.get(f"/v1/dynamic/{code['id']}/scans?days=30").get_json()
    assert body["scans"]["total"] == 3000 and body["analytics"]["window_total"] == 3000
    assert body["scans"]["topDevice"] == "mobile"
    assert len(body["analytics"]["by_country"]) == 8


def test_seed_names_an_unknown_code(runner):
    result = runner.invoke(args=["scans", "seed", "--code", "nope", "--count", "10"])
    assert result.exit_code != 0 and "no code with slug nope" in result.output
