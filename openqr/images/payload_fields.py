"""The rules of a static code's fields, by kind: a line of text, lines, a phone number, an email
address, a coordinate... each checked and cleaned once, for every type that has such a field."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from ..errors import ValidationError
from ..text import CONTROL_CLASS, PLAIN_TEXT, anchored, has_control
from . import render as qr

MAX_FIELD_CHARS = qr.DATA_MAX_CHARS
# Multi-line fields (a message, a note) may hold tabs and line breaks, no other control character.
LINES_TEXT = re.compile("[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*")
# One address: nothing that would end the address part of a mailto: URI (? & #) or list two.
_EMAIL = re.compile(
    f"[^@\\s?&#,;{CONTROL_CLASS}]+@[^@\\s?&#,;{CONTROL_CLASS}]+\\.[^@\\s?&#,;{CONTROL_CLASS}]+"
)
# Spaces round a number are trimmed before it is read; the document's pattern allows them too.
_PHONE = re.compile(r"\s*\+?[0-9 ().-]{3,32}\s*")
_COORDINATE = re.compile(r"\s*-?[0-9]{1,3}(?:\.[0-9]{1,15})?\s*")
E164_MAX_DIGITS = 15
LATITUDE_LIMIT, LONGITUDE_LIMIT = 90, 180  # degrees either side of zero


def refuse(field: str, message: str) -> ValidationError:
    """A bad field of `POST /v1/qr`: a 400 naming it."""
    return ValidationError(message, field=field, code="invalid_parameter")


@dataclass(frozen=True)
class Field:
    """One field of a type: its name in the body, its label in the Generator, and its rule."""

    name: str
    label: str
    kind: str = "line"  # see CLEANERS
    required: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    conditional: bool = False  # needed or not by another field's value (a password, by the security)


def _text(field: Field, value: object, *, trim: bool = True, lines: bool = False) -> str | None:
    """A string field: trimmed (as the hosted generator does) unless `trim` is off; blank is None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise refuse(field.name, f"'{field.name}' must be a string.")
    if trim:
        value = value.strip()
    if not value.strip():
        return None
    if len(value) > MAX_FIELD_CHARS:
        raise refuse(field.name, f"'{field.name}' must be at most {MAX_FIELD_CHARS} characters.")
    if LINES_TEXT.fullmatch(value) is None if lines else has_control(value):
        allowed = " other than tabs and line breaks" if lines else ""
        raise refuse(field.name, f"'{field.name}' must not contain control characters{allowed}.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise refuse(field.name, f"'{field.name}' must be valid Unicode text.") from None
    return value


def _line(field: Field, value: object) -> str | None:
    return _text(field, value)


def _lines(field: Field, value: object) -> str | None:
    return _text(field, value, lines=True)


def _exact(field: Field, value: object) -> str | None:
    # A network's name and password are taken as typed: a space at either end is part of them.
    return _text(field, value, trim=False)


def _web_address(field: Field, value: object) -> str | None:
    text = _text(field, value)
    if text is not None and any(ch.isspace() for ch in text):
        raise refuse(field.name, f"'{field.name}' must not contain spaces: write a space as %20.")
    return text


def _email(field: Field, value: object) -> str | None:
    text = _text(field, value)
    if text is not None and not _EMAIL.fullmatch(text):
        raise refuse(field.name, f"'{field.name}' must be one email address, like name@example.com.")
    return text


def _phone(field: Field, value: object) -> str | None:
    text = _text(field, value)
    if text is not None and (not _PHONE.fullmatch(text) or sum(ch.isdigit() for ch in text) < 3):
        raise refuse(
            field.name,
            f"'{field.name}' must be a phone number: digits, spaces and ( ) . -, with + only first.",
        )
    return text


def _whatsapp(field: Field, value: object) -> str | None:
    text = _phone(field, value)
    if text is None:
        return None
    digits = re.sub(r"[^0-9]", "", text)
    if digits.startswith("0") or len(digits) > E164_MAX_DIGITS:
        raise refuse(
            field.name,
            f"'{field.name}' must be the number in international form, country code first "
            "(447700900123 or +44 7700 900123), at most 15 digits.",
        )
    return text


def _choice(field: Field, value: object) -> str | None:
    if value is None or value == "":
        return None
    by_lower = {choice.lower(): choice for choice in field.choices}
    if not isinstance(value, str) or value.lower() not in by_lower:
        raise refuse(field.name, f"'{field.name}' must be one of {', '.join(field.choices)}.")
    return by_lower[value.lower()]


def _flag(field: Field, value: object) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise refuse(field.name, f"'{field.name}' must be true or false.")
    return value


def _number_text(number: int | float) -> str:
    """A JSON number as JavaScript's String() writes it for coordinates: 51.5, 0, 0.00001."""
    if number == int(number):
        return str(int(number))
    text = repr(float(number))
    return format(Decimal(text), "f") if "e" in text else text


def _coordinate(field: Field, value: object, limit: int) -> str | None:
    message = f"'{field.name}' must be a number from -{limit} to {limit}, with a point for decimals."
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise refuse(field.name, message)
    if isinstance(value, str):
        if not _COORDINATE.fullmatch(value):
            raise refuse(field.name, message)
        text = value.strip()
    elif not math.isfinite(value):
        raise refuse(field.name, message)
    else:
        text = _number_text(value)
    if not -limit <= float(text) <= limit:
        raise refuse(field.name, message)
    return text


CLEANERS: dict[str, Callable[[Field, object], object]] = {
    "line": _line,
    "lines": _lines,
    "exact": _exact,
    "url": _web_address,
    "email": _email,
    "phone": _phone,
    "whatsapp": _whatsapp,
    "choice": _choice,
    "flag": _flag,
    "latitude": lambda field, value: _coordinate(field, value, LATITUDE_LIMIT),
    "longitude": lambda field, value: _coordinate(field, value, LONGITUDE_LIMIT),
}


def _kind_schemas() -> dict[str, dict]:
    # Read when the document is built, so a changed limit moves the check and the document together.
    return {
        "line": {"type": "string", "pattern": anchored(PLAIN_TEXT)},
        "lines": {"type": "string", "pattern": anchored(LINES_TEXT)},
        "exact": {"type": "string", "pattern": anchored(PLAIN_TEXT)},
        "url": {"type": "string", "pattern": anchored(PLAIN_TEXT)},
        "email": {"type": "string", "pattern": anchored(PLAIN_TEXT)},
        "phone": {"type": "string", "pattern": anchored(_PHONE)},
        "whatsapp": {"type": "string", "pattern": anchored(_PHONE)},
        "flag": {"type": "boolean"},
        "latitude": {
            "anyOf": [
                {"type": "number", "minimum": -LATITUDE_LIMIT, "maximum": LATITUDE_LIMIT},
                {"type": "string", "pattern": anchored(_COORDINATE)},
            ]
        },
        "longitude": {
            "anyOf": [
                {"type": "number", "minimum": -LONGITUDE_LIMIT, "maximum": LONGITUDE_LIMIT},
                {"type": "string", "pattern": anchored(_COORDINATE)},
            ]
        },
    }


def kind_schema(field: Field) -> dict:
    """The JSON Schema of one field, by its kind (the OpenAPI document and the tools read it)."""
    # A choice is read in any case: both spellings are valid.
    choices = list(dict.fromkeys([*field.choices, *(choice.lower() for choice in field.choices)]))
    schema = dict(_kind_schemas().get(field.kind) or {"type": "string", "enum": choices})
    if schema.get("type") == "string":
        schema["maxLength"] = MAX_FIELD_CHARS
    return schema
