"""Each tool as `tools/list` shows it, read from the OpenAPI document of `/v1` (one source).

Path parameters (`{code_id}`, named `id` as in a code's JSON), query parameters and body
fields of the tool's operation become its arguments, with their types, enums, bounds and
descriptions; the operation's JSON answer becomes its output schema. `$ref`s are inlined so
each schema stands alone.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache

from ..api.openapi import spec
from .tools import TOOLS


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
                read_only=tool.method == "get" if tool.read_only is None else tool.read_only,
                destructive=tool.method == "delete",
            )
        )
    return tuple(found)
