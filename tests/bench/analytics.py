"""Analytics at scale: `/v1/dynamic/{id}/scans?days=365` and the dashboard's counts, 100k vs 1M scans."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from openqr.extensions import db
from openqr.scans.analytics import scan_counts
from openqr.scans.seed import seed_scans
from tests.bench.common import alternate_ms, bench_app


def run(quick: bool) -> list[tuple]:
    small_n, big_n = (10_000, 100_000) if quick else (100_000, 1_000_000)
    with tempfile.TemporaryDirectory() as tmp, bench_app(Path(tmp)) as (app, auth):
        client = app.test_client()
        ids = {}
        for name in ["small", "big"] + [f"quiet-{i}" for i in range(48)]:
            body = {"destination": f"https://example.com/{name}", "slug": f"bench-{name}"}
            ids[name] = client.post("/v1/dynamic", json=body, headers=auth).get_json()["id"]
        started = time.perf_counter()
        with app.app_context():
            seed_scans(ids["small"], small_n, 400, rng_seed=1)
            seed_scans(ids["big"], big_n, 400, rng_seed=2)
            for i in range(48):
                seed_scans(ids[f"quiet-{i}"], 50, 30, rng_seed=100 + i)
        seed_rate = (small_n + big_n + 48 * 50) / (time.perf_counter() - started)
        print(f"  seeded {small_n + big_n + 2400} scans at {seed_rate:,.0f} scans/s", flush=True)

        def summary(name):
            response = client.get(f"/v1/dynamic/{ids[name]}/scans?days=365", headers=auth)
            assert response.status_code == 200

        quiet = [ids[f"quiet-{i}"] for i in range(48)]

        def counts(name):
            with app.app_context():
                scan_counts([ids[name], *quiet])
                db.session.remove()

        summary("big"), summary("small")  # warm the caches
        times = alternate_ms(
            {
                "small": lambda: summary("small"),
                "big": lambda: summary("big"),
                "counts-small": lambda: counts("small"),
                "counts-big": lambda: counts("big"),
            },
            repeat=10 if quick else 30,
        )
    growth, counts_growth = times["big"] / times["small"], times["counts-big"] / times["counts-small"]
    return [
        (
            f"scans?days=365 median, {big_n:,} scans",
            f"{times['big']:.1f} ms",
            "<= 30 ms",
            "",
            times["big"] <= 30,
        ),
        (f"scans?days=365 median, {small_n:,} scans", f"{times['small']:.1f} ms", "", "", None),
        ("scans?days=365 growth 10x scans", f"{growth:.2f}x", "<= 1.5x", "", growth <= 1.5),
        (
            "dashboard scan_counts, page of 50 codes",
            f"{times['counts-big']:.2f} ms",
            "no growth with volume",
            f"{counts_growth:.2f}x vs {small_n:,}",
            counts_growth <= 1.5,
        ),
        (
            "seed speed (flask scans seed)",
            f"{seed_rate:,.0f} scans/s",
            "1M well under 60 s",
            f"1M in {1e6 / seed_rate:.0f} s",
            1e6 / seed_rate < 60,
        ),
    ]
