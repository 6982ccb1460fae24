"""Small rules about text that many modules share: control characters and UTC timestamps.

Beside each rule, the JSON Schema of it (the OpenAPI document of `/v1` reads these), and the
helpers every module's schemas use: `anchored`, `nullable`, `closed`.
"""

from __future__ import annotations

import datetime as dt
import re

# As a character-class body that both Python's `re` and JSON Schema (ECMA 262) read the same way.
CONTROL_CLASS = "\\u0000-\\u001f\\u007f"
PLAIN_TEXT = re.compile(f"[^{CONTROL_CLASS}]*")  # text without a control character
# What iso_z writes, and what a header that carries a count or seconds holds.
ISO_Z = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
DIGITS = re.compile("[0-9]+")


def has_control(value: str) -> bool:
    """Whether `value` holds a C0 control character or DEL (tabs and newlines included)."""
    return PLAIN_TEXT.fullmatch(value) is None


def iso_z(moment: dt.datetime) -> str:
    """A stored (naive UTC) time as ISO 8601 with seconds and `Z`: `2026-05-01T09:30:00Z`."""
    return moment.isoformat(timespec="seconds") + "Z"


# --- JSON Schema ---


def anchored(regex: re.Pattern) -> str:
    """A validator's regex (used with `fullmatch`) as a JSON Schema pattern, which searches."""
    body = regex.pattern
    return f"^(?:{body})$" if _alternatives(body) else f"^{body}$"


def _alternatives(body: str) -> bool:
    """Whether a `|` outside every group and class splits `body` (then `^a|b$` would be wrong)."""
    depth, escaped, in_class = 0, False, False
    for char in body:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char in "()":
            depth += 1 if char == "(" else -1
        elif char == "|" and depth == 0:
            return True
    return False


def nullable(schema: dict) -> dict:
    """`schema`, or `null` (which clears the field)."""
    return {"anyOf": [schema, {"type": "null"}]}


def closed(properties: dict, required: list[str] | None = None, description: str | None = None) -> dict:
    """An object of these fields and no other; all of them present unless `required` says which."""
    schema: dict = {"type": "object"}
    if required is None or required:
        schema["required"] = list(properties) if required is None else required
    if description:
        schema["description"] = description
    return {**schema, "additionalProperties": False, "properties": properties}


def timestamp_schema() -> dict:
    """A time as iso_z writes it."""
    return {"type": "string", "format": "date-time", "pattern": anchored(ISO_Z)}
