"""Rolling-hour limits keyed by a string (`create:<account>`, `login-email:<address>`), stored
in the database so every process shares them."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from ..errors import RateLimited
from ..extensions import db
from ..models import RateEvent, utcnow
from ..text import DIGITS, anchored

WINDOW = dt.timedelta(hours=1)
# Expired rows removed per check: enough to keep up with any rate of checks, small enough to stay cheap.
PRUNE_BATCH = 100
LIMIT, REMAINING, RESET = "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"
# What each header of a counted action's answer says (the OpenAPI document shows these).
HEADERS = {
    LIMIT: "Actions allowed per rolling hour.",
    REMAINING: "Actions left in the window.",
    RESET: "Unix time at which the oldest counted action leaves the window.",
}


@dataclass(frozen=True)
class Budget:
    limit: int
    remaining: int
    reset: int  # Unix time at which the oldest counted action leaves the window

    def headers(self) -> dict[str, str]:
        return {LIMIT: str(self.limit), REMAINING: str(self.remaining), RESET: str(self.reset)}


def header_schemas() -> dict[str, dict]:
    """The headers of `Budget.headers`, each a JSON Schema with its description."""
    return {
        name: {"type": "string", "pattern": anchored(DIGITS), "description": says}
        for name, says in HEADERS.items()
    }


def _epoch(moment: dt.datetime) -> int:
    return math.ceil(moment.replace(tzinfo=dt.UTC).timestamp())


def _serialise(key: str) -> None:
    """Hold `key` until the transaction ends, so concurrent checks of one key count one at a time.

    PostgreSQL: a transaction-scoped advisory lock on the key's hash. SQLite: the first write
    (the prune below) takes the database's write lock, which serialises every writer.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


def _prune(since: dt.datetime) -> None:
    """Delete a batch of expired rows of any key, so keys never seen again do not pile up.

    SKIP LOCKED: two transactions pruning at once each take other rows, never wait for each other.
    """
    expired = (
        select(RateEvent.id)
        .where(RateEvent.created_at <= since)
        .limit(PRUNE_BATCH)
        .with_for_update(skip_locked=True)
    )
    db.session.execute(delete(RateEvent).where(RateEvent.id.in_(expired)))


def consume(key: str, limit: int) -> Budget:
    """Count one action under `key` inside the current transaction, or raise RateLimited.

    The caller commits (with its own writes) or rolls back (then nothing was counted).
    """
    now = utcnow()
    since = now - WINDOW
    _serialise(key)
    _prune(since)
    used, oldest = db.session.execute(
        select(func.count(), func.min(RateEvent.created_at)).where(
            RateEvent.key == key, RateEvent.created_at > since
        )
    ).one()
    reset = _epoch((oldest or now) + WINDOW)
    if used >= limit:
        retry_after = max(1, math.ceil(((oldest + WINDOW) - now).total_seconds()))
        budget = Budget(limit, 0, reset)
        raise RateLimited(
            f"Rate limit reached: {limit} per hour. Try again in {retry_after} seconds.",
            retry_after=retry_after,
            headers={**budget.headers(), "Retry-After": str(retry_after)},
        )
    db.session.add(RateEvent(key=key, created_at=now))
    return Budget(limit, limit - used - 1, reset)
