"""Reading scan analytics from the roll-ups: cost grows with days and codes, never with scans.

One code reads its own daily, hourly and breakdown rows. The whole workspace reads the
workspace's sums (`WorkspaceScan*`), never a per-code row, except for `by_code`, which asks
each code's running total twice (at the window's end and before its start). A folder or a
tag reads the per-code rows of its codes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import and_, bindparam, case, func, literal, select

from ..errors import NotFound, ValidationError
from ..extensions import db
from ..models import (
    Code,
    CodeTag,
    Folder,
    ScanDay,
    ScanDayValue,
    ScanHour,
    Workspace,
    WorkspaceScanDay,
    WorkspaceScanDayValue,
    WorkspaceScanHour,
    find_owned,
    hour_number,
    utcnow,
)
from ..text import anchored, closed
from .classify import COUNTRY, DEVICES
from .store import DESTINATION

TOP = 8
TOP_CODES = 20
MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 1, 365, 30
DIMENSIONS = ("country", "device", "referrer")
_EMPTY_LABEL = {"country": "Unknown", "device": "Unknown", "referrer": "Direct", DESTINATION: ""}
UTC = ZoneInfo("UTC")
UNIQUE_NEEDS_UTC = (
    "Unique visitors are counted per UTC day, so they cannot be cut into the days of a time zone "
    "that is not at UTC+0: choose UTC to see them."
)


def _rows(statement):
    """Run a read on the session's connection: Core rows, without the ORM's per-row work."""
    return db.session.connection().execute(statement)


def today() -> dt.date:
    return utcnow().date()


def check_days(value: object) -> int:
    """A window length: a whole number from MIN_DAYS to MAX_DAYS (the one rule for every caller)."""
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_DAYS <= value <= MAX_DAYS:
        raise ValidationError(f"'days' must be a whole number from {MIN_DAYS} to {MAX_DAYS}.", field="days")
    return value


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    """Every IANA time zone name this machine knows (the system's tz database)."""
    return frozenset(available_timezones() | {"UTC"})


def parse_tz(name: str | None) -> ZoneInfo:
    """An IANA time zone by exact name (default UTC); anything else is a 400 naming `tz`."""
    if name is None or name == "":
        return UTC
    if name not in zone_names():
        raise ValidationError(
            "'tz' must be an IANA time zone name such as 'Europe/Paris' or 'America/Los_Angeles'.", field="tz"
        )
    return ZoneInfo(name)


@dataclass(frozen=True)
class Window:
    """`days` whole days of a time zone ending today there, and the UTC instants that bound them."""

    days: int
    tz: ZoneInfo
    first: dt.date
    last: dt.date
    utc_from: dt.datetime  # naive UTC, inclusive
    utc_to: dt.datetime  # naive UTC, exclusive
    at_utc: bool  # the zone is at UTC+0 throughout: UTC days and its days coincide

    @classmethod
    def ending_now(cls, days: int, tz: ZoneInfo = UTC, now: dt.datetime | None = None) -> Window:
        now = (now or utcnow()).replace(tzinfo=dt.UTC)
        last = now.astimezone(tz).date()
        first = last - dt.timedelta(days=days - 1)

        def utc_midnight(day: dt.date) -> dt.datetime:
            local = dt.datetime.combine(day, dt.time(), tzinfo=tz)
            return local.astimezone(dt.UTC).replace(tzinfo=None)

        at_utc = tz.key == "UTC" or all(
            dt.datetime.combine(first + dt.timedelta(days=i), dt.time(), tzinfo=tz).utcoffset()
            == dt.timedelta(0)
            for i in range(days + 1)
        )
        return cls(
            days, tz, first, last, utc_midnight(first), utc_midnight(last + dt.timedelta(days=1)), at_utc
        )

    def dates(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=i) for i in range(self.days)]


def _top(rows: list[tuple[str, int]], dimension: str, limit: int = TOP) -> list[dict]:
    ordered = sorted(((v, n) for v, n in rows if n > 0), key=lambda row: (-row[1], row[0]))[:limit]
    return [{"value": value or _EMPTY_LABEL[dimension], "n": int(n)} for value, n in ordered]


EPOCH = dt.date(1970, 1, 1)  # a Thursday: weekday 3


def _offsets(window: Window, first_hour: int, hours: int) -> list[int]:
    """The zone's offset in minutes for each UTC hour of the window (looked up once a day, and
    hour by hour only on days whose offset changes)."""
    if window.tz.key == "UTC":
        return [0] * hours
    offsets: list[int] = []
    for day_start in range(first_hour, first_hour + hours, 24):
        start = dt.datetime.fromtimestamp(day_start * 3600, dt.UTC).astimezone(window.tz).utcoffset()
        end = dt.datetime.fromtimestamp((day_start + 24) * 3600, dt.UTC).astimezone(window.tz).utcoffset()
        if start == end:
            offsets += [int(start.total_seconds()) // 60] * 24
        else:
            for hour in range(day_start, day_start + 24):
                moment = dt.datetime.fromtimestamp(hour * 3600, dt.UTC).astimezone(window.tz)
                offsets.append(int(moment.utcoffset().total_seconds()) // 60)
    return offsets


def _local_hour(table, window: Window):
    """The table's UTC hour as hours since 1970 *in the window's zone*: the zone's offset is a
    CASE over the few stretches of constant offset (DST changes), so SQL does the grouping.
    In a zone whose offset is not whole hours (India, Nepal) a UTC hour counts in the local
    hour it starts in."""
    first = hour_number(window.utc_from)
    span = hour_number(window.utc_to) - first
    offsets = _offsets(window, first, span)
    stretches = [
        (first + i, offset) for i, offset in enumerate(offsets) if i == 0 or offsets[i - 1] != offset
    ]
    hour = table.hour
    if len(stretches) == 1:
        shift = literal(stretches[0][1])
    else:  # each stretch's offset applies before the next stretch starts
        bounds = [start for start, _ in stretches[1:]]
        shift = case(
            *((hour < bound, offset) for bound, (_, offset) in zip(bounds, stretches, strict=False)),
            else_=stretches[-1][1],
        )
    return (hour * 60 + shift) // 60


def _time_of_day(table, owner_filter, window: Window) -> tuple[dict[dt.date, int], list[list[int]]]:
    """Scans per day of the window's zone, and its weekday x hour grid, from the hourly rows."""
    local = _local_hour(table, window)
    in_window = and_(
        owner_filter, table.hour >= hour_number(window.utc_from), table.hour < hour_number(window.utc_to)
    )
    grid = [[0] * 24 for _ in range(7)]
    weekday, hour_of_day = (local // 24 + 3) % 7, local % 24  # 1970-01-01 was a Thursday (3)
    for day, hour, n in _rows(
        select(weekday, hour_of_day, func.sum(table.n)).where(in_window).group_by(weekday, hour_of_day)
    ):
        grid[int(day)][int(hour)] = int(n)
    per_day = {}
    if not window.at_utc:
        day_number = local // 24
        for day, n in _rows(select(day_number, func.sum(table.n)).where(in_window).group_by(day_number)):
            per_day[EPOCH + dt.timedelta(days=int(day))] = int(n)
    return per_day, grid


def _series(window: Window, time_of_day: tuple, days: dict[dt.date, tuple[int, int]]) -> dict:
    """`daily`, `window_total`, `window_unique`, `by_hour`, `by_weekday` for one window.

    `days` maps UTC days to (scans, visitors); in a zone at UTC+0 they are the window's days.
    Elsewhere each day is summed from the hours, and distinct visitors are unknown (null).
    """
    per_local_day, grid = time_of_day
    daily = []
    for day in window.dates():
        if window.at_utc:
            n, unique = days.get(day, (0, 0))
        else:
            n, unique = per_local_day.get(day, 0), None
        daily.append({"day": day.isoformat(), "n": int(n), "unique": None if unique is None else int(unique)})
    return {
        "window_total": sum(entry["n"] for entry in daily),
        "window_unique": sum(entry["unique"] for entry in daily) if window.at_utc else None,
        "daily": daily,
        "by_hour": [{"hour": h, "n": sum(row[h] for row in grid)} for h in range(24)],
        "by_weekday": [{"weekday": d, "n": sum(grid[d])} for d in range(7)],
        "by_weekday_hour": grid,
    }


def _breakdowns(table, owner_filter, window: Window) -> dict:
    """Top values of each dimension over the window's dates (whole UTC days)."""
    rows = _rows(
        select(table.dimension, table.value, func.sum(table.n))
        .where(owner_filter, table.day >= window.first, table.day <= window.last)
        .group_by(table.dimension, table.value)
    ).all()
    return {
        f"by_{dimension}": _top([(v, int(n)) for dim, v, n in rows if dim == dimension], dimension)
        for dimension in DIMENSIONS
    }


def _days(table, owner_filter, window: Window, visitors) -> dict[dt.date, tuple[int, int]]:
    rows = _rows(
        select(table.day, func.sum(table.n), func.sum(visitors))
        .where(owner_filter, table.day >= window.first, table.day <= window.last)
        .group_by(table.day)
    ).all()
    return {day: (int(n), int(v or 0)) for day, n, v in rows}


def scan_summary(
    code: Code, days: int = DEFAULT_DAYS, *, tz: ZoneInfo = UTC, now: dt.datetime | None = None
) -> dict:
    """The analytics of one code exactly as `GET /v1/dynamic/{id}/scans` shows them."""
    window = Window.ending_now(check_days(days), tz, now)
    end = (now or utcnow()).date()
    week_start = end - dt.timedelta(days=6)
    mine = ScanDay.code_id == code.id
    total, last7 = _rows(
        select(
            func.coalesce(func.sum(ScanDay.n), 0),
            func.coalesce(func.sum(ScanDay.n).filter(ScanDay.day >= week_start, ScanDay.day <= end), 0),
        ).where(mine)
    ).one()
    day_rows = _days(ScanDay, mine, window, ScanDay.visitors) if window.at_utc else {}
    series = _series(window, _time_of_day(ScanHour, ScanHour.code_id == code.id, window), day_rows)
    # One pass over the code's breakdown rows: the window's counts and the lifetime ones.
    in_window = and_(ScanDayValue.day >= window.first, ScanDayValue.day <= window.last)
    values = _rows(
        select(
            ScanDayValue.dimension,
            ScanDayValue.value,
            func.coalesce(func.sum(ScanDayValue.n).filter(in_window), 0),
            func.sum(ScanDayValue.n),
        )
        .where(ScanDayValue.code_id == code.id)
        .group_by(ScanDayValue.dimension, ScanDayValue.value)
    ).all()

    def leader(dimension):
        known = [(v, int(lifetime)) for dim, v, _n, lifetime in values if dim == dimension and v]
        best = _top(known, dimension, 1)
        return best[0]["value"] if best else None

    breakdowns = {
        f"by_{dimension}": _top([(v, int(n)) for dim, v, n, _ in values if dim == dimension], dimension)
        for dimension in DIMENSIONS
    }
    # Where the window's scans went, as recorded (URLs without utm parameters).
    breakdowns["by_destination"] = _top(
        [(v, int(n)) for dim, v, n, _ in values if dim == DESTINATION], DESTINATION
    )
    return {
        "scans": {
            "total": int(total),
            "last7": int(last7),
            "topCountry": leader("country"),
            "topDevice": leader("device"),
        },
        "analytics": {
            "days_window": window.days,
            "tz": window.tz.key,
            "total": int(total),
            "window_total": series["window_total"],
            "window_unique": series["window_unique"],
            "daily": series["daily"],
            **breakdowns,
            "by_hour": series["by_hour"],
            "by_weekday": series["by_weekday"],
            "by_weekday_hour": series["by_weekday_hour"],
        },
    }


def _running_at(day: dt.date, *, before: bool):
    """A code's running total at the end of `day` (or of the day before it): one index look-up."""
    inner = ScanDay.__table__.alias("running_day")
    condition = inner.c.day < day if before else inner.c.day <= day
    found = (
        select(inner.c.running)
        .where(inner.c.code_id == Code.id, condition)
        .order_by(inner.c.day.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(found, literal(0))


def _codes_filter(workspace: Workspace, folder_id: str | None, tag: str | None):
    """Which of the workspace's codes count; a folder that is not the workspace's is a 404."""
    condition = Code.workspace_id == workspace.id
    if folder_id is not None:
        if find_owned(Folder, workspace.id, folder_id) is None:
            raise NotFound("No such folder.", field="folder_id")
        condition = and_(condition, Code.folder_id == folder_id)
    if tag is not None:
        tagged = select(CodeTag.code_id).where(CodeTag.tag == tag)
        condition = and_(condition, Code.id.in_(tagged))
    return condition


def workspace_summary(
    workspace: Workspace,
    days: int = DEFAULT_DAYS,
    *,
    tz: ZoneInfo = UTC,
    folder_id: str | None = None,
    tag: str | None = None,
    now: dt.datetime | None = None,
) -> dict:
    """The workspace's scans (or a folder's or a tag's) exactly as `GET /v1/scans` shows them;
    `folder_id` and `tag` as `openqr.codes.filters` cleans them (the API and dashboard read them there)."""
    window = Window.ending_now(check_days(days), tz, now)
    codes = _codes_filter(workspace, folder_id, tag)
    # Each code's window count from its running totals; ranked here so each look-up runs once.
    running = _rows(
        select(
            Code.id,
            Code.slug,
            Code.label,
            _running_at(window.last, before=False),
            _running_at(window.first, before=True),
        ).where(codes)
    ).all()
    ranked = sorted(
        ((int(end) - int(before), slug, code_id, label) for code_id, slug, label, end, before in running),
        key=lambda row: (-row[0], row[1]),
    )
    by_code = [
        {"id": code_id, "slug": slug, "label": label, "n": n}
        for n, slug, code_id, label in ranked[:TOP_CODES]
        if n > 0
    ]
    if folder_id is None and tag is None:
        # The whole workspace: its own sums, however many codes it has.
        total = db.session.scalar(
            select(func.coalesce(func.sum(WorkspaceScanDay.n), 0)).where(
                WorkspaceScanDay.workspace_id == workspace.id
            )
        )
        mine = WorkspaceScanDay.workspace_id == workspace.id
        day_rows = _days(WorkspaceScanDay, mine, window, WorkspaceScanDay.visitors) if window.at_utc else {}
        hours = _time_of_day(WorkspaceScanHour, WorkspaceScanHour.workspace_id == workspace.id, window)
        breakdowns = _breakdowns(
            WorkspaceScanDayValue, WorkspaceScanDayValue.workspace_id == workspace.id, window
        )
    else:
        chosen = select(Code.id).where(codes)
        total = db.session.scalar(
            select(func.coalesce(func.sum(_running_at(dt.date.max, before=False)), 0)).where(codes)
        )
        mine = ScanDay.code_id.in_(chosen)
        day_rows = _days(ScanDay, mine, window, ScanDay.visitors) if window.at_utc else {}
        hours = _time_of_day(ScanHour, ScanHour.code_id.in_(chosen), window)
        breakdowns = _breakdowns(ScanDayValue, ScanDayValue.code_id.in_(chosen), window)
    series = _series(window, hours, day_rows)
    return {
        "days_window": window.days,
        "tz": window.tz.key,
        "folder_id": folder_id,
        "tag": tag,
        "total": int(total),
        "window_total": series["window_total"],
        "window_unique": series["window_unique"],
        "daily": series["daily"],
        "by_code": by_code,
        **breakdowns,
        "by_hour": series["by_hour"],
        "by_weekday": series["by_weekday"],
        "by_weekday_hour": series["by_weekday_hour"],
    }


def _stored_scans_query(*, since: bool):
    query = select(ScanDay.code_id, func.sum(ScanDay.n)).where(
        ScanDay.code_id.in_(bindparam("ids", expanding=True))
    )
    if since:
        query = query.where(ScanDay.day >= bindparam("since"))
    return query.group_by(ScanDay.code_id)


_STORED_SCANS = {False: _stored_scans_query(since=False), True: _stored_scans_query(since=True)}


def stored_scans(code_ids: Iterable[str], *, since: dt.date | None = None, connection=None) -> dict[str, int]:
    """Each code's stored scans (from its daily roll-ups): all of them, or those since a UTC day.
    Every id given is in the answer. `connection`: where to read, when not the session's (the
    link table reads on an engine of its own)."""
    ids = list(code_ids)
    if not ids:
        return {}
    params = {"ids": ids} if since is None else {"ids": ids, "since": since}
    reader = db.session.connection() if connection is None else connection
    rows = reader.execute(_STORED_SCANS[since is not None], params)
    counts = dict.fromkeys(ids, 0)
    counts.update({code_id: int(n or 0) for code_id, n in rows})
    return counts


def scan_counts(code_ids: list[str], *, on: dt.date | None = None) -> dict[str, tuple[int, int]]:
    """Lifetime and trailing-7-day scans for many codes at once (the dashboard's list)."""
    lifetime = stored_scans(code_ids)
    week = stored_scans(code_ids, since=(on or today()) - dt.timedelta(days=6))
    return {code_id: (total, week[code_id]) for code_id, total in lifetime.items()}


# --- the answers as JSON Schema (the OpenAPI document reads these) ---


def _window_schemas() -> dict:
    """The fields a window gives both answers: totals, days, breakdowns, time of day."""
    count = {"type": "integer", "minimum": 0}
    unique = {
        "type": ["integer", "null"],
        "minimum": 0,
        "description": "Distinct visitors (keyed hash of address, user agent and code under a key that "
        "lives one UTC day). `null` when `tz` is not at UTC+0 throughout the window.",
    }

    def per(key: str, size: int, description: str) -> dict:
        item = {"type": "integer", "minimum": 0, "maximum": size - 1}
        return {
            "type": "array",
            "minItems": size,
            "maxItems": size,
            "description": description,
            "items": closed({key: item, "n": count}),
        }

    day = closed({"day": {"type": "string", "format": "date"}, "n": count, "unique": unique})
    return {
        "window_total": count,
        "window_unique": {**unique, "description": "The sum of the window's daily `unique`, or `null`."},
        "daily": {
            "type": "array",
            "description": "Exactly `days` buckets, oldest first, ending today in `tz`.",
            "items": day,
        },
        **{
            f"by_{dimension}": top_schema(
                f"Over the window's dates as UTC days; `{_EMPTY_LABEL[dimension]}` if none."
            )
            for dimension in DIMENSIONS
        },
        "by_hour": per("hour", 24, "Scans per hour of the day in `tz` over the window, hour 0 first."),
        "by_weekday": per("weekday", 7, "Scans per weekday in `tz` over the window; 0 = Monday."),
        "by_weekday_hour": {
            "type": "array",
            "minItems": 7,
            "maxItems": 7,
            "description": "Scans per weekday (Monday first) and hour (0..23) in `tz`: the heat map.",
            "items": {"type": "array", "minItems": 24, "maxItems": 24, "items": count},
        },
    }


def top_schema(description: str) -> dict:
    """A breakdown as `_top` writes it: the most frequent values first."""
    value = closed({"value": {"type": "string"}, "n": {"type": "integer", "minimum": 1}})
    return {"type": "array", "maxItems": TOP, "description": description, "items": value}


def _head_schemas() -> dict:
    """The window and zone every answer starts with."""
    return {
        "days_window": {"type": "integer", "minimum": MIN_DAYS, "maximum": MAX_DAYS},
        "tz": {"type": "string", "description": "The IANA time zone of `daily`, `by_hour`, `by_weekday`."},
    }


def summary_schema() -> dict:
    """What `scan_summary` returns: `scans` (lifetime) and `analytics` (the window)."""
    count = {"type": "integer", "minimum": 0}
    scans = {
        "total": count,
        "last7": count,
        "topCountry": {"type": ["string", "null"], "pattern": anchored(COUNTRY)},
        "topDevice": {"type": ["string", "null"], "enum": [*DEVICES, None]},
    }
    window = {
        **_head_schemas(),
        "total": count,
        **_window_schemas(),
        "by_destination": top_schema("Where the window's scans went (URLs without utm parameters)."),
    }
    return {"scans": closed(scans), "analytics": closed(window)}


def workspace_schema() -> dict:
    """What `workspace_summary` returns."""
    code = closed(
        {
            "id": {"type": "string"},
            "slug": {"type": "string"},
            "label": {"type": ["string", "null"]},
            "n": {"type": "integer", "minimum": 1},
        }
    )
    fields = {
        **_head_schemas(),
        "folder_id": {"type": ["string", "null"], "description": "The folder asked for, if any."},
        "tag": {"type": ["string", "null"], "description": "The tag asked for, if any."},
        "total": {"type": "integer", "minimum": 0, "description": "Lifetime scans of the codes in view."},
        "by_code": {
            "type": "array",
            "maxItems": TOP_CODES,
            "description": "The codes with the most scans in the window (only codes with scans), most "
            "first, then by slug. Counted over the window's dates as UTC days.",
            "items": code,
        },
        **_window_schemas(),
    }
    return closed(
        fields,
        None,
        "The workspace's scans across its codes (or a folder's or a tag's). The daily `unique` of the "
        "workspace is the sum over its codes: a visitor of two codes counts twice.",
    )
