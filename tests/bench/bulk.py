"""Bulk create: 200 codes in one request."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from tests.bench.common import bench_app, timed_ms


def run(quick: bool) -> list[tuple]:
    batch = itertools.count()
    with tempfile.TemporaryDirectory() as tmp, bench_app(Path(tmp)) as (app, auth):
        client = app.test_client()

        def create_200():
            n = next(batch)
            body = {
                "codes": [
                    {"destination": f"https://example.com/{n}/{i}", "label": f"Item {i}"} for i in range(200)
                ]
            }
            response = client.post("/v1/dynamic/bulk", json=body, headers=auth)
            assert response.status_code == 201, response.get_json()

        ms = timed_ms(create_200, 3 if quick else 7)
    return [("POST /v1/dynamic/bulk, 200 codes", f"{ms:.0f} ms", "<= 500 ms", "", ms <= 500)]
