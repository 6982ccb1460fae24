"""Analytics across codes at scale: `GET /v1/scans?days=365` over 10,000,000 scans of 1,000 codes
and `GET /v1/dynamic/{id}/scans?days=365&tz=America/Los_Angeles` over 1,000,000 scans of one
code, each against a tenth of that volume in the same run; and what a flush of 1,600 scans
costs the flusher (raw rows plus every roll-up, distinct visitors included).

The roll-ups are seeded directly (`openqr.scans.seed.seed_rollups`): analytics never read raw rows.
The measured code has all of its roll-ups; the 999 others have their daily rows (which the
account's `by_code` reads) and their share of the account's sums, but not their own hours and
breakdowns, which the unfiltered account view never reads (that keeps seeding to minutes).
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from statistics import median

from openqr.extensions import db
from openqr.scans.classify import ScanEvent
from openqr.scans.seed import seed_rollups
from openqr.scans.store import store_scans
from tests.bench.common import alternate_ms, bench_app

ZONE = "America/Los_Angeles"
FLUSH_BATCH = 1_600


def _codes(app, auth, count: int) -> list[str]:
    client, ids = app.test_client(), []
    for start in range(0, count, 200):
        items = [
            {"destination": f"https://example.com/{i}", "slug": f"bench-{i}"}
            for i in range(start, start + 200)
        ]
        response = client.post("/v1/dynamic/bulk", json={"codes": items[: count - start]}, headers=auth)
        ids += [code["id"] for code in response.get_json()["codes"]]
    return ids


def _fill(app, auth, codes: int, account_scans: int, one_code_scans: int) -> str:
    """`account_scans` over `codes` codes, `one_code_scans` of them on the first; returns its id."""
    ids = _codes(app, auth, codes)
    with app.app_context():
        # The measured code gets every roll-up; the others their days (what the account's
        # by_code reads) and their share of the account's sums (which it reads instead of theirs).
        seed_rollups(ids[:1], one_code_scans, 365)
        seed_rollups(ids[1:], account_scans - one_code_scans, 365, detail=set())
        db.session.remove()
    return ids[0]


def flush_ms(app, code_ids: list[str], rounds: int) -> float:
    """Median time of `store_scans` for FLUSH_BATCH scans of 400 visitors over the given codes."""
    times = []
    for round_no in range(rounds):
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        events = [
            ScanEvent(
                code_ids[i % len(code_ids)],
                now,
                "GB" if i % 3 else "US",
                "mobile",
                None if i % 4 else "t.co",
                visitor=f"198.51.{round_no % 250}.{i % 400}\nMozilla/5.0 bench",
            )
            for i in range(FLUSH_BATCH)
        ]
        with app.app_context():
            started = time.perf_counter()
            store_scans(events)
            times.append((time.perf_counter() - started) * 1000)
            db.session.remove()
    return median(times)


def run(quick: bool) -> list[tuple]:
    codes, big_n, one_n = (100, 1_000_000, 100_000) if quick else (1_000, 10_000_000, 1_000_000)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        apps = {}
        started = time.perf_counter()
        for name, scale in (("tenth", 10), ("full", 1)):
            folder = Path(tmp) / name
            folder.mkdir()
            app, auth = stack.enter_context(bench_app(folder))
            apps[name] = (app, auth, _fill(app, auth, codes, big_n // scale, one_n // scale))
        seconds = time.perf_counter() - started
        print(f"  seeded {big_n * 1.1:,.0f} scans of roll-ups in {seconds:.0f} s", flush=True)

        def get(name: str, path: str):
            app, auth, code_id = apps[name]
            response = app.test_client().get(path.format(id=code_id), headers=auth)
            assert response.status_code == 200, response.get_json()

        account, one = "/v1/scans?days=365", f"/v1/dynamic/{{id}}/scans?days=365&tz={ZONE}"
        calls = {
            f"{kind}-{name}": (lambda name=name, path=path: get(name, path))
            for kind, path in (("account", account), ("code", one))
            for name in ("tenth", "full")
        }
        for call in calls.values():
            call()  # warm the caches
        times, cpu = alternate_ms(calls, repeat=10 if quick else 30), {}
        for name, call in calls.items():  # CPU time too: on a shared machine wall time also measures others
            spent = []
            for _ in range(5 if quick else 15):
                started_cpu = time.process_time()
                call()
                spent.append((time.process_time() - started_cpu) * 1000)
            cpu[name] = median(spent)
        app, _auth, code_id = apps["tenth"]
        with app.app_context():
            from openqr.models import Code

            flush_codes = [code_id, *db.session.scalars(db.select(Code.id).limit(49))]
            db.session.remove()
        flush = flush_ms(app, flush_codes, 10 if quick else 30)
    rows = []
    for kind, label, volume in (
        ("account", "GET /v1/scans?days=365", f"{big_n:,} scans, {codes:,} codes"),
        ("code", f"GET /v1/dynamic/{{id}}/scans?days=365&tz={ZONE}", f"{one_n:,} scans, one code"),
    ):
        full, tenth = times[f"{kind}-full"], times[f"{kind}-tenth"]
        cpu_full, cpu_tenth = cpu[f"{kind}-full"], cpu[f"{kind}-tenth"]
        rows.append(
            (f"{label} median, {volume}", f"{full:.1f} ms", "<= 50 ms", f"CPU {cpu_full:.1f} ms", full <= 50)
        )
        rows.append(
            (f"{label} median, a tenth of that", f"{tenth:.1f} ms", "", f"CPU {cpu_tenth:.1f} ms", None)
        )
        rows.append((f"{label} growth 10x scans", f"{full / tenth:.2f}x", "<= 1.5x", "", full / tenth <= 1.5))
    rows.append(
        (
            f"flush of {FLUSH_BATCH:,} scans, 50 codes (rows + roll-ups)",
            f"{flush:.1f} ms",
            "off the request path",
            f"{flush * 1000 / FLUSH_BATCH:.1f} us/scan",
            None,
        )
    )
    return rows
