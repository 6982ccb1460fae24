"""Per-account rolling-hour limits, stored in the database so every process shares them."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from .errors import RateLimited
from .extensions import db
from .models import Account, RateEvent, utcnow

WINDOW = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Budget:
    limit: int
    remaining: int
    reset: int  # Unix time at which the oldest counted action leaves the window

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


def _epoch(moment: dt.datetime) -> int:
    return math.ceil(moment.replace(tzinfo=dt.UTC).timestamp())


def consume(account_id: int, action: str, limit: int) -> Budget:
    """Count one `action` for the account inside the current transaction, or raise RateLimited.

    The caller commits (with its own writes) or rolls back (then nothing was counted).
    """
    now = utcnow()
    since = now - WINDOW
    # Writing the account row first serialises concurrent checks across threads and processes.
    db.session.execute(update(Account).where(Account.id == account_id).values(lock_seq=Account.lock_seq + 1))
    db.session.execute(
        delete(RateEvent).where(
            RateEvent.account_id == account_id, RateEvent.action == action, RateEvent.created_at <= since
        )
    )
    used, oldest = db.session.execute(
        select(func.count(), func.min(RateEvent.created_at)).where(
            RateEvent.account_id == account_id, RateEvent.action == action, RateEvent.created_at > since
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
    db.session.add(RateEvent(account_id=account_id, action=action, created_at=now))
    return Budget(limit, limit - used - 1, reset)


def peek(account_id: int, action: str, limit: int) -> Budget:
    """The budget left, without counting anything."""
    now = utcnow()
    used, oldest = db.session.execute(
        select(func.count(), func.min(RateEvent.created_at)).where(
            RateEvent.account_id == account_id,
            RateEvent.action == action,
            RateEvent.created_at > now - WINDOW,
        )
    ).one()
    return Budget(limit, max(0, limit - used), _epoch((oldest or now) + WINDOW))
