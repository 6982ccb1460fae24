"""The hourly limits (single creates here; sign-ins in test_auth.py), their headers and clean-up."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from openqr.extensions import db
from openqr.models import RateEvent, utcnow


def create(api, i=0):
    return api.post("/v1/dynamic", json={"destination": f"https://example.com/{i}"})


def test_twenty_creates_an_hour_then_429(api):
    remaining = []
    for i in range(20):
        response = create(api, i)
        assert response.status_code == 201
        assert response.headers["X-RateLimit-Limit"] == "20"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == list(range(19, -1, -1))
    response = create(api, 99)
    assert response.status_code == 429
    assert response.get_json()["error"] == "rate_limited"
    assert 3500 <= int(response.headers["Retry-After"]) <= 3600
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) > 0
    assert len(api.get("/v1/dynamic?limit=500").get_json()["codes"]) == 20


def test_invalid_creates_do_not_count(api):
    for _ in range(25):
        assert api.post("/v1/dynamic", json={"destination": "nope"}).status_code == 400
    assert create(api).headers["X-RateLimit-Remaining"] == "19"


def test_limit_is_per_account(api, other_api, app):
    app.config["OPENQR_CREATE_LIMIT"] = 1
    assert create(api).status_code == 201
    assert create(api).status_code == 429
    assert create(other_api).status_code == 201


def test_the_window_rolls(api, app):
    app.config["OPENQR_CREATE_LIMIT"] = 2
    assert create(api).status_code == 201
    assert create(api).status_code == 201
    assert create(api).status_code == 429
    with app.app_context():
        db.session.execute(
            update(RateEvent).values(created_at=RateEvent.created_at - dt.timedelta(minutes=61))
        )
        db.session.commit()
    assert create(api).status_code == 201


def test_expired_events_of_every_key_are_pruned(api, app):
    """Keys never seen again (a one-off sign-in address) do not leave rows behind for ever."""
    stale = utcnow() - dt.timedelta(minutes=61)
    with app.app_context():
        db.session.add_all(RateEvent(key=f"login-ip:198.51.100.{i}", created_at=stale) for i in range(40))
        db.session.add(RateEvent(key="login-email:fresh@example.com", created_at=utcnow()))
        db.session.commit()
    assert create(api).status_code == 201
    with app.app_context():
        keys = sorted(db.session.execute(select(RateEvent.key)).scalars())
    assert keys == [f"create:{keys[0].split(':')[1]}", "login-email:fresh@example.com"]
