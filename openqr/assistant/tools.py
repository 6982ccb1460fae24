"""The tools an assistant may call: each a thin wrapper over the function its `/v1` route calls.

A tool's arguments are read from the OpenAPI document (its operation's path, query and body
parameters, with their types, bounds and descriptions), so a field the API gains appears in
the tool with no new code; its result is the API's JSON for the same call, and a refusal is
the API's error (`DomainError`). Nothing here imports the MCP SDK: `server.py` does.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

from .. import codes, folders, qr
from ..api import codes as api_codes
from ..api.openapi import spec
from ..errors import DomainError, ValidationError
from ..models import Account
from ..qr_http import code_image_params, image_params

# Who changed a destination, as a code's history records it. The domain's create and update do
# not take a source yet (the history arrives with smart destinations): pass SOURCE there then.
SOURCE = "mcp"


@dataclass(frozen=True)
class Image:
    """A rendered QR image: PNG bytes or SVG text."""

    data: bytes
    media_type: str
    description: str


@dataclass(frozen=True)
class Tool:
    """One tool: its name, the `/v1` operation(s) it mirrors, what it runs, how it reads as text."""

    name: str
    method: str
    paths: tuple[str, ...]  # OpenAPI paths; `{code_id}` becomes the argument `id`
    run: Callable[[Account, dict], dict | Image]
    text: Callable[[dict], str] | None = None  # None: the JSON itself
    description: str | None = None  # None: the operation's summary


def _id(args: dict) -> tuple[str, dict]:
    """The `id` argument (a code's id) and the other arguments."""
    rest = {name: value for name, value in args.items() if name != "id"}
    code_id = args.get("id")
    if not isinstance(code_id, str) or not code_id:
        raise ValidationError("'id' is required: the code's id, as list_codes shows it.", field="id")
    return code_id, rest


def _create_code(account: Account, args: dict) -> dict:
    code, _budget = codes.create_code(account, args)
    return codes.code_json(code)


def _get_code(account: Account, args: dict) -> dict:
    return codes.code_json(codes.get_code(account, _id(args)[0]))


def _update_code(account: Account, args: dict) -> dict:
    code_id, fields = _id(args)
    return codes.code_json(codes.update_code(account, code_id, fields))


def _delete_code(account: Account, args: dict) -> dict:
    codes.delete_code(account, _id(args)[0])
    return {"deleted": True}


def _bulk_create(account: Account, args: dict) -> dict:
    return {"codes": [codes.code_json(code) for code in codes.bulk_create(account, args)]}


def _get_scans(account: Account, args: dict) -> dict:
    return api_codes.scan_report(account, *_id(args))


def _list_folders(account: Account, args: dict) -> dict:
    return {"folders": [folders.folder_json(f, n) for f, n in folders.list_folders(account)]}


def _create_folder(account: Account, args: dict) -> dict:
    return folders.folder_json(folders.create_folder(account, args))


def _render_qr(account: Account, args: dict) -> Image:
    if "id" in args:
        code_id, rest = _id(args)
        params = code_image_params(codes.get_code(account, code_id), rest)
    else:
        params = image_params(args)
    what = f"{params.format.upper()} QR code, {params.size}x{params.size} px, encoding {params.data}"
    return Image(qr.render(params), qr.media_type(params.format), what)


# --- short text renderings (the structured content carries the whole JSON) ---


def _code_line(code: dict) -> str:
    label = f" \u201c{code['label']}\u201d" if code.get("label") else ""
    return f"{code['short_url']} -> {code['destination']}{label} (id {code['id']}, {code['status']})"


def _codes_text(body: dict) -> str:
    found = body["codes"]
    return "\n".join([f"{len(found)} code{'s' if len(found) != 1 else ''}", *map(_code_line, found)])


def _top_text(entries: list[dict]) -> str:
    return ", ".join(f"{entry['value']} {entry['n']}" for entry in entries) or "none"


def _scans_text(body: dict) -> str:
    window = body["analytics"]
    lines = [
        f"{body['short_url']}: {window['window_total']} scans in the last {window['days_window']} days, "
        f"{body['scans']['last7']} in the last 7, {body['scans']['total']} in all.",
        "By day: " + ", ".join(f"{day['day']} {day['n']}" for day in window["daily"]),
    ]
    lines += [
        f"{name}: {_top_text(window[key])}"
        for name, key in (("Countries", "by_country"), ("Devices", "by_device"), ("Referrers", "by_referrer"))
        if key in window
    ]
    return "\n".join(lines)


def _folders_text(body: dict) -> str:
    return "\n".join(
        [f"{len(body['folders'])} folders"]
        + [f"{f['name']} (id {f['id']}, {f.get('code_count', 0)} codes)" for f in body["folders"]]
    )


TOOLS: tuple[Tool, ...] = (
    Tool("create_code", "post", ("/v1/dynamic",), _create_code, _code_line),
    Tool("list_codes", "get", ("/v1/dynamic",), api_codes.code_list, _codes_text),
    Tool("get_code", "get", ("/v1/dynamic/{code_id}",), _get_code, _code_line),
    Tool("update_code", "patch", ("/v1/dynamic/{code_id}",), _update_code, _code_line),
    Tool("delete_code", "delete", ("/v1/dynamic/{code_id}",), _delete_code, lambda body: "Deleted."),
    Tool("bulk_create_codes", "post", ("/v1/dynamic/bulk",), _bulk_create, _codes_text),
    Tool("get_scans", "get", ("/v1/dynamic/{code_id}/scans",), _get_scans, _scans_text),
    Tool("list_folders", "get", ("/v1/folders",), _list_folders, _folders_text),
    Tool(
        "create_folder",
        "post",
        ("/v1/folders",),
        _create_folder,
        lambda f: f"Folder {f['name']} (id {f['id']})",
    ),
    Tool(
        "render_qr",
        "get",
        ("/v1/qr", "/v1/dynamic/{code_id}/qr"),
        _render_qr,
        description="A QR image of one of your codes (`id`: its short URL, in its saved style unless "
        "overridden here) or of any text (`data`); give one of the two. A PNG comes back as an image, "
        "an SVG as text.",
    ),
)
BY_NAME = {tool.name: tool for tool in TOOLS}


# --- schemas, read from the OpenAPI document ---


def _resolve(node: object, document: dict) -> object:
    """`node` with every local `$ref` replaced by what it points at (tool schemas stand alone)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _resolve(target, document)
        return {key: _resolve(value, document) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, document) for item in node]
    return node


@dataclass(frozen=True)
class Listing:
    """What `tools/list` shows of a tool."""

    name: str
    description: str
    input_schema: dict
    output_schema: dict | None
    read_only: bool
    destructive: bool


def _operation_input(path: str, method: str, document: dict) -> tuple[dict, set[str]]:
    item = document["paths"][path]
    operation = item[method]
    properties, required = {}, set()
    for parameter in _resolve(item.get("parameters", []) + operation.get("parameters", []), document):
        if parameter["in"] == "path":
            name = "id"  # `{code_id}` in the URL; a code's JSON calls it `id`
            properties[name] = {"type": "string", "minLength": 1, "description": parameter["description"]}
        elif parameter["in"] == "query":
            name = parameter["name"]
            properties[name] = {**parameter["schema"], "description": parameter["description"]}
        else:
            continue  # headers (If-None-Match) mean nothing to a tool
        if parameter.get("required"):
            required.add(name)
    body = operation.get("requestBody")
    if body:
        schema = _resolve(body["content"]["application/json"]["schema"], document)
        properties.update(schema["properties"])
        required.update(schema.get("required", ()))
    return properties, required


def _output(path: str, method: str, document: dict) -> dict | None:
    responses = document["paths"][path][method]["responses"]
    ok = _resolve(responses.get("200") or responses.get("201"), document)
    schema = ok.get("content", {}).get("application/json", {}).get("schema")
    return schema if schema and schema.get("type") == "object" else None


@cache
def listings(base_url: str) -> tuple[Listing, ...]:
    """Every tool as `tools/list` shows it, from the OpenAPI document served at `base_url`."""
    document = spec(base_url)
    found = []
    for tool in TOOLS:
        properties, required = {}, None
        for path in tool.paths:
            more, needed = _operation_input(path, tool.method, document)
            properties.update(more)
            # An argument is required only when every operation of the tool needs it.
            required = needed if required is None else required & needed
        description = tool.description or document["paths"][tool.paths[0]][tool.method]["summary"]
        input_schema = {"type": "object", "properties": properties, "additionalProperties": False}
        if required:
            input_schema["required"] = sorted(required)
        found.append(
            Listing(
                name=tool.name,
                description=description,
                input_schema=copy.deepcopy(input_schema),
                output_schema=_output(tool.paths[0], tool.method, document) if len(tool.paths) == 1 else None,
                read_only=tool.method == "get",
                destructive=tool.method == "delete",
            )
        )
    return tuple(found)


# --- calling ---


@dataclass(frozen=True)
class Outcome:
    """A tool's answer: the API's JSON (or an image) and its text, or the API's error."""

    text: str
    body: dict | None = None
    image: Image | None = None
    is_error: bool = False


def error_outcome(err: DomainError) -> Outcome:
    body = err.to_json()
    text = err.message + (f" (field: {err.field})" if err.field else "")
    for problem in err.details or ():
        text += f"\nitem {problem.get('index')}: {problem.get('message')}"
    retry_after = getattr(err, "retry_after", None)
    if retry_after is not None:
        body["retry_after"] = retry_after  # the API's Retry-After header; a tool result has no headers
    return Outcome(text=text, body=body, is_error=True)


def call(account: Account, name: str, arguments: Mapping, base_url: str) -> Outcome:
    """Run the tool `name` (one of TOOLS) for `account` inside an app context; a refusal comes back as
    the API's error."""
    tool = BY_NAME[name]
    try:
        allowed = next(item for item in listings(base_url) if item.name == name).input_schema["properties"]
        unknown = sorted(set(arguments) - set(allowed))
        if unknown:
            raise ValidationError(f"Unknown field: {unknown[0]}.", field=unknown[0], code="unknown_field")
        result = tool.run(account, dict(arguments))
    except DomainError as err:
        return error_outcome(err)
    if isinstance(result, Image):
        return Outcome(text=result.description, image=result)
    text = tool.text(result) if tool.text else json.dumps(result, ensure_ascii=False)
    return Outcome(text=text, body=result)
