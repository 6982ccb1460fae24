"""Parsing request bodies and query parameters for the API, with the API's error shapes.

Each query argument of `/v1` is a `Query` here: how a request's value is read, and the JSON
Schema the OpenAPI document shows for it, from the same constants.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flask import request
from werkzeug.exceptions import UnsupportedMediaType

from ..codes import core as codes
from ..codes import filters
from ..errors import ValidationError
from ..scans import analytics

TZ_MAX_LENGTH = 64  # longer than any IANA name


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
    return analytics.parse_tz(str_arg(args, "tz", TZ_MAX_LENGTH))


# --- the query arguments: each read and documented from one place ---


@dataclass(frozen=True)
class Query:
    """A query argument: `read(args)` is its value or a 400; `schema()` its JSON Schema."""

    name: str
    read: Callable[[Mapping], object]
    schema: Callable[[], dict]


def schemas(*queries: Query) -> Callable[[], dict[str, dict]]:
    """The schemas of an operation's query arguments, by name, made when the document is."""
    return lambda: {query.name: query.schema() for query in queries}


def _whole_schema(default: int, low: int, high: int, says: str) -> dict:
    return {
        "type": "integer",
        "minimum": low,
        "maximum": high,
        "default": default,
        "description": f"{says} {low}..{high}, default {default}; anything else is a 400.",
    }


def _whole(name: str, default: int, low: int, high: int, says: str) -> Query:
    return Query(
        name,
        lambda args: int_arg(args, name, default, low, high),
        lambda: _whole_schema(default, low, high, says),
    )


def _filter(name: str, says: str) -> Query:
    """A list filter, read and described by the one filter rule (codes/filters.py)."""
    return Query(
        name,
        lambda args: filters.clean_filter(name, args.get(name)),
        lambda: {**filters.schema(name), "description": says},
    )


LIMIT = _whole("limit", codes.LIST_DEFAULT, 1, codes.LIST_MAX, "How many codes:")
OFFSET = _whole("offset", 0, 0, codes.OFFSET_MAX, "How many to skip:")
DAYS = Query(
    "days",
    days_arg,
    lambda: _whole_schema(analytics.DEFAULT_DAYS, analytics.MIN_DAYS, analytics.MAX_DAYS, "Window:"),
)
TZ = Query(
    "tz",
    tz_arg,
    lambda: {
        "type": "string",
        "default": analytics.UTC.key,
        "maxLength": TZ_MAX_LENGTH,
        "description": "IANA time zone for `daily`, `by_hour` and `by_weekday` (whole days and hours of "
        "that zone); an unknown name is a 400.",
    },
)
# The filters of the code list and of the workspace's scans: one rule for both (codes/filters.py).
TAG = _filter("tag", "Only codes with this tag (folded as stored tags are).")
FOLDER = _filter("folder_id", "Only codes in this folder.")
SEARCH = _filter("q", "Only codes whose label, slug or destination contains this (any case).")
SCANS_FOLDER = _filter("folder_id", "Only this folder's codes (another workspace's folder is a 404).")
SCANS_TAG = _filter("tag", "Only the codes with this tag (folded as stored tags are).")
