"""`/v1/webhooks`: endpoints that receive an account's events, signed; a test event on demand."""

from flask import Blueprint, g, jsonify

from ..services import current_services
from ..webhooks import outbox as webhooks
from .openapi import operation
from .params import json_body

bp = Blueprint("webhooks", __name__)


@bp.post("/webhooks")
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
    hook, secret = webhooks.create_webhook(g.account, json_body())
    response = jsonify(webhooks.webhook_json(hook, secret))
    response.status_code = 201
    response.headers["Location"] = f"/v1/webhooks/{hook.id}"
    return response


@bp.get("/webhooks")
@operation("listWebhooks", "WebhookList", "The webhooks.")
def list_():
    """The account's webhooks, oldest first (secrets are never listed)."""
    return {"webhooks": [webhooks.webhook_json(hook) for hook in webhooks.list_webhooks(g.account)]}


@bp.delete("/webhooks/<webhook_id>")
@operation("deleteWebhook", "Deleted")
def delete(webhook_id):
    """Delete a webhook; its undelivered events are dropped."""
    webhooks.delete_webhook(g.account, webhook_id)
    return {"deleted": True}


@bp.post("/webhooks/<webhook_id>/test")
@operation("testWebhook", "WebhookTestQueued", "Queued.", status=202)
def test(webhook_id):
    """Queue one `test` event for the webhook, delivered and retried like any other."""
    row = webhooks.send_test(g.account, webhook_id)
    current_services().deliverer.wake()
    return {"queued": True, "event_id": row.events[0]["id"]}, 202
