"""The published contract of `/v1`: an OpenAPI 3.1 document built from the rules it describes.

Limits come from the modules that enforce them (codes, folders, qr, analytics), so the
document cannot drift from the code; tests/test_schemathesis.py fuzzes the app against it.
"""

from __future__ import annotations

from functools import cache

from ..codes import core as codes
from ..codes import folders, smart
from ..destinations import MAX_LENGTH as DESTINATION_MAX
from ..images import render as qr
from ..scans import analytics
from ..text import CONTROL_CLASS
from ..webhooks import outbox as webhooks

NO_CONTROL = f"^[^{CONTROL_CLASS}]*$"
COLOUR = "^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"
CUSTOM_SLUG = f"^{codes.CUSTOM_SLUG.pattern}$"
# Any stored slug: a custom one, or a random one of RANDOM_SLUG_LENGTH letters and digits.
ANY_SLUG = f"^[A-Za-z0-9-]{{{codes.SLUG_MIN_LENGTH},{codes.SLUG_MAX_LENGTH}}}$"
INT_TEXT = "^[+-]?[0-9]{1,9}$"
QUERY_TEXT = {"type": "string", "maxLength": codes.MAX_FILTER_LENGTH}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str, headers: dict | None = None) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _error(description: str, headers: dict | None = None) -> dict:
    return _json(_ref("Error"), description, headers)


def _header(description: str, schema: dict | None = None, required: bool = True) -> dict:
    return {"description": description, "required": required, "schema": schema or {"type": "string"}}


RATE_HEADERS = {
    "X-RateLimit-Limit": _header(
        "Actions allowed per rolling hour.", {"type": "string", "pattern": "^[0-9]+$"}
    ),
    "X-RateLimit-Remaining": _header(
        "Actions left in the window.", {"type": "string", "pattern": "^[0-9]+$"}
    ),
    "X-RateLimit-Reset": _header(
        "Unix time at which the oldest counted action leaves the window.",
        {"type": "string", "pattern": "^[0-9]+$"},
    ),
}

RESPONSES = {
    "BadRequest": _error("Bad input: `field` names the culprit when there is one."),
    "Unauthorized": _error(
        "Missing, unknown or revoked API key.",
        {"WWW-Authenticate": _header('Always `Bearer realm="openqr"`.')},
    ),
    "NotFound": _error("No such resource in this account (another account's ids answer 404 too)."),
    "MethodNotAllowed": _error(
        "The path exists but not with this method.", {"Allow": _header("The methods this path allows.")}
    ),
    "Conflict": _error("The slug is already taken (`error` is `slug_taken`)."),
    "TooLarge": _error(
        "The body is larger than the server's limit (`OPENQR_MAX_BODY_BYTES`, 1 MiB by default)."
    ),
    "NotJson": _error("The body was not sent as `Content-Type: application/json`."),
    "RateLimited": _error(
        "Rate limited: wait `Retry-After` seconds.",
        {
            "Retry-After": _header("Seconds to wait.", {"type": "string", "pattern": "^[0-9]+$"}),
            **RATE_HEADERS,
        },
    ),
    "Unavailable": _error(
        "The database is unreachable right now (`error` is `unavailable`); nothing was changed. "
        "Retry after `Retry-After` seconds.",
        {"Retry-After": _header("Seconds to wait.", {"type": "string", "pattern": "^[0-9]+$"})},
    ),
    "Deleted": _json(_ref("Deleted"), "Deleted."),
    "RenderLimited": _error(
        "This account already has `OPENQR_RENDER_PER_ACCOUNT` images being drawn or waiting "
        "(`error` is `rate_limited`): wait `Retry-After` seconds.",
        {"Retry-After": _header("Seconds to wait.", {"type": "string", "pattern": "^[0-9]+$"})},
    ),
    "RenderBusy": _error(
        "Every render worker is busy and the line is full, or the wait for one ran out (`error` is "
        "`busy`); or the database is unreachable (`unavailable`). Retry after `Retry-After` seconds.",
        {"Retry-After": _header("Seconds to wait.", {"type": "string", "pattern": "^[0-9]+$"})},
    ),
}
# What an image answers beyond the render gate's limits (openqr.images.gate).
RENDER_REFUSALS = {
    "429": {"$ref": "#/components/responses/RenderLimited"},
    "503": {"$ref": "#/components/responses/RenderBusy"},
}


def _responses(ok: dict, *extra: str, body: bool = False, public: bool = False) -> dict:
    """The answers of one operation: its own plus the shared error answers it can give."""
    names = ([] if public else ["401", "503"]) + ["405", *extra]
    if body:
        names += ["400", "413", "415"]
    shared = {
        "400": "BadRequest",
        "401": "Unauthorized",
        "404": "NotFound",
        "405": "MethodNotAllowed",
        "409": "Conflict",
        "413": "TooLarge",
        "415": "NotJson",
        "429": "RateLimited",
        "503": "Unavailable",
    }
    out = dict(ok)
    for status in sorted(set(names)):
        out.setdefault(status, {"$ref": f"#/components/responses/{shared[status]}"})
    return out


def _query(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def _path(name: str, description: str) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


def _body(schema: dict, description: str) -> dict:
    return {"required": True, "description": description, "content": {"application/json": {"schema": schema}}}


def _int_query(name: str, low: int, high: int, default: int, description: str) -> dict:
    schema = {"type": "integer", "minimum": low, "maximum": high, "default": default}
    return _query(name, schema, f"{description} {low}..{high}, default {default}; anything else is a 400.")


IMAGE_QUERY = [
    _query(
        "format", {"type": "string", "enum": list(qr.FORMATS), "default": qr.QrParams.format}, "Image format."
    ),
    _query(
        "size",
        {"type": "integer", "minimum": qr.SIZE_MIN, "maximum": qr.SIZE_MAX, "default": qr.QrParams.size},
        "Edge in pixels; too small for the data is a 400 saying the minimum.",
    ),
    _query(
        "ecc", {"type": "string", "enum": list(qr.ECC_LEVELS)}, "Error correction level, lowest to highest."
    ),
    _query(
        "margin",
        {
            "type": "integer",
            "minimum": qr.MARGIN_MIN,
            "maximum": qr.MARGIN_MAX,
            "default": qr.QrParams.margin,
        },
        "Quiet zone in modules.",
    ),
    _query(
        "dark",
        {"type": "string", "pattern": COLOUR},
        "Module colour, `#rgb` or `#rrggbb` (write `#` as `%23`).",
    ),
    _query(
        "light",
        {"anyOf": [{"type": "string", "pattern": COLOUR}, {"const": qr.TRANSPARENT}]},
        "Background colour or `transparent`; must contrast with `dark` by at least 3:1.",
    ),
    {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "An ETag from an earlier answer: 304 when the image is unchanged.",
    },
]


def _image_ok(cache_control: str) -> dict:
    headers = {
        "ETag": _header("Strong ETag of the bytes.", {"type": "string", "pattern": '^"[0-9a-f]{32}"$'}),
        "Cache-Control": _header(cache_control),
    }
    binary = {"type": "string", "contentMediaType": "image/png"}
    svg = {"type": "string", "contentMediaType": "image/svg+xml"}
    return {
        "200": {
            "description": "The image.",
            "headers": headers,
            "content": {"image/png": {"schema": binary}, "image/svg+xml": {"schema": svg}},
        },
        "304": {"description": "Not modified: the `If-None-Match` ETag still matches.", "headers": headers},
    }


def _url(description: str) -> dict:
    return {"type": "string", "minLength": 1, "maxLength": DESTINATION_MAX, "description": description}


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _smart_fields_in() -> dict:
    """The smart-destination fields of create, bulk items and PATCH (`null` clears one)."""
    when_list = {"type": "array", "minItems": 1, "items": {"type": "string"}}
    time_in = {"type": "string", "format": "date-time", "description": "ISO 8601 with a zone (Z for UTC)."}
    return {
        "rules": _nullable(
            {
                "type": "array",
                "maxItems": smart.MAX_RULES,
                "description": "First rule whose `when` matches decides the destination. All keys given must "
                "match; values within a key are alternatives. Replaces the list whole.",
                "items": {
                    "type": "object",
                    "required": ["when", "destination"],
                    "additionalProperties": False,
                    "properties": {
                        "when": {
                            "type": "object",
                            "minProperties": 1,
                            "additionalProperties": False,
                            "properties": {
                                "device": {**when_list, "items": {"enum": list(smart.DEVICES)}},
                                "os": {**when_list, "items": {"enum": list(smart.OSES)}},
                                "country": {
                                    **when_list,
                                    "items": {"type": "string", "pattern": "^[A-Za-z]{2}$"},
                                },
                                "language": {
                                    **when_list,
                                    "items": {"type": "string", "pattern": "^[A-Za-z]{2,8}$"},
                                    "description": "Primary subtag of the first Accept-Language entry.",
                                },
                            },
                        },
                        "destination": _url("Where a matching scan goes (the destination guard applies)."),
                    },
                },
            }
        ),
        "split": _nullable(
            {
                "type": "array",
                "minItems": smart.MIN_SPLIT,
                "maxItems": smart.MAX_SPLIT,
                "description": "Scans no rule matched are spread over these in proportion to the weights.",
                "items": {
                    "type": "object",
                    "required": ["destination", "weight"],
                    "additionalProperties": False,
                    "properties": {
                        "destination": _url("One of the split's destinations."),
                        "weight": {
                            "type": "integer",
                            "minimum": smart.MIN_WEIGHT,
                            "maximum": smart.MAX_WEIGHT,
                        },
                    },
                },
            }
        ),
        "schedule": _nullable(
            {
                "type": "array",
                "maxItems": smart.MAX_SCHEDULE,
                "description": "At `at` (in the future; whole seconds) the code's destination becomes "
                "that URL; the entry then leaves the list and appears in the history.",
                "items": {
                    "type": "object",
                    "required": ["at", "destination"],
                    "additionalProperties": False,
                    "properties": {"at": time_in, "destination": _url("The destination from then on.")},
                },
            }
        ),
        "expires_at": _nullable({**time_in, "description": "From then on the code has ended."}),
        "max_scans": _nullable(
            {
                "type": "integer",
                "minimum": 1,
                "maximum": smart.MAX_SCANS_LIMIT,
                "description": "Once the code has this many scans it has ended (several processes may "
                "overshoot by about one flush interval of scans each).",
            }
        ),
        "fallback_url": _nullable(_url("Where an ended code sends visitors (302); without it: 410.")),
        "utm": _nullable(
            {
                "type": "object",
                "additionalProperties": False,
                "description": "Appended as utm_<key>= to every destination that lacks that parameter.",
                "properties": {
                    key: {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": smart.MAX_UTM_LENGTH,
                        "pattern": NO_CONTROL,
                    }
                    for key in smart.UTM_KEYS
                },
            }
        ),
    }


def _smart_fields_out(timestamp: dict) -> dict:
    """The smart-destination fields of a code's JSON, as stored (`null` when unused; times in UTC)."""
    fields = _smart_fields_in()
    fields["expires_at"] = _nullable(timestamp)
    return fields


def _schemas() -> dict:
    label = {"type": ["string", "null"], "maxLength": codes.MAX_LABEL_LENGTH, "pattern": NO_CONTROL}
    tag_in = {
        "type": "string",
        "minLength": 1,
        "maxLength": codes.MAX_TAG_LENGTH,
        "pattern": f"^[^,{CONTROL_CLASS}]*$",
    }
    fields_in = {
        "destination": {
            "type": "string",
            "minLength": 1,
            "maxLength": DESTINATION_MAX,
            "description": "Absolute http(s) URL to a public host: no user info, no private, loopback, "
            "link-local, reserved or multicast address in any spelling, no local names "
            "(`localhost`, `*.local`, `*.internal`, `*.home.arpa`, names without a dot), "
            "not this server, not a blocked domain.",
            "examples": ["https://example.com/spring-launch"],
        },
        "label": {**label, "description": "Internal name (trimmed; blank means none). `null` clears it."},
        "slug": {
            "type": "string",
            "minLength": codes.SLUG_MIN_LENGTH,
            "maxLength": codes.SLUG_MAX_LENGTH,
            "pattern": CUSTOM_SLUG,
            "description": "Custom back-half: lower-case letters, digits, single inner hyphens; not a word "
            "the app routes (`v1`, `docs`, `login`...).",
        },
        "tags": {
            "type": "array",
            "items": tag_in,
            "maxItems": codes.MAX_TAGS,
            "description": f"Lower-cased, whitespace collapsed, de-duplicated; at most {codes.MAX_TAGS}. "
            "Replaces the existing set.",
        },
        "folder_id": {"type": ["string", "null"], "description": "A folder of this account, or `null`."},
        "style": _ref("StyleIn"),
    }
    fields_in.update(_smart_fields_in())
    bulk_item = {k: v for k, v in fields_in.items() if k != "style"}
    bulk_item["slug"] = {"anyOf": [fields_in["slug"], {"type": "null"}]}
    count = {"type": "integer", "minimum": 0}
    top = {
        "type": "array",
        "maxItems": analytics.TOP,
        "items": {
            "type": "object",
            "required": ["value", "n"],
            "additionalProperties": False,
            "properties": {"value": {"type": "string"}, "n": {"type": "integer", "minimum": 1}},
        },
    }
    timestamp = {"type": "string", "format": "date-time", "pattern": "Z$"}
    days_window = {"type": "integer", "minimum": analytics.MIN_DAYS, "maximum": analytics.MAX_DAYS}
    zone = {"type": "string", "description": "The IANA time zone of `daily`, `by_hour`, `by_weekday`."}
    unique = {
        "type": ["integer", "null"],
        "minimum": 0,
        "description": "Distinct visitors (keyed hash of address, user agent and code under a key that "
        "lives one UTC day). `null` when `tz` is not at UTC+0 throughout the window.",
    }

    def per(key: str, size: int, description: str) -> dict:
        item = {"type": "integer", "minimum": 0, "maximum": size - 1}
        return {
            "type": "array",
            "minItems": size,
            "maxItems": size,
            "description": description,
            "items": {
                "type": "object",
                "required": [key, "n"],
                "additionalProperties": False,
                "properties": {key: item, "n": count},
            },
        }

    window_properties = {
        "window_total": count,
        "window_unique": {**unique, "description": "The sum of the window's daily `unique`, or `null`."},
        "daily": {
            "type": "array",
            "description": "Exactly `days` buckets, oldest first, ending today in `tz`.",
            "items": {
                "type": "object",
                "required": ["day", "n", "unique"],
                "additionalProperties": False,
                "properties": {"day": {"type": "string", "format": "date"}, "n": count, "unique": unique},
            },
        },
        "by_country": {**top, "description": "Over the window's dates as UTC days; `Unknown` if none."},
        "by_device": {**top, "description": "Over the window's dates as UTC days; `Unknown` if none."},
        "by_referrer": {**top, "description": "Over the window's dates as UTC days; `Direct` if none."},
        "by_hour": per("hour", 24, "Scans per hour of the day in `tz` over the window, hour 0 first."),
        "by_weekday": per("weekday", 7, "Scans per weekday in `tz` over the window; 0 = Monday."),
        "by_weekday_hour": {
            "type": "array",
            "minItems": 7,
            "maxItems": 7,
            "description": "Scans per weekday (Monday first) and hour (0..23) in `tz`: the heat map.",
            "items": {"type": "array", "minItems": 24, "maxItems": 24, "items": count},
        },
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error", "message"],
            "additionalProperties": False,
            "properties": {
                "error": {"type": "string", "pattern": "^[a-z_]+$", "description": "Machine-readable code."},
                "message": {"type": "string", "description": "One sentence for a person."},
                "field": {"type": "string", "description": "The field or parameter at fault."},
                "details": {
                    "type": "array",
                    "description": "Bulk: one entry per bad item.",
                    "items": {
                        "type": "object",
                        "required": ["index", "error", "message"],
                        "additionalProperties": False,
                        "properties": {
                            "index": {"type": "integer", "minimum": 0},
                            "field": {"type": ["string", "null"]},
                            "error": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        },
        "Deleted": {
            "type": "object",
            "required": ["deleted"],
            "additionalProperties": False,
            "properties": {"deleted": {"const": True}},
        },
        "StyleIn": {
            "type": "object",
            "additionalProperties": False,
            "description": "How the code's image is drawn; dark must contrast with light by at least 3:1.",
            "properties": {
                "dark": {"type": "string", "pattern": COLOUR},
                "light": {"anyOf": [{"type": "string", "pattern": COLOUR}, {"const": qr.TRANSPARENT}]},
                "ecc": {"type": "string", "enum": [*qr.ECC_LEVELS, *(e.lower() for e in qr.ECC_LEVELS)]},
                "margin": {
                    "anyOf": [
                        {"type": "integer", "minimum": qr.MARGIN_MIN, "maximum": qr.MARGIN_MAX},
                        {"type": "string", "pattern": INT_TEXT},
                    ]
                },
            },
        },
        "Style": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "dark": {"type": "string", "pattern": "^#[0-9a-f]{6}$"},
                "light": {"type": "string", "pattern": "^(#[0-9a-f]{6}|transparent)$"},
                "ecc": {"type": "string", "enum": list(qr.ECC_LEVELS)},
                "margin": {"type": "integer", "minimum": qr.MARGIN_MIN, "maximum": qr.MARGIN_MAX},
            },
        },
        "CodeCreate": {
            "type": "object",
            "required": ["destination"],
            "additionalProperties": False,
            "properties": {**fields_in, "slug": {"anyOf": [fields_in["slug"], {"type": "null"}]}},
            "description": "A `null` or missing slug picks a random one.",
        },
        "CodePatch": {
            "type": "object",
            "additionalProperties": False,
            "properties": fields_in,
            "description": "Only the fields sent change; unknown fields are a 400.",
        },
        "BulkCreate": {
            "type": "object",
            "required": ["codes"],
            "additionalProperties": False,
            "properties": {
                "codes": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": codes.MAX_BULK,
                    "items": {
                        "type": "object",
                        "required": ["destination"],
                        "additionalProperties": False,
                        "properties": bulk_item,
                    },
                }
            },
        },
        "Code": {
            "type": "object",
            "additionalProperties": False,
            "required": [
                "id",
                "slug",
                "short_url",
                "destination",
                "label",
                "tags",
                "folder_id",
                "style",
                "status",
                "created_at",
                "updated_at",
                *smart.SMART_FIELDS,
            ],
            "properties": {
                "id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
                "slug": {"type": "string", "pattern": ANY_SLUG},
                "short_url": {"type": "string", "format": "uri"},
                "destination": {"type": "string", "maxLength": DESTINATION_MAX},
                "label": {"type": ["string", "null"], "maxLength": codes.MAX_LABEL_LENGTH},
                "tags": {"type": "array", "maxItems": codes.MAX_TAGS, "items": {"type": "string"}},
                "folder_id": {"type": ["string", "null"]},
                "style": _ref("Style"),
                "status": {
                    "type": "string",
                    "enum": list(codes.SHOWN_STATUSES),
                    "description": "`ended`: expired or its scan cap reached; `disabled`: switched off "
                    "by the operator.",
                },
                "created_at": timestamp,
                "updated_at": timestamp,
                **_smart_fields_out(timestamp),
            },
        },
        "History": {
            "type": "object",
            "required": ["history"],
            "additionalProperties": False,
            "properties": {
                "history": {
                    "type": "array",
                    "description": "Every change of the code's destination, creation included, newest first.",
                    "items": {
                        "type": "object",
                        "required": ["at", "destination", "source"],
                        "additionalProperties": False,
                        "properties": {
                            "at": timestamp,
                            "destination": {"type": "string"},
                            "source": {"type": "string", "enum": list(smart.HISTORY_SOURCES)},
                        },
                    },
                }
            },
        },
        "CodeList": {
            "type": "object",
            "required": ["codes"],
            "additionalProperties": False,
            "properties": {"codes": {"type": "array", "items": _ref("Code")}},
        },
        "ScanReport": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id", "slug", "short_url", "destination", "scans", "analytics"],
            "properties": {
                "id": {"type": "string"},
                "slug": {"type": "string"},
                "short_url": {"type": "string", "format": "uri"},
                "destination": {"type": "string"},
                "scans": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["total", "last7", "topCountry", "topDevice"],
                    "properties": {
                        "total": count,
                        "last7": count,
                        "topCountry": {"type": ["string", "null"], "pattern": "^[A-Z]{2}$"},
                        "topDevice": {
                            "type": ["string", "null"],
                            "enum": ["mobile", "tablet", "desktop", None],
                        },
                    },
                },
                "analytics": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["days_window", "tz", "total", *WINDOW_FIELDS, "by_destination"],
                    "properties": {
                        "days_window": days_window,
                        "tz": zone,
                        "total": count,
                        **window_properties,
                        "by_destination": {
                            **top,
                            "description": "Where the window's scans went (URLs without utm parameters).",
                        },
                    },
                },
            },
        },
        "AccountScans": {
            "type": "object",
            "additionalProperties": False,
            "description": "The account's scans across its codes (or a folder's or a tag's). The daily "
            "`unique` of the account is the sum over its codes: a visitor of two codes counts twice.",
            "required": ["days_window", "tz", "folder_id", "tag", "total", "by_code", *WINDOW_FIELDS],
            "properties": {
                "days_window": days_window,
                "tz": zone,
                "folder_id": {"type": ["string", "null"], "description": "The folder asked for, if any."},
                "tag": {"type": ["string", "null"], "description": "The tag asked for, if any."},
                "total": {**count, "description": "Lifetime scans of the codes in view."},
                "by_code": {
                    "type": "array",
                    "maxItems": analytics.TOP_CODES,
                    "description": "The codes with the most scans in the window (only codes with scans), "
                    "most first, then by slug. Counted over the window's dates as UTC days.",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["id", "slug", "label", "n"],
                        "properties": {
                            "id": {"type": "string"},
                            "slug": {"type": "string"},
                            "label": {"type": ["string", "null"]},
                            "n": {"type": "integer", "minimum": 1},
                        },
                    },
                },
                **window_properties,
            },
        },
        "FolderName": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": folders.MAX_NAME_LENGTH,
                    "pattern": "\\S",
                    "description": "Whitespace is collapsed; blank is a 400.",
                }
            },
        },
        "Folder": {
            "type": "object",
            "required": ["id", "name", "created_at"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string", "minLength": 1, "maxLength": folders.MAX_NAME_LENGTH},
                "created_at": timestamp,
                "code_count": {"type": "integer", "minimum": 0},
            },
        },
        "FolderList": {
            "type": "object",
            "required": ["folders"],
            "additionalProperties": False,
            "properties": {"folders": {"type": "array", "items": _ref("Folder")}},
        },
        **_webhook_schemas(timestamp),
    }


def _webhook_schemas(timestamp: dict) -> dict:
    url = {
        "type": "string",
        "maxLength": DESTINATION_MAX,
        "description": "Where events are POSTed: a public http(s) URL (the destination guard), or one whose "
        "host the operator listed in `OPENQR_WEBHOOK_ALLOW_HOSTS`.",
    }
    events = {
        "type": "array",
        "minItems": 1,
        "items": {"type": "string", "enum": list(webhooks.EVENT_TYPES)},
        "description": "Event types to receive.",
    }
    webhook = {"id": {"type": "string"}, "url": url, "events": events, "created_at": timestamp}
    return {
        "WebhookCreate": {
            "type": "object",
            "required": ["url", "events"],
            "additionalProperties": False,
            "properties": {"url": url, "events": events},
        },
        "Webhook": {
            "type": "object",
            "required": list(webhook),
            "additionalProperties": False,
            "properties": webhook,
        },
        "WebhookCreated": {
            "type": "object",
            "required": [*webhook, "secret"],
            "additionalProperties": False,
            "properties": {
                **webhook,
                "secret": {
                    "type": "string",
                    "pattern": "^whsec_",
                    "description": "Signing secret, shown only in this answer: keep it to verify "
                    "`X-OpenQR-Signature`.",
                },
            },
        },
        "WebhookList": {
            "type": "object",
            "required": ["webhooks"],
            "additionalProperties": False,
            "properties": {"webhooks": {"type": "array", "items": _ref("Webhook")}},
        },
        "WebhookTestQueued": {
            "type": "object",
            "required": ["queued", "event_id"],
            "additionalProperties": False,
            "properties": {"queued": {"const": True}, "event_id": {"type": "string"}},
        },
        "WebhookEvent": {
            "type": "object",
            "required": ["id", "type", "at", "code", "data"],
            "properties": {
                "id": {"type": "string", "description": "Stable across retries: drop an id seen before."},
                "type": {"type": "string", "enum": [*webhooks.EVENT_TYPES, "test"]},
                "at": {"type": "string", "format": "date-time"},
                "code": {
                    "type": ["object", "null"],
                    "properties": {"id": {"type": "string"}, "slug": {"type": "string"}},
                    "description": "The code the event is about (`null` for `test`).",
                },
                "data": {
                    "type": "object",
                    "description": "`scan`: `country`, `device`, `referrer`, `destination` (each may be "
                    "null), exactly what analytics keep. `code.*`: the code's JSON (as before deletion for "
                    "`code.deleted`). `test`: a `message`.",
                },
            },
        },
        "WebhookPayload": {
            "type": "object",
            "required": ["events"],
            "properties": {"events": {"type": "array", "items": _ref("WebhookEvent")}},
        },
    }


WINDOW_FIELDS = (
    "window_total",
    "window_unique",
    "daily",
    "by_country",
    "by_device",
    "by_referrer",
    "by_hour",
    "by_weekday",
    "by_weekday_hour",
)
DAYS_QUERY = _int_query("days", analytics.MIN_DAYS, analytics.MAX_DAYS, analytics.DEFAULT_DAYS, "Window:")
TZ_QUERY = _query(
    "tz",
    {"type": "string", "default": "UTC", "maxLength": 64},
    "IANA time zone for `daily`, `by_hour` and `by_weekday` (whole days and hours of that zone); "
    "an unknown name is a 400.",
)


def _paths() -> dict:
    code_id = _path("code_id", "The code's `id`.")
    folder_id = _path("folder_id", "The folder's `id`.")
    webhook_id = _path("webhook_id", "The webhook's `id`.")
    code_ok = _json(_ref("Code"), "The code.")
    return {
        "/v1/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document.",
                "security": [],
                "responses": _responses(
                    {"200": _json({"type": "object", "required": ["openapi"]}, "The OpenAPI document.")},
                    public=True,
                ),
            }
        },
        "/v1/dynamic": {
            "post": {
                "operationId": "createCode",
                "summary": "Create a dynamic code (counts against the hourly single-create limit).",
                "requestBody": _body(_ref("CodeCreate"), "The new code."),
                "responses": _responses(
                    {
                        "201": _json(
                            _ref("Code"),
                            "Created.",
                            {**RATE_HEADERS, "Location": _header("The new code's URL.")},
                        )
                    },
                    "409",
                    "429",
                    body=True,
                ),
            },
            "get": {
                "operationId": "listCodes",
                "summary": "The account's codes, newest first.",
                "parameters": [
                    _int_query("limit", 1, codes.LIST_MAX, codes.LIST_DEFAULT, "How many codes:"),
                    _int_query("offset", 0, codes.OFFSET_MAX, 0, "How many to skip:"),
                    _query("tag", QUERY_TEXT, "Only codes with this tag."),
                    _query("folder_id", QUERY_TEXT, "Only codes in this folder."),
                    _query(
                        "q",
                        QUERY_TEXT,
                        "Only codes whose label, slug or destination contains this (any case).",
                    ),
                ],
                "responses": _responses({"200": _json(_ref("CodeList"), "The codes.")}, "400"),
            },
        },
        "/v1/dynamic/bulk": {
            "post": {
                "operationId": "bulkCreateCodes",
                "summary": f"Create 1..{codes.MAX_BULK} codes at once, all or nothing (own hourly budget).",
                "requestBody": _body(_ref("BulkCreate"), "The codes, in order."),
                "responses": _responses(
                    {"201": _json(_ref("CodeList"), "Created, in input order.")},
                    "409",
                    "429",
                    body=True,
                ),
            }
        },
        "/v1/dynamic/{code_id}": {
            "parameters": [code_id],
            "get": {
                "operationId": "getCode",
                "summary": "One code.",
                "responses": _responses({"200": code_ok}, "404"),
            },
            "patch": {
                "operationId": "updateCode",
                "summary": "Change only the fields sent; a new slug retires the old one at once.",
                "requestBody": _body(_ref("CodePatch"), "The fields to change."),
                "responses": _responses({"200": code_ok}, "404", "409", body=True),
            },
            "delete": {
                "operationId": "deleteCode",
                "summary": "Delete a code; its slug stops resolving at once.",
                "responses": _responses({"200": {"$ref": "#/components/responses/Deleted"}}, "404"),
            },
        },
        "/v1/dynamic/{code_id}/history": {
            "parameters": [code_id],
            "get": {
                "operationId": "getCodeHistory",
                "summary": "Every change of the code's destination, newest first, with its source.",
                "responses": _responses({"200": _json(_ref("History"), "The history.")}, "404"),
            },
        },
        "/v1/dynamic/{code_id}/scans": {
            "parameters": [code_id],
            "get": {
                "operationId": "getCodeScans",
                "summary": "Scan analytics: lifetime summary and a `days` window.",
                "parameters": [DAYS_QUERY, TZ_QUERY],
                "responses": _responses({"200": _json(_ref("ScanReport"), "The analytics.")}, "400", "404"),
            },
        },
        "/v1/scans": {
            "get": {
                "operationId": "getAccountScans",
                "summary": "The account's scans across codes (or a folder's or a tag's) over `days`.",
                "parameters": [
                    DAYS_QUERY,
                    TZ_QUERY,
                    _query(
                        "folder_id",
                        {"type": "string", "maxLength": 32},
                        "Only this folder's codes (another account's folder is a 404).",
                    ),
                    _query("tag", {"type": "string", "maxLength": 40}, "Only the codes with this tag."),
                ],
                "responses": _responses({"200": _json(_ref("AccountScans"), "The analytics.")}, "400", "404"),
            },
        },
        "/v1/dynamic/{code_id}/qr": {
            "parameters": [code_id],
            "get": {
                "operationId": "getCodeImage",
                "summary": "The code's short URL as a QR image in its saved style (query overrides it).",
                "parameters": IMAGE_QUERY,
                "responses": _responses(
                    {**_image_ok("`private, no-cache`: the style can change."), **RENDER_REFUSALS},
                    "400",
                    "404",
                ),
            },
        },
        "/v1/qr": {
            "get": {
                "operationId": "getImage",
                "summary": "Any text as a QR image; the same parameters always give the same bytes.",
                "parameters": [
                    _query(
                        "data",
                        {"type": "string", "minLength": 1, "maxLength": qr.DATA_MAX_CHARS},
                        "The text or URL to encode.",
                        required=True,
                    ),
                    *IMAGE_QUERY,
                ],
                "responses": _responses(
                    {**_image_ok("`public, max-age=31536000, immutable`."), **RENDER_REFUSALS}, "400"
                ),
            }
        },
        "/v1/folders": {
            "get": {
                "operationId": "listFolders",
                "summary": "The account's folders by name, with their code counts.",
                "responses": _responses({"200": _json(_ref("FolderList"), "The folders.")}),
            },
            "post": {
                "operationId": "createFolder",
                "summary": "Create a folder.",
                "requestBody": _body(_ref("FolderName"), "The folder's name."),
                "responses": _responses({"201": _json(_ref("Folder"), "Created.")}, body=True),
            },
        },
        "/v1/folders/{folder_id}": {
            "parameters": [folder_id],
            "patch": {
                "operationId": "renameFolder",
                "summary": "Rename a folder.",
                "requestBody": _body(_ref("FolderName"), "The new name."),
                "responses": _responses({"200": _json(_ref("Folder"), "Renamed.")}, "404", body=True),
            },
            "delete": {
                "operationId": "deleteFolder",
                "summary": "Delete a folder; its codes become un-filed.",
                "responses": _responses({"200": {"$ref": "#/components/responses/Deleted"}}, "404"),
            },
        },
        "/v1/webhooks": {
            "get": {
                "operationId": "listWebhooks",
                "summary": "The account's webhooks, oldest first (secrets are never listed).",
                "responses": _responses({"200": _json(_ref("WebhookList"), "The webhooks.")}),
            },
            "post": {
                "operationId": "createWebhook",
                "summary": "Subscribe a URL to events; the answer carries the signing secret, this once.",
                "requestBody": _body(_ref("WebhookCreate"), "The receiver's URL and the events it wants."),
                "responses": _responses({"201": _json(_ref("WebhookCreated"), "Created.")}, body=True),
            },
        },
        "/v1/webhooks/{webhook_id}": {
            "parameters": [webhook_id],
            "delete": {
                "operationId": "deleteWebhook",
                "summary": "Delete a webhook; its undelivered events are dropped.",
                "responses": _responses({"200": {"$ref": "#/components/responses/Deleted"}}, "404"),
            },
        },
        "/v1/webhooks/{webhook_id}/test": {
            "parameters": [webhook_id],
            "post": {
                "operationId": "testWebhook",
                "summary": "Queue one `test` event for the webhook, delivered and retried like any other.",
                "responses": _responses({"202": _json(_ref("WebhookTestQueued"), "Queued.")}, "404"),
            },
        },
    }


def _outgoing_webhooks() -> dict:
    """What this server POSTs to a webhook's URL (OpenAPI 3.1 `webhooks`)."""
    header = {"in": "header", "required": True, "schema": {"type": "string"}}
    return {
        "events": {
            "post": {
                "summary": "Events for a subscribed URL: scan events batched, at most one request per "
                "endpoint every `OPENQR_WEBHOOK_INTERVAL` (2 s); retried with back-off until a 2xx, for "
                "at least 24 h.",
                "parameters": [
                    {**header, "name": "X-OpenQR-Timestamp", "description": "Unix seconds when signed."},
                    {
                        **header,
                        "name": "X-OpenQR-Signature",
                        "description": "`sha256=` + hex HMAC-SHA256 of "
                        '`"<timestamp>.<body>"` with the secret.',
                    },
                ],
                "requestBody": _body(_ref("WebhookPayload"), "The events, oldest first."),
                "responses": {"200": {"description": "Any 2xx: delivered. Anything else: retried later."}},
            }
        }
    }


@cache
def spec(server_url: str = "") -> dict:
    """The OpenAPI 3.1 document; `server_url` is the public base URL (paths start with /v1)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "OpenQR API",
            "version": "1.0.0",
            "description": "Editable (dynamic) QR codes with scan analytics. Every call but this document "
            "needs `Authorization: Bearer oqr_live_...`. Every error is JSON "
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
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "oqr_live_..."}
            },
            "schemas": _schemas(),
            "responses": RESPONSES,
        },
    }
