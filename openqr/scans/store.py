"""Storing classified scans: the raw rows, the roll-ups and their visitors, in one transaction a batch."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from functools import lru_cache

from sqlalchemy import and_, bindparam, delete, select, text, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import (
    Code,
    ScanDay,
    ScanDayValue,
    ScanHour,
    ScanStream,
    WorkspaceScanDay,
    WorkspaceScanDayValue,
    WorkspaceScanHour,
    hour_number,
    utcnow,
)
from ..webhooks import outbox as webhooks
from . import visitors
from .classify import ScanEvent

log = logging.getLogger(__name__)


def _sql_value(value, on_sqlite: bool):
    """A value as the driver takes it: SQLite stores a day or a time as ISO text, exactly as
    SQLAlchemy's Date and DateTime write them (so comparisons in queries keep working)."""
    if on_sqlite:
        if isinstance(value, dt.datetime):
            return value.isoformat(" ", "microseconds")
        if isinstance(value, dt.date):
            return value.isoformat()
    return value


def rollup_upsert(
    table: str, keys: tuple[str, ...], added: tuple[str, ...] = ("n",), *, sqlite: bool, also: tuple = ()
) -> str:
    """The one roll-up write, for the driver's executemany: insert the row (`keys`, then `added`,
    then `also`) or, where its key exists, add its `added` counts to the stored ones (`also` is
    written by an insert only)."""
    columns = (*keys, *added, *also)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['?' if sqlite else '%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
        + ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in added)
    )


def _add_counts(
    table, keys: tuple[str, ...], counts: Counter, visitors_by_key: Counter | None = None
) -> None:
    """Add `counts` (and distinct visitors, for tables that keep them) to a roll-up table: one
    upsert, the rows handed to the driver's executemany as plain tuples. With scans spread over
    many codes a batch carries thousands of roll-up rows, and SQLAlchemy's per-row parameter
    handling cost more than the writes themselves."""
    if not counts:
        return
    connection = db.session.connection()
    on_sqlite = connection.dialect.name != "postgresql"
    added = ("n", "visitors") if visitors_by_key is not None else ("n",)
    statement = rollup_upsert(table.name, keys, added, sqlite=on_sqlite)
    rows = [
        (
            *(_sql_value(value, on_sqlite) for value in key),
            n,
            *((visitors_by_key.get(key, 0),) if visitors_by_key is not None else ()),
        )
        for key, n in counts.items()
    ]
    connection.exec_driver_sql(statement, rows)


@lru_cache(maxsize=2)
def _day_statements(dialect: str) -> tuple:
    """A day's row starts from the running total of the code's previous row; rows of later days
    (a late scan of yesterday flushed after today's row exists) are moved up first. PostgreSQL
    infers one type per parameter, so there each is cast (SQLite would turn a cast date into a number)."""
    cast = dialect == "postgresql"
    code, day, n = (
        ("CAST(:code_id AS VARCHAR(32))", "CAST(:day AS DATE)", "CAST(:n AS INTEGER)")
        if cast
        else (":code_id", ":day", ":n")
    )
    visitors = "CAST(:visitors AS INTEGER)" if cast else ":visitors"
    later = text(f"UPDATE scan_days SET running = running + {n} WHERE code_id = {code} AND day > {day}")
    add = text(
        f"INSERT INTO scan_days (code_id, day, n, visitors, running) VALUES ({code}, {day}, {n}, {visitors}, "
        f"{n} + coalesce((SELECT running FROM scan_days AS earlier WHERE earlier.code_id = {code} "
        f"AND earlier.day < {day} ORDER BY earlier.day DESC LIMIT 1), 0)) "
        "ON CONFLICT (code_id, day) DO UPDATE SET n = scan_days.n + excluded.n, "
        "visitors = scan_days.visitors + excluded.visitors, running = scan_days.running + excluded.n"
    )
    return later, add


def _add_days(per_day: Counter, visitors_by_day: Counter) -> None:
    rows = [
        {"code_id": code_id, "day": day, "n": n, "visitors": visitors_by_day.get((code_id, day), 0)}
        for (code_id, day), n in sorted(per_day.items(), key=lambda item: item[0][1])
    ]
    if rows:
        later, add = _day_statements(db.session.get_bind().dialect.name)
        db.session.execute(later, rows)
        db.session.execute(add, rows)


def _serialise_rollup_writers() -> None:
    """One roll-up writer at a time across processes: running totals and workspace sums stay exact.
    SQLite has a single writer anyway; PostgreSQL takes a transaction-scoped advisory lock."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(7273)"))


def _add_rollups(kept: list[ScanEvent], owners: dict[str, int]) -> None:
    """Per code and per workspace: days (with distinct visitors), hours and breakdown values."""
    per_day, per_hour, per_value, per_destination = Counter(), Counter(), Counter(), Counter()
    for e in kept:
        day = e.at.date()
        per_day[(e.code_id, day)] += 1
        per_hour[(e.code_id, hour_number(e.at))] += 1
        per_value[(e.code_id, day, "country", e.country or "")] += 1
        per_value[(e.code_id, day, "device", e.device or "")] += 1
        per_value[(e.code_id, day, "referrer", e.referrer or "")] += 1
        if e.destination:
            per_destination[(e.code_id, day, DESTINATION, e.destination)] += 1
    new_visitors = visitors.count_new(kept, utcnow().date())

    def by_workspace(counts: Counter) -> Counter:
        summed = Counter()
        for (code_id, *rest), n in counts.items():
            summed[(owners[code_id], *rest)] += n
        return summed

    _add_days(per_day, new_visitors)
    _add_counts(ScanHour.__table__, ("code_id", "hour"), per_hour)
    _add_counts(ScanDayValue.__table__, ("code_id", "day", "dimension", "value"), per_value + per_destination)
    _add_counts(
        WorkspaceScanDay.__table__, ("workspace_id", "day"), by_workspace(per_day), by_workspace(new_visitors)
    )
    _add_counts(WorkspaceScanHour.__table__, ("workspace_id", "hour"), by_workspace(per_hour))
    _add_counts(
        WorkspaceScanDayValue.__table__,
        ("workspace_id", "day", "dimension", "value"),
        by_workspace(per_value),
    )


_RAW_COLUMNS = ("code_id", "scanned_at", "country", "device", "referrer", "destination")
DESTINATION = "dest"  # the roll-up dimension of where scans were sent (fits the 8-character column)


_SQLITE_INSERT_SCANS = (
    f"INSERT INTO scans ({', '.join(_RAW_COLUMNS)}) VALUES ({', '.join('?' * len(_RAW_COLUMNS))})"
)


def _insert_raw(events: list[ScanEvent]) -> None:
    """The raw rows, in the session's transaction. PostgreSQL gets COPY: far less server work
    per row than one INSERT each, and the server shares the machine with the app. SQLite gets
    the driver's executemany with plain tuples, as the roll-ups do (_add_counts)."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        import psycopg  # the PostgreSQL driver, present whenever this branch runs

        cursor = connection.connection.driver_connection.cursor()
        try:
            with cursor.copy(f"COPY scans ({', '.join(_RAW_COLUMNS)}) FROM STDIN") as copy:
                for e in events:
                    copy.write_row((e.code_id, e.at, e.country, e.device, e.referrer, e.destination))
        except psycopg.IntegrityError as err:  # as SQLAlchemy would raise it: store_scans retries
            raise IntegrityError("COPY scans", None, err) from err
    else:
        connection.exec_driver_sql(
            _SQLITE_INSERT_SCANS,
            [
                (e.code_id, _sql_value(e.at, True), e.country, e.device, e.referrer, e.destination)
                for e in events
            ],
        )


def _not_stored_yet(stream: str, events: list[ScanEvent]) -> list[ScanEvent]:
    """The events of a journal's stream (in order) after its mark, moving the mark past them, in
    the session's transaction. Writers take turns (`_serialise_rollup_writers`, SQLite's one
    writer), so reading the mark and moving it cannot interleave with another batch's."""
    mark = db.session.get(ScanStream, stream, populate_existing=True)
    done = mark.seq if mark is not None else 0
    if events[-1].seq > done:
        if mark is None:
            db.session.add(ScanStream(stream=stream, seq=events[-1].seq))
        else:
            mark.seq, mark.updated_at = events[-1].seq, utcnow()
        db.session.flush()
    return [event for event in events if event.seq > done]


def forget_streams(*streams: str) -> None:
    """Journals that are gone for good (every record stored, the files deleted) need no mark."""
    db.session.execute(delete(ScanStream).where(ScanStream.stream.in_(streams)))


def store_scans(events: list[ScanEvent], stream: str | None = None) -> int:
    """Write raw rows and the roll-ups in one transaction; return how many were stored.

    With `stream` (a scan journal's name; the events in the order of their `seq`), events at or
    below the stream's mark were stored before (a replay after a kill, a commit whose answer was
    lost) and are skipped. Scans of codes deleted meanwhile are dropped (their code, and so their
    analytics, is gone).
    """
    for _attempt in range(2):
        _serialise_rollup_writers()
        visitors.forget_ended_days(utcnow().date())
        fresh = _not_stored_yet(stream, events) if stream is not None and events else events
        ids = {event.code_id for event in fresh}
        owners = dict(db.session.execute(select(Code.id, Code.workspace_id).where(Code.id.in_(ids))).all())
        kept = [event for event in fresh if event.code_id in owners]
        if not kept:
            db.session.commit()
            return 0
        _insert_raw(kept)
        _add_rollups(kept, owners)
        webhooks.scans_stored(kept)  # their `scan` events, in the same transaction
        try:
            db.session.commit()
            return len(kept)
        except IntegrityError:
            # A code was deleted between the check and the insert: look again.
            db.session.rollback()
    return 0


def forget_code(code: Code) -> None:
    """Take a code's scans out of its workspace's roll-ups; call just before deleting the code
    (its own roll-ups go with it), so the workspace's numbers stay the sum of its codes'."""
    _serialise_rollup_writers()
    pairs = (
        (ScanDay, WorkspaceScanDay, ("day",), ("n", "visitors")),
        (ScanHour, WorkspaceScanHour, ("hour",), ("n",)),
        (ScanDayValue, WorkspaceScanDayValue, ("day", "dimension", "value"), ("n",)),
    )
    for per_code, per_workspace, keys, counted in pairs:
        columns = [getattr(per_code, name) for name in (*keys, *counted)]
        rows = [
            dict(
                zip(
                    (*(f"at_{key}" for key in keys), *(f"minus_{name}" for name in counted)), row, strict=True
                )
            )
            for row in db.session.execute(select(*columns).where(per_code.code_id == code.id))
        ]
        if not rows:
            continue
        table = per_workspace.__table__
        match = and_(
            table.c.workspace_id == code.workspace_id,
            *(table.c[key] == bindparam(f"at_{key}") for key in keys),
        )
        values = {name: table.c[name] - bindparam(f"minus_{name}") for name in counted}
        db.session.connection().execute(update(table).where(match).values(values), rows)
        db.session.execute(delete(table).where(table.c.workspace_id == code.workspace_id, table.c.n <= 0))
