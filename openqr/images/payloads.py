"""Static codes: the text a code encodes for each type (a URL, Wi-Fi, a contact card...), built
from its fields exactly as the hosted generator (`open-qr/openqr`, lib/payloads.ts) builds it.

One table (`TYPES`) holds every type's fields (their rules are in `payload_fields`): `POST /v1/qr`,
the dashboard's Generator and the assistant's `generate_qr` all call `static_image`, the OpenAPI
document reads `request_schema()`, and the Generator draws its form from the same fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from ..errors import ValidationError
from ..text import closed
from . import render as qr
from .http import image_params
from .payload_fields import CLEANERS, Field, kind_schema, refuse

# The body's fields that say how to draw the image rather than what it encodes.
IMAGE_FIELDS = ("format", "size", "size_mm", "style")
_HAS_SCHEME = re.compile(r"[a-z][\w+.-]*://", re.IGNORECASE)  # the hosted generator's test
WIFI_ENCRYPTIONS = ("WPA", "WEP", "nopass")
WPA_MIN_PASSWORD = 8
SSID_MAX_BYTES = 32  # IEEE 802.11


def _uri_component(text: str) -> str:
    """JavaScript's encodeURIComponent: UTF-8, every byte but A-Z a-z 0-9 - _ . ! ~ * ' ( ) escaped."""
    return quote(text, safe="!~*'()")


def _wifi_escape(text: str) -> str:
    return re.sub(r'([\\;,:"])', r"\\\1", text)


def _vcard_escape(text: str) -> str:
    """A vCard text value (RFC 6350 section 3.4): backslash, comma, semicolon, line breaks."""
    text = text.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return re.sub(r"\r\n|\r|\n", "\\\\n", text)


def with_scheme(url: str) -> str:
    """`example.com` -> `https://example.com`; a URL with a scheme (or mailto:) stays as it is."""
    return url if _HAS_SCHEME.match(url) or url.startswith("mailto:") else f"https://{url}"


def _email_text(v: dict) -> str:
    query = "&".join(f"{key}={_uri_component(v[key])}" for key in ("subject", "body") if v[key])
    return f"mailto:{v['to']}" + (f"?{query}" if query else "")


def _whatsapp_text(v: dict) -> str:
    digits = re.sub(r"[^0-9]", "", v["number"])
    return f"https://wa.me/{digits}" + (f"?text={_uri_component(v['message'])}" if v["message"] else "")


def _wifi_text(v: dict) -> str:
    encryption = v["encryption"] or "WPA"
    parts = [f"T:{encryption}", f"S:{_wifi_escape(v['ssid'])}"]
    if encryption != "nopass":
        parts.append(f"P:{_wifi_escape(v['password'])}")
    if v["hidden"]:
        parts.append("H:true")
    return "WIFI:" + ";".join(parts) + ";;"


def _vcard_text(v: dict) -> str:
    name = _vcard_escape(v["name"])
    # The whole name as the family name: no scanner splits "María José García" wrongly.
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"N:{name};;;;", f"FN:{name}"]
    for prop, key in (("ORG", "org"), ("TITLE", "title"), ("TEL", "phone"), ("EMAIL", "email")):
        if v[key]:
            lines.append(f"{prop}:{_vcard_escape(v[key])}")
    if v["url"]:
        lines.append(f"URL:{with_scheme(v['url'])}")  # a URI value: not escaped as text
    if v["address"]:
        lines.append(f"ADR:;;{_vcard_escape(v['address'])};;;;")
    if v["note"]:
        lines.append(f"NOTE:{_vcard_escape(v['note'])}")
    lines.append("END:VCARD")
    return "\r\n".join(lines) + "\r\n"


def _check_wifi(values: dict) -> None:
    """The rules between a network's fields: a password exactly when the network has one."""
    encryption, password = values["encryption"] or "WPA", values["password"]
    if encryption == "nopass":
        if password is not None:
            raise refuse("password", "'password' must be left out: the encryption nopass means no password.")
    elif password is None:
        raise refuse("password", f"'password' is required for a {encryption} network (or say nopass).")
    elif encryption == "WPA" and len(password) < WPA_MIN_PASSWORD:
        raise refuse("password", f"'password' of a WPA network has at least {WPA_MIN_PASSWORD} characters.")
    if len(values["ssid"].encode("utf-8")) > SSID_MAX_BYTES:
        raise refuse("ssid", f"'ssid' must be at most {SSID_MAX_BYTES} bytes (a network name's limit).")


@dataclass(frozen=True)
class PayloadType:
    """A static code's type: its label, its fields, and the text it builds from their clean values."""

    label: str
    fields: tuple[Field, ...]
    build: Callable[[dict], str]
    check: Callable[[dict], None] | None = None  # a rule between fields, on their clean values


NUMBER_HELP = "Digits, spaces and ( ) . -, with + only first."
TYPES: dict[str, PayloadType] = {
    "url": PayloadType(
        "URL",
        (Field("url", "Web address", "url", True, "https:// is added when the address has no scheme."),),
        lambda v: with_scheme(v["url"]),
    ),
    "text": PayloadType("Text", (Field("text", "Text", "lines", True),), lambda v: v["text"]),
    "email": PayloadType(
        "Email",
        (
            Field("to", "Email address", "email", True),
            Field("subject", "Subject"),
            Field("body", "Message", "lines"),
        ),
        _email_text,
    ),
    "phone": PayloadType(
        "Phone",
        (Field("number", "Phone number", "phone", True, NUMBER_HELP),),
        lambda v: f"tel:{v['number']}",
    ),
    "sms": PayloadType(
        "SMS",
        (Field("number", "Phone number", "phone", True, NUMBER_HELP), Field("message", "Message", "lines")),
        lambda v: f"SMSTO:{v['number']}" + (f":{v['message']}" if v["message"] else ""),
    ),
    "whatsapp": PayloadType(
        "WhatsApp",
        (
            Field("number", "Phone number", "whatsapp", True, "With its country code: +44 7700 900123."),
            Field("message", "Pre-filled message", "lines"),
        ),
        _whatsapp_text,
    ),
    "wifi": PayloadType(
        "Wi-Fi",
        (
            Field("ssid", "Network name (SSID)", "exact", True, "Exactly as the network shows it."),
            Field(
                "password",
                "Password",
                "exact",
                help="Needed unless the security is nopass.",
                conditional=True,
            ),
            Field(
                "encryption",
                "Security",
                "choice",
                help="WPA (default) covers WPA2 and WPA3.",
                choices=WIFI_ENCRYPTIONS,
            ),
            Field("hidden", "Hidden network", "flag"),
        ),
        _wifi_text,
        _check_wifi,
    ),
    "geo": PayloadType(
        "Location",
        (
            Field("lat", "Latitude", "latitude", True, "-90 to 90, a point for decimals: 51.5007."),
            Field("lng", "Longitude", "longitude", True, "-180 to 180: -0.1246."),
        ),
        lambda v: f"geo:{v['lat']},{v['lng']}",
    ),
    "vcard": PayloadType(
        "Contact (vCard)",
        (
            Field("name", "Name", required=True),
            Field("org", "Organisation"),
            Field("title", "Job title"),
            Field("phone", "Phone", "phone"),
            Field("email", "Email", "email"),
            Field("url", "Web site", "url"),
            Field("address", "Address", "lines"),
            Field("note", "Note", "lines"),
        ),
        _vcard_text,
    ),
}


def type_of(body: Mapping) -> tuple[str, PayloadType]:
    """The body's `type` and its rules; a missing or unknown type is a 400 naming `type`."""
    name = body.get("type")
    if not isinstance(name, str) or name not in TYPES:
        raise refuse("type", f"'type' must be one of {', '.join(TYPES)}.")
    return name, TYPES[name]


def encoded_text(body: Mapping) -> tuple[str, str]:
    """The text a static code encodes, and the field to name when that text is too long.

    `{"data": text}` is encoded as it is; `{"type": ..., fields}` builds the text from the fields.
    """
    given = set(body) - set(IMAGE_FIELDS)
    if "type" not in given:
        unknown = sorted(given - {"data"})
        if unknown:
            raise _unknown(unknown[0], "data")
        data = body.get("data")
        if not isinstance(data, str):
            raise refuse(
                "data",
                f"Give 'data' (the text or URL to encode) or 'type' ({', '.join(TYPES)}) and its fields.",
            )
        return data, "data"
    if "data" in given:
        raise refuse("data", "Give either 'data' (the text itself) or 'type' and its fields, not both.")
    name, kind = type_of(body)
    names = [field.name for field in kind.fields]
    unknown = sorted(given - {"type", *names})
    if unknown:
        raise _unknown(unknown[0], f"a {name} code takes {', '.join(names)}")
    values = {}
    for field in kind.fields:
        values[field.name] = CLEANERS[field.kind](field, body.get(field.name))
        if field.required and values[field.name] is None:
            raise refuse(field.name, f"'{field.name}' is required for a {name} code.")
    if kind.check:
        kind.check(values)
    longest = max(names, key=lambda n: len(body[n]) if isinstance(body.get(n), str) else 0)
    return kind.build(values), longest


def _unknown(field: str, takes: str) -> ValidationError:
    where = " (colours, ecc and margin go inside style)" if field in qr.STYLE_KEYS else f" ({takes})"
    return ValidationError(f"Unknown field: {field}{where}.", field=field, code="unknown_field")


def static_image(body: object) -> qr.QrParams:
    """`POST /v1/qr`'s body as image parameters: what to encode, then how to draw it."""
    if not isinstance(body, Mapping):
        raise ValidationError('The body must be a JSON object: {"data": ...} or {"type": ..., ...}.')
    text, blame = encoded_text(body)
    args = {key: body[key] for key in IMAGE_FIELDS if key in body and key != "style"}
    try:
        return image_params(args, style=body.get("style"), data=text)
    except ValidationError as err:
        if err.field != "data" or blame == "data":
            raise
        # The image rules speak of `data`; this request has none, so name the field to shorten.
        reason = "It" + err.message[len("data") :] if err.message.startswith("data ") else err.message
        raise refuse(blame, f"The text this code encodes is too long; shorten '{blame}'. {reason}") from None


def request_schema() -> dict:
    """The JSON Schema of `POST /v1/qr`'s body: `data` or `type` and its fields, then the image's."""
    properties: dict = {
        "data": {
            **qr.data_schema(),
            "description": "The text or URL to encode, as it is. Give this or `type`, not both.",
        },
        "type": {
            "type": "string",
            "enum": list(TYPES),
            "description": "Build the text from fields, as the hosted generator does: "
            + "; ".join(f"`{name}`: {', '.join(_field_list(kind))}" for name, kind in TYPES.items())
            + ". Fields of another type are a 400.",
        },
    }
    notes: dict[str, list[str]] = {}
    for name, kind in TYPES.items():
        for field in kind.fields:
            if field.name not in properties:
                properties[field.name] = kind_schema(field)
                notes[field.name] = [field.label + "."]
            use = f"Type `{name}`{'' if field.required else ' (optional)'}"
            notes[field.name].append(f"{use}: {field.help}" if field.help else f"{use}.")
    for field_name, text in notes.items():
        properties[field_name]["description"] = " ".join(text)
    image = qr.query_schema()
    properties.update({key: image[key] for key in IMAGE_FIELDS if key in image})
    properties["style"] = qr.style_schema()
    schema = closed(properties, required=[], description=_DESCRIPTION)
    return {**schema, "oneOf": [{"required": ["data"]}, {"required": ["type"]}]}


_DESCRIPTION = (
    "Give `data`, or `type` and that type's fields (the text is built exactly as the hosted generator "
    "builds it); then, optionally, how to draw it. A missing or bad field is a 400 naming it."
)


def _field_list(kind: PayloadType) -> list[str]:
    return [f"`{f.name}`" if f.required else f"`{f.name}`?" for f in kind.fields]
