"""The published contract of `/v1`: an OpenAPI 3.1 document assembled from the rules it describes.

It states no bound, pattern, enum or field list of its own. Each schema comes from the module
whose validator or JSON writer it describes (codes, smart, folders, images, analytics, webhooks,
errors, rate limits), query arguments from `params`, the paths and methods from the blueprint's
URL map, each summary from its view's docstring, and the rest from the view's `@operation`.
A schema equal to a named component is written as a `$ref` to it. tests/api/test_schemathesis.py
fuzzes the app against the result.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from http import HTTPStatus

from flask import Flask

from ..auth import keys
from ..codes import core as codes
from ..codes import folders, sheets
from ..config import SETTINGS
from ..errors import Conflict, RateLimited, error_schema
from ..images import gate, payloads
from ..images import render as qr
from ..ops import outage, ratelimit
from ..scans import analytics
from ..text import DIGITS, anchored, closed
from ..webhooks import outbox as webhooks

Schemas = Callable[[], Mapping[str, dict]]  # names to JSON Schemas with their descriptions


@dataclass(frozen=True)
class Operation:
    """What the document says of a view beyond its route and docstring."""

    id: str
    answer: str | dict | None = None  # a component's name, or a schema
    says: str = ""  # what the answer is
    status: int = HTTPStatus.OK
    headers: Schemas | None = None  # of the answer
    body: str | None = None  # the request body's component
    body_says: str = ""
    query: Schemas | None = None
    required: tuple[str, ...] = ()  # query arguments that must be given
    errors: tuple[int, ...] = ()  # beyond those the route's shape implies
    image: str | None = None  # an image answer, with this Cache-Control
    media: Callable[[], tuple[str, ...]] | None = None  # the image's media types (else every format's)
    summary: str | None = None  # instead of the docstring's first line


def operation(operation_id: str, answer: str | dict | None = None, says: str = "", **details) -> Callable:
    """Mark a `/v1` view with what its operation in the document needs (see Operation)."""

    def mark(view):
        view.operation = Operation(operation_id, answer, says, **details)
        return view

    return mark


# --- small builders ---


def _ref(name: str, kind: str = "schemas") -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def _split(schema: dict) -> tuple[str, dict]:
    """A schema's description, and the rest (parameters and headers hold the two apart)."""
    rest = dict(schema)
    return rest.pop("description", ""), rest


def _parameter(name: str, schema: dict, where: str, required: bool) -> dict:
    description, bare = _split(schema)
    return {"name": name, "in": where, "required": required, "schema": bare, "description": description}


def _header(schema: dict) -> dict:
    description, bare = _split(schema)
    return {"description": description, "required": True, "schema": bare}


def _headers(schemas: Mapping[str, dict]) -> dict:
    return {name: _header(schema) for name, schema in schemas.items()}


def _json(schema: dict, description: str, headers: Mapping[str, dict] | None = None) -> dict:
    answer = {"description": description, "content": {"application/json": {"schema": schema}}}
    return {**answer, "headers": _headers(headers)} if headers else answer


def _envelope(key: str, array: dict) -> dict:
    """A view's answer that wraps one list: `{"codes": [...]}`."""
    return closed({key: array})


def _code(status: int) -> str:
    return str(int(status))


def _default(setting: str) -> str | None:
    return {entry.name: entry.default for entry in SETTINGS}[setting]


def _text(description: str) -> dict:
    return {"type": "string", "description": description}


def _seconds(description: str) -> dict:
    return {"type": "string", "pattern": anchored(DIGITS), "description": description}


# --- the components ---


def _schemas() -> dict[str, dict]:
    """Every named schema, each from the module that validates or writes what it describes."""
    uri = {"type": "string", "format": "uri"}
    report = {
        "id": {"type": "string"},
        "slug": {"type": "string"},
        "short_url": uri,
        "destination": {"type": "string"},
    }
    report.update(analytics.summary_schema())  # scan_report: the code, then its scan_summary
    return {
        "Error": error_schema(),
        "Deleted": closed({"deleted": {"const": True}}),
        "StyleIn": qr.style_schema(),
        "Style": qr.stored_style_schema(),
        "QrCreate": payloads.request_schema(),
        "CodeCreate": codes.create_schema(),
        "CodePatch": codes.patch_schema(),
        "BulkCreate": codes.bulk_schema(),
        "Code": codes.code_schema(),
        "History": _envelope("history", codes.history_schema()),
        "CodeList": _envelope("codes", {"type": "array", "items": codes.code_schema()}),
        "ScanReport": closed(report),
        "AccountScans": analytics.workspace_schema(),
        "SheetCreate": sheets.request_schema(),
        "FolderName": folders.name_schema(),
        "Folder": folders.folder_schema(),
        "FolderList": _envelope("folders", {"type": "array", "items": folders.folder_schema()}),
        "WebhookCreate": webhooks.create_schema(),
        "Webhook": webhooks.webhook_schema(),
        "WebhookCreated": webhooks.webhook_schema(with_secret=True),
        "WebhookList": _envelope("webhooks", {"type": "array", "items": webhooks.webhook_schema()}),
        "WebhookTestQueued": closed({"queued": {"const": True}, "event_id": {"type": "string"}}),
        "WebhookEvent": webhooks.event_schema(),
        "WebhookPayload": webhooks.payload_schema(),
    }


# The error answers many operations give, by status, each a component of this name.
SHARED = {
    HTTPStatus.BAD_REQUEST: "BadRequest",
    HTTPStatus.UNAUTHORIZED: "Unauthorized",
    HTTPStatus.NOT_FOUND: "NotFound",
    HTTPStatus.METHOD_NOT_ALLOWED: "MethodNotAllowed",
    HTTPStatus.CONFLICT: "Conflict",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "TooLarge",
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: "NotJson",
    HTTPStatus.TOO_MANY_REQUESTS: "RateLimited",
    HTTPStatus.SERVICE_UNAVAILABLE: "Unavailable",
}


def _responses() -> dict[str, dict]:
    """The named answers: the shared errors, and a delete's."""
    error = _ref("Error")
    retry = {"Retry-After": _seconds("Seconds to wait.")}
    limit = _default("OPENQR_MAX_BODY_BYTES")
    return {
        "BadRequest": _json(error, "Bad input: `field` names the culprit when there is one."),
        "Unauthorized": _json(
            error,
            "Missing, unknown or revoked API key.",
            {"WWW-Authenticate": _text(f"Always `{keys.CHALLENGE}`.")},
        ),
        "NotFound": _json(
            error, "No such resource in this workspace (another workspace's ids answer 404 too)."
        ),
        "MethodNotAllowed": _json(
            error,
            "The path exists but not with this method.",
            {"Allow": _text("The methods this path allows.")},
        ),
        "Conflict": _json(error, f"The slug is already taken (`error` is `{Conflict.code}`)."),
        "TooLarge": _json(
            error,
            f"The body is larger than the server's limit (`OPENQR_MAX_BODY_BYTES`, {limit} bytes by "
            "default).",
        ),
        "NotJson": _json(error, "The body was not sent as `Content-Type: application/json`."),
        "RateLimited": _json(
            error, "Rate limited: wait `Retry-After` seconds.", {**retry, **ratelimit.header_schemas()}
        ),
        "Unavailable": _json(
            error,
            f"The database is unreachable right now (`error` is `{outage.CODE}`); nothing was changed. "
            "Retry after `Retry-After` seconds.",
            retry,
        ),
        "Deleted": _json(_ref("Deleted"), "Deleted."),
        "RenderLimited": _json(
            error,
            "This account already has `OPENQR_RENDER_PER_ACCOUNT` images being drawn or waiting "
            f"(`error` is `{RateLimited.code}`): wait `Retry-After` seconds.",
            retry,
        ),
        "RenderBusy": _json(
            error,
            "Every render worker is busy and the line is full, or the wait for one ran out (`error` is "
            f"`{gate.RenderBusy.code}`); or the database is unreachable (`{outage.CODE}`). Retry after "
            "`Retry-After` seconds.",
            retry,
        ),
    }


# --- the operations, from the URL map ---


def _image_answers(cache_control: str, *, conditional: bool, media: tuple[str, ...]) -> dict:
    """The image; to a GET also 304 (other methods never answer 304 to If-None-Match)."""
    headers = _headers(
        {
            "ETag": {
                "type": "string",
                "pattern": anchored(qr.ETAG),
                "description": "Strong ETag of the bytes.",
            },
            "Cache-Control": _text(f"`{cache_control}`."),
        }
    )
    content = {each: {"schema": {"type": "string", "contentMediaType": each}} for each in media}
    answers = {_code(HTTPStatus.OK): {"description": "The image.", "headers": headers, "content": content}}
    if conditional:
        answers[_code(HTTPStatus.NOT_MODIFIED)] = {
            "description": "Not modified: the `If-None-Match` ETag still matches.",
            "headers": headers,
        }
    # Beyond the render gate's budget and line (openqr.images.gate).
    answers[_code(HTTPStatus.TOO_MANY_REQUESTS)] = _ref("RenderLimited", "responses")
    answers[_code(HTTPStatus.SERVICE_UNAVAILABLE)] = _ref("RenderBusy", "responses")
    return answers


def _answers(op: Operation, *, in_path: bool, public: bool, conditional: bool) -> dict:
    """The operation's own answer, then every shared one its shape implies, by status."""
    if op.image:
        media = op.media() if op.media else tuple(qr.FORMATS.values())
        answers = _image_answers(op.image, conditional=conditional, media=media)
    elif op.answer == "Deleted":
        answers = {_code(op.status): _ref("Deleted", "responses")}
    else:
        schema = _ref(op.answer) if isinstance(op.answer, str) else op.answer
        answers = {_code(op.status): _json(schema, op.says, op.headers() if op.headers else None)}
    statuses = {HTTPStatus.METHOD_NOT_ALLOWED, *op.errors}
    if not public:
        statuses |= {HTTPStatus.UNAUTHORIZED, HTTPStatus.SERVICE_UNAVAILABLE}
    if op.body:
        statuses |= {
            HTTPStatus.BAD_REQUEST,
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        }
    if op.query:
        statuses.add(HTTPStatus.BAD_REQUEST)
    if in_path:
        statuses.add(HTTPStatus.NOT_FOUND)
    for status in sorted(statuses):
        answers.setdefault(_code(status), _ref(SHARED[status], "responses"))
    return answers


def _operation(view, *, in_path: bool, public: bool, method: str) -> dict:
    op: Operation = view.operation
    conditional = method == "GET"
    first_line, _, _ = inspect.getdoc(view).partition("\n")
    out = {"operationId": op.id, "summary": op.summary or first_line}
    if public:
        out["security"] = []
    query = op.query() if op.query else {}
    parameters = [_parameter(name, schema, "query", name in op.required) for name, schema in query.items()]
    if op.image and conditional:
        since = _text("An ETag from an earlier answer: 304 when the image is unchanged.")
        parameters.append(_parameter("If-None-Match", since, "header", False))
    if parameters:
        out["parameters"] = parameters
    if op.body:
        out["requestBody"] = _body(op.body, op.body_says)
    out["responses"] = _answers(op, in_path=in_path, public=public, conditional=conditional)
    return out


def _body(component: str, description: str) -> dict:
    return {
        "required": True,
        "description": description,
        "content": {"application/json": {"schema": _ref(component)}},
    }


def _paths() -> dict:
    """Every route of the `/v1` blueprint, each method an operation of its view."""
    from . import PUBLIC_ENDPOINTS, bp  # the package imports this module: read its routes when asked

    app = Flask(__name__, static_folder=None)
    app.register_blueprint(bp)
    paths: dict[str, dict] = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if not isinstance(getattr(view, "operation", None), Operation) or not inspect.getdoc(view):
            raise LookupError(f"{rule.endpoint} needs a docstring and an @operation: the document shows both")
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", f"{{{name}}}")
        item = paths.setdefault(path, {})
        if rule.arguments:
            item["parameters"] = [
                _parameter(name, _text(f"The {name.removesuffix('_id')}'s `id`."), "path", True)
                for name in sorted(rule.arguments)
            ]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            public = rule.endpoint in PUBLIC_ENDPOINTS
            item[method.lower()] = _operation(
                view, in_path=bool(rule.arguments), public=public, method=method
            )
    return paths


def _outgoing_webhooks() -> dict:
    """What this server POSTs to a webhook's URL (OpenAPI 3.1 `webhooks`)."""
    interval, retry_for = _default("OPENQR_WEBHOOK_INTERVAL"), _default("OPENQR_WEBHOOK_RETRY_FOR")
    signed = [_parameter(name, _text(says), "header", True) for name, says in webhooks.SIGNED_HEADERS.items()]
    return {
        "events": {
            "post": {
                "summary": "Events for a subscribed URL: scan events batched, at most one request per "
                f"endpoint every `OPENQR_WEBHOOK_INTERVAL` ({interval} s by default); retried with "
                f"back-off until a 2xx, for `OPENQR_WEBHOOK_RETRY_FOR` ({retry_for} s by default).",
                "parameters": signed,
                "requestBody": _body("WebhookPayload", "The events, oldest first."),
                "responses": {
                    _code(HTTPStatus.OK): {"description": "Any 2xx: delivered. Anything else: retried later."}
                },
            }
        }
    }


def _linked(node: object, named: Mapping[frozenset, list[tuple[str, dict]]], own: str = "") -> object:
    """`node` with every schema equal to a named one (but `own`) written as a `$ref` to it, so a
    rule module nests plain schemas and the document still names each once. `named` holds the
    named schemas by their property names (a cheap first look)."""
    if isinstance(node, dict):
        for name, schema in named.get(frozenset(node.get("properties", ())), ()):
            if name != own and node == schema:
                return _ref(name)
        return {key: _linked(value, named) for key, value in node.items()}
    if isinstance(node, list):
        return [_linked(item, named) for item in node]
    return node


@cache
def spec(server_url: str = "") -> dict:
    """The OpenAPI 3.1 document; `server_url` is the public base URL (paths start with /v1)."""
    schemas = _schemas()
    named: dict[frozenset, list[tuple[str, dict]]] = {}
    for name, schema in schemas.items():
        named.setdefault(frozenset(schema["properties"]), []).append((name, schema))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "OpenQR API",
            "version": "1.0.0",
            "description": "Editable (dynamic) QR codes with scan analytics. Every call but this document "
            f"needs `Authorization: Bearer {keys.KEY_PREFIX}...`. Every error is JSON "
            '`{"error", "message", "field"?, "details"?}`. The same operations are tools for AI '
            "assistants on the MCP server at `/mcp` (Streamable HTTP, the same Bearer keys) and through "
            "`flask mcp` (stdio); each tool's arguments are this document's parameters and body fields.",
        },
        "servers": [{"url": server_url or "/"}],
        "security": [{"bearer": []}],
        "paths": _paths(),
        "webhooks": _outgoing_webhooks(),
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": f"{keys.KEY_PREFIX}..."}
            },
            "schemas": {name: _linked(schema, named, own=name) for name, schema in schemas.items()},
            "responses": _responses(),
        },
    }
