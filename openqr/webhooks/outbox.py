"""Webhooks: the rules of an endpoint (create, list, delete) and the outbox its events wait in.

Events are written as `WebhookDelivery` rows in the same transaction as what they report
(a code's change in `codes`, a batch of scans in `scans.store_scans`), so an event exists
exactly when its change does. `openqr.webhooks.delivery` sends them later, off the request path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

from flask import current_app
from sqlalchemy import func, select

from .. import audit
from ..destinations import DestinationError, url_schema
from ..errors import NotFound, ValidationError
from ..extensions import db
from ..models import Code, Webhook, WebhookDelivery, Workspace, find_owned, utcnow
from ..text import anchored, closed, iso_z, timestamp_schema
from . import egress

EVENT_TYPES = ("scan", "code.created", "code.updated", "code.deleted")
MAX_WEBHOOKS = 10  # per workspace
RECENT_DELIVERIES = 10  # rows the dashboard shows per endpoint
# Event ids: a random prefix per process and a counter, unique without a system call per scan event.
_ID_PREFIX = "evt_" + secrets.token_hex(8)
_id_counter = itertools.count()
FIELDS = ("url", "events")
ALLOW_HINT = " (an operator can allow an internal receiver with OPENQR_WEBHOOK_ALLOW_HOSTS)"
SECRET_PREFIX = "whsec_"
SECRET = re.compile(f"{SECRET_PREFIX}[A-Za-z0-9_-]+")  # what create_webhook makes
TEST_EVENT = "test"  # the event send_test queues, which nobody subscribes to
# The headers every delivery is signed with, and what each says.
TIMESTAMP_HEADER, SIGNATURE_HEADER = "X-OpenQR-Timestamp", "X-OpenQR-Signature"
SIGNED_HEADERS = {
    TIMESTAMP_HEADER: "Unix seconds when signed.",
    SIGNATURE_HEADER: '`sha256=` + hex HMAC-SHA256 of `"<timestamp>.<body>"` with the secret.',
}


# --- validation ---


def clean_url(value: object) -> str:
    """A public http(s) URL (the destination guard), or one whose host the operator allowed;
    never this server itself. With OPENQR_RESOLVE_DESTINATIONS its name must resolve to public
    addresses too (delivery checks them again either way: `egress`)."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("url is required: the http(s) address that receives the events.", field="url")
    config = current_app.config
    value = value.strip()
    try:
        egress.check_url(config, value, resolve_name=config.get("OPENQR_RESOLVE_DESTINATIONS", False))
    except DestinationError as err:
        hint = "" if isinstance(err, egress.SelfLoop) else ALLOW_HINT
        raise ValidationError(f"{err}{hint}", field="url", code="invalid_url") from None
    return value


def clean_events(value: object) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise ValidationError(
            f"events must be a non-empty list drawn from: {', '.join(EVENT_TYPES)}.", field="events"
        )
    unknown = [item for item in value if item not in EVENT_TYPES]
    if unknown:
        raise ValidationError(
            f"Unknown event '{unknown[0][:40]}': choose from {', '.join(EVENT_TYPES)}.", field="events"
        )
    return [kind for kind in EVENT_TYPES if kind in value]


# --- endpoints ---


def create_webhook(workspace: Workspace, data: object) -> tuple[Webhook, str]:
    """A new endpoint and its signing secret (shown to the owner this once)."""
    if not isinstance(data, Mapping):
        raise ValidationError("The body must be a JSON object.")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ValidationError(f"Unknown field: {unknown[0]}.", field=unknown[0], code="unknown_field")
    url = clean_url(data.get("url"))
    events = clean_events(data.get("events"))
    count = db.session.scalar(select(func.count()).where(Webhook.workspace_id == workspace.id))
    if count >= MAX_WEBHOOKS:
        raise ValidationError(
            f"A workspace has at most {MAX_WEBHOOKS} webhooks; delete one first.", field="url"
        )
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    hook = Webhook(workspace_id=workspace.id, url=url, events=events, secret=secret)
    db.session.add(hook)
    db.session.flush()
    audit.record(workspace.id, "webhook.created", "webhook", hook.id, {"url": url, "events": events})
    db.session.commit()
    return hook, secret


def list_webhooks(workspace: Workspace) -> list[Webhook]:
    query = (
        select(Webhook).where(Webhook.workspace_id == workspace.id).order_by(Webhook.created_at, Webhook.id)
    )
    return list(db.session.execute(query).scalars())


def get_webhook(workspace: Workspace, webhook_id: object) -> Webhook:
    hook = find_owned(Webhook, workspace.id, webhook_id)
    if hook is None:
        raise NotFound("No such webhook.")
    return hook


def delete_webhook(workspace: Workspace, webhook_id: object) -> None:
    """Delete an endpoint; its undelivered events go with it."""
    hook = get_webhook(workspace, webhook_id)
    audit.record(workspace.id, "webhook.deleted", "webhook", hook.id, {"url": hook.url})
    db.session.delete(hook)
    db.session.commit()


def recent_deliveries(hook: Webhook, limit: int = RECENT_DELIVERIES) -> list[WebhookDelivery]:
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == hook.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    return list(db.session.execute(query).scalars())


def send_test(workspace: Workspace, webhook_id: object) -> WebhookDelivery:
    """Queue one `test` event for an endpoint, delivered (and retried) like any other."""
    hook = get_webhook(workspace, webhook_id)
    event = _event(TEST_EVENT, None, {"message": "A test event from OpenQR: your endpoint is reachable."})
    row = _outbox_row(hook.id, TEST_EVENT, [event])
    db.session.commit()
    return row


def webhook_json(hook: Webhook, secret: str | None = None) -> dict:
    """An endpoint as the API shows it; `secret` only in the answer that created it."""
    body = {"id": hook.id, "url": hook.url, "events": list(hook.events), "created_at": iso_z(hook.created_at)}
    if secret is not None:
        body["secret"] = secret
    return body


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """SIGNATURE_HEADER: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


# --- the outbox writers: called inside the transaction of the change they report ---


def _event(kind: str, code: tuple[str, str] | None, data: dict, at: dt.datetime | None = None) -> dict:
    """One event; its id stays the same across retries, so receivers can drop duplicates."""
    return {
        "id": f"{_ID_PREFIX}{next(_id_counter):x}",
        "type": kind,
        "at": (at or utcnow()).isoformat(timespec="milliseconds") + "Z",
        "code": {"id": code[0], "slug": code[1]} if code else None,
        "data": data,
    }


def _outbox_row(webhook_id: str, kind: str, events: list[dict]) -> WebhookDelivery:
    row = WebhookDelivery(webhook_id=webhook_id, kind=kind, events=events, event_count=len(events))
    db.session.add(row)
    return row


def code_changed(
    workspace_id: int, kind: str, codes: Iterable[Code], as_json: Callable[[Code], dict]
) -> None:
    """Queue `code.created|updated|deleted` for the workspace's endpoints subscribed to it.

    Called before the commit of the change; one outbox row per endpoint holds all the codes.
    """
    hooks = [hook for hook in _workspace_hooks(workspace_id) if kind in hook.events]
    if not hooks:
        return
    db.session.flush()  # new codes get their ids and timestamps
    events = [_event(kind, (code.id, code.slug), as_json(code)) for code in codes]
    for hook in hooks:
        _outbox_row(hook.id, kind, events)


def _workspace_hooks(workspace_id: int) -> list[Webhook]:
    return list(db.session.execute(select(Webhook).where(Webhook.workspace_id == workspace_id)).scalars())


def scans_stored(scan_events: list) -> None:
    """Queue `scan` events for a batch of scans being stored (`scans.store_scans`): one row per endpoint.

    `data` is exactly what analytics keep of a scan: country, device, referrer and destination.
    """
    hooks = [
        row
        for row in db.session.execute(select(Webhook.id, Webhook.workspace_id, Webhook.events))
        if "scan" in row.events
    ]
    if not hooks:
        return
    workspaces = {hook.workspace_id for hook in hooks}
    ids = {event.code_id for event in scan_events}
    codes = {
        row.id: row
        for row in db.session.execute(
            select(Code.id, Code.slug, Code.workspace_id).where(
                Code.id.in_(ids), Code.workspace_id.in_(workspaces)
            )
        )
    }
    by_workspace: dict[int, list[dict]] = defaultdict(list)
    for scan in scan_events:
        code = codes.get(scan.code_id)
        if code is None:
            continue
        data = {
            "country": scan.country,
            "device": scan.device,
            "referrer": scan.referrer,
            "destination": scan.destination,
        }
        by_workspace[code.workspace_id].append(_event("scan", (code.id, code.slug), data, scan.at))
    for hook in hooks:
        if by_workspace.get(hook.workspace_id):
            _outbox_row(hook.id, "scan", by_workspace[hook.workspace_id])


def outbox_depth() -> int:
    """Events still waiting for delivery, across every endpoint."""
    query = select(func.coalesce(func.sum(WebhookDelivery.event_count), 0)).where(
        WebhookDelivery.status == "pending"
    )
    return int(db.session.scalar(query))


# --- the API's JSON and the events as JSON Schema (the OpenAPI document reads these) ---


def _fields() -> dict:
    return {
        "url": url_schema(
            "Where events are POSTed: a public http(s) URL (the destination guard), or one whose host, or "
            "host and port, the operator listed in `OPENQR_WEBHOOK_ALLOW_HOSTS`; never this server itself."
        ),
        "events": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "enum": list(EVENT_TYPES)},
            "description": "Event types to receive.",
        },
    }


def create_schema() -> dict:
    """The body `create_webhook` takes."""
    fields = _fields()
    return closed({name: fields[name] for name in FIELDS})


def webhook_schema(*, with_secret: bool = False) -> dict:
    """An endpoint as `webhook_json` writes it; `with_secret`: the answer that created it."""
    fields = {"id": {"type": "string"}, **_fields(), "created_at": timestamp_schema()}
    if with_secret:
        fields["secret"] = {
            "type": "string",
            "pattern": anchored(SECRET),
            "description": "Signing secret, shown only in this answer: keep it to verify "
            f"`{SIGNATURE_HEADER}`.",
        }
    return closed(fields)


def event_schema() -> dict:
    """One event as `_event` makes it."""
    return {
        "type": "object",
        "required": ["id", "type", "at", "code", "data"],
        "properties": {
            "id": {"type": "string", "description": "Stable across retries: drop an id seen before."},
            "type": {"type": "string", "enum": [*EVENT_TYPES, TEST_EVENT]},
            "at": {"type": "string", "format": "date-time"},
            "code": {
                "type": ["object", "null"],
                "properties": {"id": {"type": "string"}, "slug": {"type": "string"}},
                "description": f"The code the event is about (`null` for `{TEST_EVENT}`).",
            },
            "data": {
                "type": "object",
                "description": "`scan`: `country`, `device`, `referrer`, `destination` (each may be null), "
                "exactly what analytics keep. `code.*`: the code's JSON (as before deletion for "
                f"`code.deleted`). `{TEST_EVENT}`: a `message`.",
            },
        },
    }


def payload_schema() -> dict:
    """What a delivery POSTs (openqr.webhooks.delivery): `{"events": [...]}`, oldest first."""
    events = {"type": "array", "items": event_schema()}
    return {"type": "object", "required": ["events"], "properties": {"events": events}}
