"""The audit log: every change in a workspace and who made it.

`record` adds an entry to the session of the change itself, so the entry is committed (or rolled
back) with it. Who acted comes from the request's `Access` (a member in the dashboard, a key in the
API and the MCP tools), or from `acting(...)` around work done outside a request: the scheduler
acts as `{"type": "schedule"}`, and anything else outside a request is the command line.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from flask import g, has_app_context

from ..extensions import db
from ..models import AuditEntry, utcnow

CLI = {"type": "cli"}
SCHEDULE = {"type": "schedule"}

_acting: contextvars.ContextVar[dict | None] = contextvars.ContextVar("openqr_actor", default=None)


@contextlib.contextmanager
def acting(actor: dict) -> Iterator[None]:
    """Changes made inside are recorded as `actor`'s (the scheduler, a command)."""
    token = _acting.set(actor)
    try:
        yield
    finally:
        _acting.reset(token)


def member_actor(email: str) -> dict:
    return {"type": "member", "email": email}


def key_actor(prefix: str, name: str) -> dict:
    return {"type": "key", "prefix": prefix, "name": name}


def current_actor() -> dict:
    """Who is making the change at hand."""
    explicit = _acting.get()
    if explicit is not None:
        return explicit
    if has_app_context():  # a request's, or an MCP tool call's
        access = g.get("access")
        if access is not None:
            return access.actor
    return CLI


def record(
    workspace_id: int, action: str, object_type: str, object_id: object, details: dict | None = None
) -> None:
    """Add one entry to the current transaction: committed with the change, or not at all."""
    db.session.add(
        AuditEntry(
            workspace_id=workspace_id,
            at=utcnow(),
            actor=current_actor(),
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            details=details or {},
        )
    )


ACTOR_TYPES = ("member", "key", "cli", "schedule")


def actor_schema() -> dict:
    """Who made a change, as the audit log and a code's history name them."""
    return {
        "type": ["object", "null"],
        "description": "Who made the change: a member (`email`), a key (`prefix`, `name`), the command "
        "line or the schedule; null for a change made before workspaces existed.",
        "required": ["type"],
        "properties": {
            "type": {"type": "string", "enum": list(ACTOR_TYPES)},
            "email": {"type": "string"},
            "prefix": {"type": ["string", "null"]},
            "name": {"type": ["string", "null"]},
        },
        "additionalProperties": False,
    }
