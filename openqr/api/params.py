"""Parsing request bodies and query parameters for the API, with the API's error shapes."""

from __future__ import annotations

import json

from flask import request
from werkzeug.exceptions import UnsupportedMediaType

from ..errors import ValidationError


def json_body() -> object:
    """The request's JSON value; 415 when it is not JSON, 400 when it does not parse."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("Send the body as JSON with 'Content-Type: application/json'.")
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested thousands deep: no request needs that
        body = None
    if body is None:
        raise ValidationError("The body is not valid JSON.", code="invalid_json")
    try:
        # "\ud800" parses to a lone surrogate, which no database or JSON answer can encode.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            "The body contains an unpaired surrogate (\\ud800-\\udfff).", code="invalid_json"
        ) from None
    return body


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high or not raw.strip().lstrip("-").isdigit():
        raise ValidationError(f"'{name}' must be a whole number from {low} to {high}.", field=name)
    return value


def str_arg(name: str, max_length: int) -> str | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > max_length:
        raise ValidationError(f"'{name}' must be at most {max_length} characters.", field=name)
    return raw
