"""Parsing request bodies and query parameters for the API, with the API's error shapes."""

from __future__ import annotations

import json
from collections.abc import Mapping

from flask import request
from werkzeug.exceptions import UnsupportedMediaType

from ..errors import ValidationError
from ..scans import analytics


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


def _whole_number(raw: object) -> int | None:
    """A query string's digits or a JSON integer (an assistant's arguments), else None."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    # ASCII digits only (int() would also read other scripts' digits), and few enough to parse.
    if isinstance(raw, str) and raw.isascii() and raw.strip().lstrip("-").isdigit() and len(raw) <= 20:
        return int(raw)
    return None


def int_arg(args: Mapping, name: str, default: int, low: int, high: int) -> int:
    """`args[name]` (query strings or JSON arguments) as a whole number from low to high."""
    raw = args.get(name)
    if raw is None:
        return default
    value = _whole_number(raw)
    if value is None or not low <= value <= high:
        raise ValidationError(f"'{name}' must be a whole number from {low} to {high}.", field=name)
    return value


def str_arg(args: Mapping, name: str, max_length: int) -> str | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise ValidationError(f"'{name}' must be a string.", field=name)
    if len(raw) > max_length:
        raise ValidationError(f"'{name}' must be at most {max_length} characters.", field=name)
    return raw


def days_arg(args: Mapping) -> int:
    """`days`: an analytics window, by the one rule in `analytics.check_days` (default 30)."""
    raw = args.get("days")
    return analytics.DEFAULT_DAYS if raw is None else analytics.check_days(_whole_number(raw))


def tz_arg(args: Mapping):
    """`tz`: an IANA time zone (default UTC); unknown is a 400 naming `tz`."""
    return analytics.parse_tz(str_arg(args, "tz", 64))
