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


def test_seeded_rollups_agree_for_the_code_and_the_account(app, api, runner):
    from openqr.scans.seed import seed_rollups

    code, quiet = api.create(), api.create()
    for _ in range(2):  # a second seed adds to the same days: running totals must follow
        result = runner.invoke(
            args=["scans", "seed", "--code", code["slug"], "--count", "1500", "--days", "30"]
        )
        assert result.exit_code == 0, result.output
    with app.app_context():
        seed_rollups([quiet["id"]], 700, 30)
    account = api.get("/v1/scans?days=30").get_json()
    assert account["total"] == account["window_total"] == 3700
    assert [(row["id"], row["n"]) for row in account["by_code"]] == [(code["id"], 3000), (quiet["id"], 700)]
    assert sum(h["n"] for h in account["by_hour"]) == sum(d["n"] for d in account["by_weekday"]) == 3700
    assert sum(row["n"] for row in account["by_device"]) == 3700
    one = api.get(f"/v1/dynamic/{quiet['id']}/scans?days=30").get_json()["analytics"]
    assert one["window_total"] == sum(h["n"] for h in one["by_hour"]) == 700
