"""Reading scan analytics from the daily roll-ups: cost grows with days, never with scans."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from .extensions import db
from .models import Code, ScanDay, ScanDayValue, utcnow
from .scans import DESTINATION

TOP = 8
MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 1, 365, 30
_EMPTY_LABEL = {"country": "Unknown", "device": "Unknown", "referrer": "Direct", DESTINATION: ""}


def today() -> dt.date:
    return utcnow().date()


def _top(rows: list[tuple[str, int]], dimension: str, limit: int = TOP) -> list[dict]:
    ordered = sorted(rows, key=lambda row: (-row[1], row[0]))[:limit]
    return [{"value": value or _EMPTY_LABEL[dimension], "n": int(n)} for value, n in ordered]


def scan_summary(code: Code, days: int = DEFAULT_DAYS, *, on: dt.date | None = None) -> dict:
    """The analytics of one code exactly as `GET /v1/dynamic/{id}/scans` shows them."""
    end = on or today()
    start = end - dt.timedelta(days=days - 1)
    week_start = end - dt.timedelta(days=6)
    per_day = dict(db.session.execute(select(ScanDay.day, ScanDay.n).where(ScanDay.code_id == code.id)).all())
    total = sum(per_day.values())
    last7 = sum(n for day, n in per_day.items() if week_start <= day <= end)
    daily = [
        {"day": (start + dt.timedelta(days=i)).isoformat(), "n": per_day.get(start + dt.timedelta(days=i), 0)}
        for i in range(days)
    ]
    window = db.session.execute(
        select(ScanDayValue.dimension, ScanDayValue.value, func.sum(ScanDayValue.n))
        .where(ScanDayValue.code_id == code.id, ScanDayValue.day >= start, ScanDayValue.day <= end)
        .group_by(ScanDayValue.dimension, ScanDayValue.value)
    ).all()
    leaders = db.session.execute(
        select(ScanDayValue.dimension, ScanDayValue.value, func.sum(ScanDayValue.n))
        .where(
            ScanDayValue.code_id == code.id,
            ScanDayValue.dimension.in_(("country", "device")),
            ScanDayValue.value != "",
        )
        .group_by(ScanDayValue.dimension, ScanDayValue.value)
    ).all()

    def rows_of(rows, dimension):
        return [(value, int(n)) for dim, value, n in rows if dim == dimension]

    def leader(dimension):
        best = _top(rows_of(leaders, dimension), dimension, 1)
        return best[0]["value"] if best else None

    return {
        "scans": {
            "total": total,
            "last7": last7,
            "topCountry": leader("country"),
            "topDevice": leader("device"),
        },
        "analytics": {
            "days_window": days,
            "total": total,
            "window_total": sum(entry["n"] for entry in daily),
            "daily": daily,
            "by_country": _top(rows_of(window, "country"), "country"),
            "by_device": _top(rows_of(window, "device"), "device"),
            "by_referrer": _top(rows_of(window, "referrer"), "referrer"),
            "by_destination": _top(rows_of(window, DESTINATION), DESTINATION),
        },
    }


def scan_counts(code_ids: list[str], *, on: dt.date | None = None) -> dict[str, tuple[int, int]]:
    """Lifetime and trailing-7-day scans for many codes at once (the dashboard's list)."""
    if not code_ids:
        return {}
    week_start = (on or today()) - dt.timedelta(days=6)
    rows = db.session.execute(
        select(
            ScanDay.code_id,
            func.sum(ScanDay.n),
            func.sum(func.coalesce(ScanDay.n, 0) * (ScanDay.day >= week_start).cast(db.Integer)),
        )
        .where(ScanDay.code_id.in_(code_ids))
        .group_by(ScanDay.code_id)
    ).all()
    counts = {code_id: (0, 0) for code_id in code_ids}
    counts.update({code_id: (int(total), int(week or 0)) for code_id, total, week in rows})
    return counts
