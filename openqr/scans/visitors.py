"""Distinct visitors without identifiers: a keyed hash under a key that lives one UTC day.

A visitor of a code on a day is HMAC-SHA256(day key, client address + user agent + code id).
The key is random, made by the first flush of the day (one row shared by every process on the
database) and deleted, with every hash made under it, by the first flush after the day ends.
Only the per-day counts outlive the day, so no stored value links a visitor across days or
leads back to an address. The same idea as Plausible's (https://plausible.io/data-policy).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import VisitorHash, VisitorKey

DIGEST_CHARS = 32  # 128 bits of the HMAC: collisions among a day's visitors are out of reach


def _insert(table):
    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table)


def forget_ended_days(today: dt.date) -> None:
    """Delete the keys and hashes of every day before `today` (UTC)."""
    db.session.execute(delete(VisitorHash).where(VisitorHash.day < today))
    db.session.execute(delete(VisitorKey).where(VisitorKey.day < today))


def day_key(day: dt.date) -> bytes:
    """The day's key, made now if this is the day's first use (the same row for every process)."""
    statement = _insert(VisitorKey.__table__).values(day=day, key=secrets.token_hex(32))
    db.session.execute(statement.on_conflict_do_nothing())
    return bytes.fromhex(db.session.scalar(select(VisitorKey.key).where(VisitorKey.day == day)))


def keyed(key: bytes) -> hmac.HMAC:
    """A day's key ready to hash visitors with (`digest` copies it)."""
    return hmac.new(key, digestmod=hashlib.sha256)


def digest(day: hmac.HMAC, visitor: str, code_id: str) -> str:
    """The visitor ("address\nuser agent") of a code on the day of the `keyed` key. (Not
    `hmac.digest`: that lets go of the interpreter lock, and a scan then waits to get it back.)"""
    mac = day.copy()
    mac.update(f"{visitor}\n{code_id}".encode("utf-8", "surrogatepass"))
    return mac.hexdigest()[:DIGEST_CHARS]


def count_new(events: Iterable, today: dt.date) -> Counter:
    """{(code_id, day): visitors not seen before today}, recording today's new hashes.

    Only scans of `today` count: a scan of a day that has ended (flushed just after midnight)
    still counts as a scan, but its day's key is gone, so it cannot be matched to a visitor.
    A scan hashed when it was answered (`digest`, under its own day's key) needs no key here.
    """
    day = None
    code_of: dict[str, str] = {}
    for event in events:
        if event.at.date() != today:
            continue
        value = event.digest
        if value is None:
            if event.visitor is None:
                continue
            day = day or keyed(day_key(today))
            value = digest(day, event.visitor, event.code_id)
        code_of[value] = event.code_id
    if not code_of:
        return Counter()
    table = VisitorHash.__table__
    statement = _insert(table).on_conflict_do_nothing().returning(table.c.digest)
    new = (
        db.session.execute(statement, [{"day": today, "digest": digest} for digest in code_of])
        .scalars()
        .all()
    )
    return Counter((code_of[digest], today) for digest in new)
