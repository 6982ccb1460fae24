"""`/v1/webhooks`: endpoints that receive a workspace's events, signed; a test event on demand."""

from flask import Blueprint, g, jsonify

from ..auth.roles import needs
from ..services import current_services
from ..webhooks import outbox as webhooks
from .openapi import operation
from .params import json_body

bp = Blueprint("webhooks", __name__)


@bp.post("/webhooks")
@needs("admin")
@operation(
    "createWebhook",
    "WebhookCreated",
    "Created.",
    status=201,
    body="WebhookCreate",
    body_says="The receiver's URL and the events it wants.",
)
def create():
    """Subscribe a URL to events; the answer carries the signing secret, this once."""
    hook, secret = webhooks.create_webhook(g.workspace, json_body())
    response = jsonify(webhooks.webhook_json(hook, secret))
    response.status_code = 201
    response.headers["Location"] = f"/v1/webhooks/{hook.id}"
    return response


@bp.get("/webhooks")
@needs("admin")
@operation("listWebhooks", "WebhookList", "The webhooks.")
def list_():
    """The workspace's webhooks, oldest first (secrets are never listed)."""
    return {"webhooks": [webhooks.webhook_json(hook) for hook in webhooks.list_webhooks(g.workspace)]}


@bp.delete("/webhooks/<webhook_id>")
@needs("admin")
@operation("deleteWebhook", "Deleted")
def delete(webhook_id):
    """Delete a webhook; its undelivered events are dropped."""
    webhooks.delete_webhook(g.workspace, webhook_id)
    return {"deleted": True}


@bp.post("/webhooks/<webhook_id>/test")
@needs("admin")
@operation("testWebhook", "WebhookTestQueued", "Queued.", status=202)
def test(webhook_id):
    """Queue one `test` event for the webhook, delivered and retried like any other."""
    row = webhooks.send_test(g.workspace, webhook_id)
    current_services().deliverer.wake()
    return {"queued": True, "event_id": row.events[0]["id"]}, 202
