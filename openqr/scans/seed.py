"""Realistic scan data for load tests and demos: `flask scans seed --code SLUG --count N --days D`.

Scans follow a weekly and daily rhythm with a slow growth trend, over a mix of countries,
devices and referrers. Raw rows and the roll-ups (the code's and its workspace's days, hours
and breakdowns) are written with `executemany` of plain tuples in large batches (a million
scans take seconds, not minutes). `seed_rollups` writes the roll-ups alone, for benchmarks
of analytics at tens of millions of scans.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

from ..extensions import db
from ..models import hour_number, utcnow
from .store import rollup_upsert

BATCH = 100_000
COUNTRIES = {
    "US": 24, "GB": 9, "DE": 9, "FR": 7, "IN": 6, "BR": 5, "CA": 4, "ES": 4, "IT": 4, "NL": 3, "JP": 3,
    "AU": 3, "MX": 2, "PL": 2, "SE": 1.5, "CH": 1.2, "BE": 1.2, "AT": 1, "IE": 1, "PT": 1, "NG": 1,
    "ZA": 0.8, "KR": 0.8, "SG": 0.6, "AR": 0.6, "TR": 0.6, "DK": 0.5, "NO": 0.5, "FI": 0.4, "NZ": 0.4,
    "CZ": 0.3, "GR": 0.3, "KE": 0.2, "IS": 0.05, None: 4,
}  # fmt: skip
DEVICES = {"mobile": 72, "desktop": 18, "tablet": 7, None: 3}
REFERRERS = {
    None: 62, "t.co": 8, "l.instagram.com": 7, "l.facebook.com": 6, "www.google.com": 5,
    "www.linkedin.com": 3, "lnkd.in": 2, "out.reddit.com": 2, "news.ycombinator.com": 1,
    "mail.google.com": 1.5, "outlook.live.com": 1, "duckduckgo.com": 0.8, "www.bing.com": 0.7,
}  # fmt: skip
WEEKDAY = (1.0, 1.05, 1.1, 1.1, 1.2, 1.5, 1.3)  # Monday .. Sunday: posters are scanned at weekends
# Relative scans per hour of the day (UTC), midnight first: busiest in the evening.
HOURLY = (
    1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3.5, 4, 4.2, 4.5,
    5, 5, 4.8, 4.6, 4.8, 5.5, 6.5, 7, 6.5, 5, 3.5, 2,
)  # fmt: skip


def _sample(table: dict, count: int, rng: random.Random) -> list:
    return rng.choices(list(table), weights=list(table.values()), k=count)


def seed_scans(code_id: str, count: int, days: int, *, rng_seed: int | None = None) -> float:
    """Add `count` scans of a code over the last `days` days (today included); return seconds taken."""
    started = utcnow()
    rng = random.Random(rng_seed)
    now = utcnow()
    first = now.date() - dt.timedelta(days=days - 1)
    day_list = [first + dt.timedelta(days=i) for i in range(days)]
    # Weekly rhythm times a trend from 40 % to 100 % of today's volume.
    weights = [WEEKDAY[day.weekday()] * (0.4 + 0.6 * i / max(days - 1, 1)) for i, day in enumerate(day_list)]
    sqlite = db.engine.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    per_day: Counter = Counter()
    per_hour: Counter = Counter()
    per_value: Counter = Counter()
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        done = 0
        while done < count:
            n = min(BATCH, count - done)
            day_index = rng.choices(range(days), weights=weights, k=n)
            hours = rng.choices(range(24), weights=HOURLY, k=n)
            seconds = [rng.randrange(3600) for _ in range(n)]
            countries, devices = _sample(COUNTRIES, n, rng), _sample(DEVICES, n, rng)
            referrers = _sample(REFERRERS, n, rng)
            rows = []
            for i in range(n):
                day = day_list[day_index[i]]
                hour = min(hours[i], now.hour) if day == now.date() else hours[i]
                at = dt.datetime(day.year, day.month, day.day, hour, seconds[i] // 60, seconds[i] % 60)
                country, device, referrer = countries[i], devices[i], referrers[i]
                rows.append(
                    (code_id, at.isoformat(" ", "microseconds") if sqlite else at, country, device, referrer)
                )
                per_day[day] += 1
                per_hour[hour_number(at)] += 1
                per_value[(day, "country", country or "")] += 1
                per_value[(day, "device", device or "")] += 1
                per_value[(day, "referrer", referrer or "")] += 1
            cursor.executemany(
                "INSERT INTO scans (code_id, scanned_at, country, device, referrer) "
                f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark})",
                rows,
            )
            done += n

        write_rollups(cursor, code_id, per_day, per_hour, per_value)
        raw.commit()
    finally:
        raw.close()
    return (utcnow() - started).total_seconds()


# The key of each roll-up table; seeding adds `n` to the row of that key.
_ROLLUP_KEYS = {
    "scan_days": ("code_id", "day"),
    "scan_hours": ("code_id", "hour"),
    "scan_day_values": ("code_id", "day", "dimension", "value"),
    "workspace_scan_days": ("workspace_id", "day"),
    "workspace_scan_hours": ("workspace_id", "hour"),
    "workspace_scan_day_values": ("workspace_id", "day", "dimension", "value"),
}


def _rollup_statements(sqlite: bool) -> dict[str, str]:
    mark = "?" if sqlite else "%s"
    # Seeded scans have no visitors: a workspace's new day is written with 0 of them.
    also = {"workspace_scan_days": ("visitors",)}
    return {
        **{
            table: rollup_upsert(table, keys, sqlite=sqlite, also=also.get(table, ()))
            for table, keys in _ROLLUP_KEYS.items()
        },
        # Running totals of the code, recomputed from its days (seeding may add to earlier days).
        "running": "UPDATE scan_days SET running = totals.running FROM "
        "(SELECT day, sum(n) OVER (ORDER BY day) AS running "
        f"FROM scan_days WHERE code_id = {mark}) AS totals "
        f"WHERE scan_days.code_id = {mark} AND scan_days.day = totals.day",
        "workspace": f"SELECT workspace_id FROM codes WHERE id = {mark}",
    }


def write_rollups(cursor, code_id: str, per_day: Counter, per_hour: Counter, per_value: Counter) -> None:
    """Add seeded counts to the code's roll-ups and its workspace's, on a raw DB-API cursor."""
    sqlite = db.engine.dialect.name == "sqlite"
    sql = _rollup_statements(sqlite)

    def day(value: dt.date):
        return value.isoformat() if sqlite else value

    cursor.execute(sql["workspace"], (code_id,))
    workspace_id = cursor.fetchone()[0]
    values = [(day(d), dim, value, n) for (d, dim, value), n in per_value.items()]
    cursor.executemany(sql["scan_days"], [(code_id, day(d), n) for d, n in per_day.items()])
    cursor.executemany(sql["scan_hours"], [(code_id, h, n) for h, n in per_hour.items()])
    cursor.executemany(sql["scan_day_values"], [(code_id, *row) for row in values])
    cursor.execute(sql["running"], (code_id, code_id))
    cursor.executemany(sql["workspace_scan_days"], [(workspace_id, day(d), n, 0) for d, n in per_day.items()])
    cursor.executemany(sql["workspace_scan_hours"], [(workspace_id, h, n) for h, n in per_hour.items()])
    cursor.executemany(sql["workspace_scan_day_values"], [(workspace_id, *row) for row in values])


def _bulk_insert(cursor, table: str, columns: tuple[str, ...], rows: list[tuple], sqlite: bool) -> None:
    """Plain rows into a table: one executemany on SQLite, COPY on PostgreSQL."""
    if sqlite:
        marks = ", ".join("?" * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        return
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def share(n: int, weights) -> list[int]:
    """`n` split in proportion to `weights`, in whole numbers that add up to `n` (largest remainders)."""
    weights = list(weights)
    total = sum(weights) or 1
    exact = [n * w / total for w in weights]
    parts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: exact[i] - parts[i], reverse=True)
    for i in by_remainder[: n - sum(parts)]:
        parts[i] += 1
    return parts


def seed_rollups(code_ids: list[str], count: int, days: int, *, detail: set[str] | None = None) -> float:
    """`count` scans over `code_ids` (codes of one workspace with no scans yet) and the last `days`
    days, written to the roll-ups only (no raw rows), in the proportions of the rhythms above:
    how benchmarks build tens of millions of scans quickly. Every code gets its days (with
    running totals) and the workspace its sums; the codes in `detail` (default: all) also get
    their own hours and breakdowns. Returns seconds taken."""
    started = now = utcnow()
    today = now.date()
    day_list = [today - dt.timedelta(days=days - 1 - i) for i in range(days)]
    weights = [WEEKDAY[day.weekday()] * (0.4 + 0.6 * i / max(days - 1, 1)) for i, day in enumerate(day_list)]
    hourly = [weight if h <= now.hour else 0 for h, weight in enumerate(HOURLY)]  # today: none later than now
    sqlite = db.engine.dialect.name == "sqlite"
    # Keys are (day index, hour) while counting; the stored form of each is made once here.
    stored_day = [day.isoformat() if sqlite else day for day in day_list]
    stored_hour = [[hour_number(dt.datetime.combine(day, dt.time(h))) for h in range(24)] for day in day_list]
    tables = (("country", COUNTRIES), ("device", DEVICES), ("referrer", REFERRERS))

    def spread(per_day: list[int]) -> tuple[Counter, Counter]:
        """Hours and breakdown values of the scans of each day."""
        per_hour, per_value = Counter(), Counter()
        for d, n in enumerate(per_day):
            if not n:
                continue
            for h, hn in enumerate(share(n, hourly if d == days - 1 else HOURLY)):
                if hn:
                    per_hour[(d, h)] += hn
            for dimension, table in tables:
                for value, vn in zip(table, share(n, table.values()), strict=True):
                    if vn:
                        per_value[(d, dimension, value or "")] += vn
        return per_hour, per_value

    workspace_days = [0] * days
    plain_days = [0] * days  # days of the codes without detail, spread once for the workspace
    workspace_hours, workspace_values = Counter(), Counter()
    rows = {"scan_days": [], "scan_hours": [], "scan_day_values": []}
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"SELECT workspace_id FROM codes WHERE id = {'?' if sqlite else '%s'}", (code_ids[0],))
        workspace_id = cursor.fetchone()[0]
        for code_id, code_count in zip(code_ids, share(count, [1] * len(code_ids)), strict=True):
            per_day = share(code_count, weights)
            running = 0
            for d, n in enumerate(per_day):
                if n:
                    running += n
                    rows["scan_days"].append((code_id, stored_day[d], n, 0, running))
                    workspace_days[d] += n
            if detail is not None and code_id not in detail:
                plain_days = [a + b for a, b in zip(plain_days, per_day, strict=True)]
                continue
            per_hour, per_value = spread(per_day)
            rows["scan_hours"] += [(code_id, stored_hour[d][h], n) for (d, h), n in per_hour.items()]
            rows["scan_day_values"] += [
                (code_id, stored_day[d], *key, n) for (d, *key), n in per_value.items()
            ]
            workspace_hours.update(per_hour)
            workspace_values.update(per_value)
            if len(rows["scan_day_values"]) > 200_000:
                _flush_seed_rows(cursor, rows, sqlite)
        plain_hours, plain_values = spread(plain_days)
        workspace_hours.update(plain_hours)
        workspace_values.update(plain_values)
        rows.update(
            workspace_scan_days=[
                (workspace_id, stored_day[d], n, 0) for d, n in enumerate(workspace_days) if n
            ],
            workspace_scan_hours=[
                (workspace_id, stored_hour[d][h], n) for (d, h), n in workspace_hours.items()
            ],
            workspace_scan_day_values=[
                (workspace_id, stored_day[d], *key, n) for (d, *key), n in workspace_values.items()
            ],
        )
        _flush_seed_rows(cursor, rows, sqlite)
        raw.commit()
    finally:
        raw.close()
    return (utcnow() - started).total_seconds()


_SEED_COLUMNS = {
    "scan_days": ("code_id", "day", "n", "visitors", "running"),
    "scan_hours": ("code_id", "hour", "n"),
    "scan_day_values": ("code_id", "day", "dimension", "value", "n"),
    "workspace_scan_days": ("workspace_id", "day", "n", "visitors"),
    "workspace_scan_hours": ("workspace_id", "hour", "n"),
    "workspace_scan_day_values": ("workspace_id", "day", "dimension", "value", "n"),
}


def _flush_seed_rows(cursor, rows: dict[str, list], sqlite: bool) -> None:
    """Write collected rows: the codes' (new, so plain inserts in key order) and the workspace's
    (added to what the workspace may already have)."""
    for table, table_rows in rows.items():
        columns = _SEED_COLUMNS[table]
        if table.startswith("workspace_"):
            cursor.executemany(_rollup_statements(sqlite)[table], table_rows)
        else:
            table_rows.sort(key=lambda row: row[:-1])
            _bulk_insert(cursor, table, columns, table_rows, sqlite)
        rows[table] = []
