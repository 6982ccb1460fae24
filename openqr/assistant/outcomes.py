"""Calling a tool: its arguments checked against its schema, then its function run; the answer
is the API's JSON (or an image) with a short text, or the API's error as a tool error."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from flask import current_app, g

from ..auth import roles
from ..auth.roles import Access
from ..errors import DomainError, ValidationError
from .schemas import listings
from .tools import BY_NAME, Image, Tool


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


def _path_args(tool: Tool, arguments: Mapping) -> tuple[str, dict]:
    """The role the tool's `/v1` route needs (the same mark the API checks) and the objects it names."""
    path = tool.paths[-1] if "id" in arguments else tool.paths[0]
    names = re.findall(r"{(\w+)}", path)
    concrete = re.sub(r"{\w+}", "x", path)
    endpoint, _args = current_app.url_map.bind("").match(concrete, method=tool.method.upper())
    view = current_app.view_functions[endpoint]
    return roles.required_role(view, tool.method.upper()), {name: arguments.get("id") for name in names}


def call(access: Access, name: str, arguments: Mapping, base_url: str) -> Outcome:
    """Run the tool `name` (one of TOOLS) as `access` acts, inside an app context: with the role its
    `/v1` route needs, as the API would; a refusal comes back as the API's error."""
    tool = BY_NAME[name]
    g.access, g.workspace = access, access.workspace  # who acts, for the audit log
    workspace = access.workspace
    try:
        needed, path_args = _path_args(tool, arguments)
        roles.require_for_request(access, needed, path_args)
        allowed = next(item for item in listings(base_url) if item.name == name).input_schema["properties"]
        unknown = sorted(set(arguments) - set(allowed))
        if unknown:
            raise ValidationError(f"Unknown field: {unknown[0]}.", field=unknown[0], code="unknown_field")
        result = tool.run(workspace, dict(arguments))
    except DomainError as err:
        return error_outcome(err)
    if isinstance(result, Image):
        return Outcome(text=result.description, image=result)
    text = tool.text(result) if tool.text else json.dumps(result, ensure_ascii=False)
    return Outcome(text=text, body=result)
