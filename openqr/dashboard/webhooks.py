"""Webhooks: create (the secret shown once), list with recent deliveries, send a test event, delete."""

from __future__ import annotations

from flask import g, request

from ..auth.roles import needs
from ..errors import ValidationError
from ..services import current_services
from ..web.htmx import page_or_block
from ..webhooks import outbox as webhooks
from .base import bp


def _webhooks_page(status: int = 200, **context):
    hooks = webhooks.list_webhooks(g.workspace)
    base = {
        "hooks": [(hook, webhooks.recent_deliveries(hook)) for hook in hooks],
        "event_types": webhooks.EVENT_TYPES,
        "errors": {},
        "form": {"url": "", "events": ["scan"]},
        "created": None,
        "secret": None,
        "queued": None,
    }
    return page_or_block("dashboard/webhooks.html", "webhooks", status=status, **{**base, **context})


@bp.get("/webhooks")
@needs("admin")
def webhooks_page():
    """Your webhook endpoints, each with its recent deliveries."""
    return _webhooks_page()


@bp.post("/webhooks")
@needs("admin")
def webhook_create():
    """Subscribe a URL; its signing secret is shown this once. Errors sit beside their field."""
    form = {"url": request.form.get("url", ""), "events": request.form.getlist("events")}
    try:
        hook, secret = webhooks.create_webhook(g.workspace, form)
    except ValidationError as err:
        return _webhooks_page(400, errors={err.field or "url": err.message}, form=form)
    return _webhooks_page(201, created=hook, secret=secret)


@bp.post("/webhooks/<webhook_id>/test")
@needs("admin")
def webhook_test(webhook_id: str):
    """Queue a test event; the deliveries list shows how it went."""
    webhooks.send_test(g.workspace, webhook_id)
    current_services().deliverer.wake()
    return _webhooks_page(queued=webhook_id)


@bp.post("/webhooks/<webhook_id>/delete")
@needs("admin")
def webhook_delete(webhook_id: str):
    """Delete an endpoint and its undelivered events."""
    webhooks.delete_webhook(g.workspace, webhook_id)
    return _webhooks_page()
