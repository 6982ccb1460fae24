"""Helpers for the in-process benchmarks: an app on a temporary database, timers."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from statistics import median

from flask_migrate import upgrade

from openqr import create_app
from openqr.auth.accounts import get_or_create_account
from openqr.auth.keys import create_key
from openqr.auth.workspaces import first_workspace
from openqr.extensions import db
from tests.support.databases import bench_database


@contextmanager
def bench_app(tmp: Path, **config):
    """An app on a fresh database: SQLite in `tmp`, or PostgreSQL with OPENQR_BENCH_DATABASE_URL."""
    with bench_database(tmp) as url:
        app = create_app(
            {
                "OPENQR_DATABASE_URL": url,
                "OPENQR_SECRET_KEY": "bench",
                "OPENQR_BASE_URL": "http://qr.test",
                "OPENQR_SHORT_BASE_URL": "https://go.test",
                "OPENQR_BULK_LIMIT": 1_000_000,
                "OPENQR_CREATE_LIMIT": 1_000_000,
                **config,
            },
            instance_path=str(tmp / "instance"),
        )
        with app.app_context():
            upgrade()
            account = get_or_create_account("bench@example.com")
            _key, plain = create_key(first_workspace(account), "bench", created_by=account)
            db.session.commit()
        try:
            yield app, {"Authorization": f"Bearer {plain}"}
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def timed_ms(call, repeat: int) -> float:
    """Median wall time of `call()` in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return median(times)


def alternate_ms(calls: dict, repeat: int) -> dict[str, float]:
    """Median times of several calls measured alternately, so machine noise hits them alike."""
    times = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: median(values) for name, values in times.items()}
