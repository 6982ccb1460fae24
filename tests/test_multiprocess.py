"""Two real waitress processes on one PostgreSQL database stay correct together.

Both start at once on an empty database (so they also race the migrations), then:
the hourly create limit and the sign-in limits (per address, per client) hold across
both, a custom slug goes to exactly one of two racing creates, an edit made through one
is served by the other within a second, a schedule entry due at T is honoured by both from
T + 1 s, and every scan answered by either is counted exactly once after both stop with SIGTERM.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle

import pytest
import requests
from sqlalchemy import create_engine, func, select

from openqr import create_app
from openqr.extensions import db
from openqr.models import Code, DestinationChange, Scan, ScanDay, ScanDayValue
from tests.conftest import new_key
from tests.support import databases
from tests.support.servers import PHONE, AppProcess

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not databases.POSTGRESQL_URL, reason=databases.NO_POSTGRESQL),
    pytest.mark.skipif(
        bool(databases.POSTGRESQL_URL) and not databases.ON_POSTGRESQL,
        reason="runs in the PostgreSQL pass (OPENQR_TEST_DB=postgresql, as `make test` does)",
    ),
]

CREATE_LIMIT = 20
LOGIN_PER_EMAIL = 5
LOGIN_PER_CLIENT = 8


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two app processes on a fresh PostgreSQL database; yields (url, [process A, process B])."""
    tmp = tmp_path_factory.mktemp("cluster")
    url = databases.create_postgresql_database("mp")
    servers = [
        AppProcess(
            tmp,
            name,
            url,
            OPENQR_CREATE_LIMIT=str(CREATE_LIMIT),
            OPENQR_LOGIN_LIMIT_PER_EMAIL=str(LOGIN_PER_EMAIL),
            OPENQR_LOGIN_LIMIT_PER_CLIENT=str(LOGIN_PER_CLIENT),
            # Each sign-in test speaks for its own client address through X-Forwarded-For.
            OPENQR_TRUSTED_PROXIES="127.0.0.1",
            OPENQR_THREADS="16",
        )
        for name in "ab"
    ]
    try:
        for server in servers:
            server.wait_ready()
        yield url, servers
    finally:
        for server in servers:
            server.stop()
        databases.drop_postgresql_database(url)


@pytest.fixture(scope="module")
def local_app(cluster, tmp_path_factory):
    """An app in this process on the same database, for keys and for reading rows."""
    url, _servers = cluster
    app = create_app(
        {"OPENQR_DATABASE_URL": url, "OPENQR_SECRET_KEY": "test-secret"},
        instance_path=str(tmp_path_factory.mktemp("local") / "instance"),
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def _create(base: str, key: str, **fields) -> requests.Response:
    body = {"destination": "https://example.com/landing", **fields}
    return requests.post(base + "/v1/dynamic", json=body, headers=_auth(key), timeout=30)


def _scan(base: str, slug: str) -> requests.Response:
    return requests.get(f"{base}/{slug}", headers={"User-Agent": PHONE}, allow_redirects=False, timeout=30)


def test_hourly_create_limit_holds_across_processes(cluster, local_app):
    _url, servers = cluster
    key = new_key(local_app, "limits@example.com")
    bases = [server.url for _, server in zip(range(2 * CREATE_LIMIT), cycle(servers), strict=False)]
    with ThreadPoolExecutor(max_workers=2 * CREATE_LIMIT) as pool:
        statuses = list(pool.map(lambda base: _create(base, key).status_code, bases))
    assert sorted(statuses) == [201] * CREATE_LIMIT + [429] * CREATE_LIMIT


def _sign_in_requests(bases: list[str], emails: list[str], client: str) -> list[int]:
    """POST /login once per (base, email), all at once, each from a browser session of its own."""
    forms = []
    for base, email in zip(bases, emails, strict=True):
        session = requests.Session()
        page = session.get(base + "/login", timeout=30).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        forms.append((session, base, {"email": email, "csrf_token": token}))
    headers = {"X-Forwarded-For": client}

    def post(job) -> int:
        session, base, data = job
        return session.post(base + "/login", data=data, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=len(forms)) as pool:
        return list(pool.map(post, forms))


def test_sign_in_limit_per_address_holds_across_processes(cluster):
    """12 requests for one address, spread over both processes at once: exactly 5 get a link."""
    _url, servers = cluster
    bases = [server.url for _, server in zip(range(12), cycle(servers), strict=False)]
    statuses = _sign_in_requests(bases, ["one@example.com"] * 12, "203.0.113.10")
    assert sorted(statuses) == [200] * LOGIN_PER_EMAIL + [429] * (12 - LOGIN_PER_EMAIL)


def test_sign_in_limit_per_client_holds_across_processes(cluster):
    """20 requests from one client for 20 addresses, over both processes: exactly 8 get a link."""
    _url, servers = cluster
    bases = [server.url for _, server in zip(range(20), cycle(servers), strict=False)]
    statuses = _sign_in_requests(bases, [f"p{i}@example.com" for i in range(20)], "203.0.113.20")
    assert sorted(statuses) == [200] * LOGIN_PER_CLIENT + [429] * (20 - LOGIN_PER_CLIENT)


def test_one_custom_slug_goes_to_exactly_one_racing_create(cluster, local_app):
    _url, (a, b) = cluster
    key = new_key(local_app, "slugs@example.com")
    for round_ in range(5):
        slug = f"race-{round_}"
        with ThreadPoolExecutor(max_workers=2) as pool:
            responses = list(pool.map(lambda base, s=slug: _create(base, key, slug=s), (a.url, b.url)))
        assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
        loser = next(r for r in responses if r.status_code == 409)
        assert loser.json()["error"] and loser.json()["field"] == "slug"


def test_an_edit_through_one_process_is_served_by_the_other_within_a_second(cluster, local_app):
    _url, (a, b) = cluster
    key = new_key(local_app, "edits@example.com")
    code = _create(a.url, key, destination="https://example.com/before").json()
    for _ in range(3):  # B has served (and may keep) the old destination
        assert _scan(b.url, code["slug"]).headers["Location"] == "https://example.com/before"
    patched = requests.patch(
        f"{a.url}/v1/dynamic/{code['id']}",
        json={"destination": "https://example.com/after"},
        headers=_auth(key),
        timeout=30,
    )
    assert patched.status_code == 200
    changed_at = time.monotonic()
    while True:
        # Judge a scan by when it was sent: a slow answer under load is not a stale one.
        waited = time.monotonic() - changed_at
        location = _scan(b.url, code["slug"]).headers["Location"]
        if location == "https://example.com/after":
            break
        assert waited <= 1.0, f"process B still sends visitors to {location} after {waited:.2f} s"
        time.sleep(0.02)


def test_a_schedule_entry_due_at_t_is_honoured_from_t_plus_1_s_in_both_processes(cluster, local_app):
    """Both processes have the link cached before T; from T + 1 s every scan of either goes to the
    scheduled destination, with no API request; the database row and history change exactly once."""
    url, (a, b) = cluster
    key = new_key(local_app, "schedule@example.com")
    due = math.ceil(time.time()) + 3
    at = dt.datetime.fromtimestamp(due, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    code = _create(
        a.url,
        key,
        destination="https://example.com/before",
        schedule=[{"at": at, "destination": "https://example.com/after"}],
    ).json()
    for server in (a, b):
        assert _scan(server.url, code["slug"]).headers["Location"] == "https://example.com/before"
    time.sleep(max(due + 1 - time.time(), 0))
    answers = []
    while time.time() < due + 3:
        for name, server in (("A", a), ("B", b)):
            sent = time.time() - due
            answers.append((name, round(sent, 2), _scan(server.url, code["slug"]).headers["Location"]))
    stale = [answer for answer in answers if answer[2] != "https://example.com/after"]
    print(f"schedule due at T: {len(answers)} scans from T+1 s to T+3 s over A and B, {len(stale)} stale")
    assert {name for name, _, _ in answers} == {"A", "B"} and not stale, stale

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            row = connection.execute(select(Code.destination, Code.smart).where(Code.id == code["id"])).one()
            changes = connection.execute(
                select(DestinationChange.source, DestinationChange.destination, DestinationChange.at)
                .where(DestinationChange.code_id == code["id"])
                .order_by(DestinationChange.id)
            ).all()
    finally:
        engine.dispose()
    assert row.destination == "https://example.com/after" and row.smart is None
    assert [(c.source, c.destination) for c in changes] == [
        ("api", "https://example.com/before"),
        ("schedule", "https://example.com/after"),
    ]
    assert changes[1].at == dt.datetime.fromtimestamp(due, dt.UTC).replace(tzinfo=None)


def test_concurrent_scans_are_each_counted_once_after_a_graceful_stop(cluster, local_app):
    """Runs last: it stops both processes."""
    url, servers = cluster
    key = new_key(local_app, "scans@example.com")
    codes = [_create(servers[0].url, key).json() for _ in range(3)]
    jobs = [(server.url, code["slug"]) for code in codes for server in servers for _ in range(60)]
    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(lambda job: _scan(*job).status_code, jobs))
    assert set(statuses) == {302}
    exits = [server.stop() for server in servers]
    assert all(status in (0, -signal.SIGTERM) for status in exits), exits  # stopped, not killed

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            for code in codes:
                raw = connection.execute(select(func.count()).where(Scan.code_id == code["id"])).scalar()
                daily = connection.execute(
                    select(func.sum(ScanDay.n)).where(ScanDay.code_id == code["id"])
                ).scalar()
                by_dimension = dict(
                    connection.execute(
                        select(ScanDayValue.dimension, func.sum(ScanDayValue.n))
                        .where(ScanDayValue.code_id == code["id"])
                        .group_by(ScanDayValue.dimension)
                    ).all()
                )
                expected = statuses.count(302) // len(codes)
                assert (raw, daily) == (expected, expected), code["slug"]
                assert by_dimension == {
                    "country": expected,
                    "device": expected,
                    "referrer": expected,
                    "dest": expected,  # where each scan went
                }
    finally:
        engine.dispose()
