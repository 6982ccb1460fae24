"""Smart destinations: the rules, split, schedule, expiry, scan cap, fallback and UTM of a code.

Two halves. The validators (`clean_smart_fields`) turn a create/patch body into the stored
form and raise `ValidationError` naming the field. `Plan` is that stored form compiled once
per link look-up, and `decide(...)` is the pure decision of one scan: plain values in
(the plan, the visitor's device/os/country/language, the time, the scan count so far),
a destination or "ended" out. No database, no request: the redirect's hot path calls it.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..destinations import url_schema
from ..errors import ValidationError
from ..scans.classify import DEVICES, Visitor
from ..text import PLAIN_TEXT, anchored, closed, has_control, iso_z, nullable, timestamp_schema

SMART_FIELDS = ("rules", "split", "schedule", "expires_at", "max_scans", "fallback_url", "utm")
MAX_RULES = 20
MAX_SCHEDULE = 20
MIN_SPLIT, MAX_SPLIT = 2, 5
MIN_WEIGHT, MAX_WEIGHT = 1, 100
MAX_UTM_LENGTH = 100
OSES = ("ios", "android", "windows", "macos", "linux")
WHEN_KEYS = ("device", "os", "country", "language")
UTM_KEYS = ("source", "medium", "campaign", "term", "content")
HISTORY_SOURCES = ("api", "dashboard", "schedule", "mcp", "cli")
MIN_SCANS = 1
MAX_SCANS_LIMIT = 2**31 - 1  # what the database's integer holds
COUNTRY = re.compile("[A-Za-z]{2}")  # ISO 3166 alpha-2, in any case
MIN_LANGUAGE, MAX_LANGUAGE = 2, 8
LANGUAGE = re.compile(f"[A-Za-z]{{{MIN_LANGUAGE},{MAX_LANGUAGE}}}")  # a primary subtag, in any case


# --- time ---------------------------------------------------------------------------


def parse_utc(value: object, field: str) -> dt.datetime:
    """An ISO 8601 time with a zone (`Z` or an offset) -> naive UTC, whole seconds."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        raise ValidationError(
            f"{field} must be an ISO 8601 time in UTC, such as 2030-05-01T09:00:00Z.", field=field
        )
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise ValidationError(
            f"{field} must be an ISO 8601 time in UTC, such as 2030-05-01T09:00:00Z.", field=field
        ) from None
    if moment.tzinfo is None:
        raise ValidationError(f"{field} must say its zone: end it with Z for UTC.", field=field)
    try:
        utc = moment.astimezone(dt.UTC)
    except OverflowError:
        raise ValidationError(f"{field} is out of range.", field=field) from None
    return utc.replace(tzinfo=None, microsecond=0)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# --- validators ---------------------------------------------------------------------


def _when(value: object, where: str) -> dict:
    field = "rules"
    if not isinstance(value, Mapping) or not value:
        raise ValidationError(
            f"{where}: 'when' must be an object with at least one of {', '.join(WHEN_KEYS)}.", field=field
        )
    clean: dict[str, list[str]] = {}
    for key, values in value.items():
        if key not in WHEN_KEYS:
            raise ValidationError(
                f"{where}: unknown condition '{str(key)[:40]}'; use {', '.join(WHEN_KEYS)}.", field=field
            )
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise ValidationError(f"{where}: '{key}' must be a non-empty list of strings.", field=field)
        if key == "device":
            allowed, normal = DEVICES, [v.lower() for v in values]
        elif key == "os":
            allowed, normal = OSES, [v.lower() for v in values]
        else:
            allowed, normal = (
                None,
                [v.strip().upper() if key == "country" else v.strip().lower() for v in values],
            )
        for item in normal:
            if allowed is not None and item not in allowed:
                raise ValidationError(f"{where}: '{key}' takes {', '.join(allowed)}.", field=field)
            if key == "country" and not COUNTRY.fullmatch(item):
                raise ValidationError(
                    f"{where}: countries are ISO 3166 alpha-2 codes such as DE or US.", field=field
                )
            if key == "language" and not LANGUAGE.fullmatch(item):
                raise ValidationError(
                    f"{where}: languages are primary subtags such as en or de "
                    f"({MIN_LANGUAGE} to {MAX_LANGUAGE} letters).",
                    field=field,
                )
        clean[key] = list(dict.fromkeys(normal))
    return clean


def _objects(value: object, field: str, keys: tuple[str, str], sizes: range, shape: str, item: str) -> list:
    """A list field's items, each an object with exactly `keys`; else a 400 naming `field`."""
    if not isinstance(value, list) or len(value) not in sizes:
        raise ValidationError(shape, field=field)
    for i, entry in enumerate(value, 1):
        if not isinstance(entry, Mapping) or set(entry) != set(keys):
            raise ValidationError(
                f"{item} {i} must be an object with exactly '{keys[0]}' and '{keys[1]}'.", field=field
            )
    return value


def clean_rules(value: object, check_url) -> list[dict] | None:
    if value is None:
        return None
    shape = f"Rules are a list of at most {MAX_RULES} {{when, destination}} objects."
    rules = []
    for i, rule in enumerate(
        _objects(value, "rules", ("when", "destination"), range(MAX_RULES + 1), shape, "Rule"), 1
    ):
        when = _when(rule["when"], f"Rule {i}")
        rules.append({"when": when, "destination": check_url(rule["destination"], "rules")})
    return rules or None


def clean_split(value: object, check_url) -> list[dict] | None:
    if value is None:
        return None
    shape = f"A split lists {MIN_SPLIT} to {MAX_SPLIT} destinations, each with a weight."
    sizes = range(MIN_SPLIT, MAX_SPLIT + 1)
    split = []
    for i, part in enumerate(
        _objects(value, "split", ("destination", "weight"), sizes, shape, "Split entry"), 1
    ):
        weight = part["weight"]
        if isinstance(weight, bool) or not isinstance(weight, int) or not MIN_WEIGHT <= weight <= MAX_WEIGHT:
            raise ValidationError(
                f"Split entry {i}: the weight is a whole number from {MIN_WEIGHT} to {MAX_WEIGHT}.",
                field="split",
            )
        split.append({"destination": check_url(part["destination"], "split"), "weight": weight})
    return split


def clean_schedule(value: object, check_url, now: dt.datetime) -> list[dict] | None:
    if value is None:
        return None
    shape = f"The schedule is a list of at most {MAX_SCHEDULE} {{at, destination}} objects."
    entries = []
    for i, entry in enumerate(
        _objects(value, "schedule", ("at", "destination"), range(MAX_SCHEDULE + 1), shape, "Schedule entry"),
        1,
    ):
        at = parse_utc(entry["at"], "schedule")
        if at <= now:
            raise ValidationError(f"Schedule entry {i}: 'at' must be in the future.", field="schedule")
        entries.append({"at": at, "destination": check_url(entry["destination"], "schedule")})
    entries.sort(key=lambda entry: entry["at"])
    return [{"at": iso_z(entry["at"]), "destination": entry["destination"]} for entry in entries] or None


def clean_expires_at(value: object) -> str | None:
    return None if value is None else iso_z(parse_utc(value, "expires_at"))


def clean_max_scans(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_SCANS <= value <= MAX_SCANS_LIMIT:
        raise ValidationError(f"max_scans must be a whole number, at least {MIN_SCANS}.", field="max_scans")
    return value


def clean_utm(value: object) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError(f"utm must be an object with any of {', '.join(UTM_KEYS)}.", field="utm")
    clean = {}
    for key, text in value.items():
        if key not in UTM_KEYS:
            raise ValidationError(
                f"Unknown utm parameter '{str(key)[:40]}'; use {', '.join(UTM_KEYS)}.", field="utm"
            )
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_UTM_LENGTH:
            raise ValidationError(
                f"utm {key} must be a string of 1 to {MAX_UTM_LENGTH} characters.", field="utm"
            )
        if has_control(text):
            raise ValidationError(f"utm {key} must not contain control characters.", field="utm")
        clean[key] = text
    return {key: clean[key] for key in UTM_KEYS if key in clean} or None


def clean_smart_field(name: str, value: object, check_url, now: dt.datetime | None = None):
    """One smart field, cleaned (None clears it). `check_url(value, field)` is the destination guard."""
    now = now or _now()
    if name == "rules":
        return clean_rules(value, check_url)
    if name == "split":
        return clean_split(value, check_url)
    if name == "schedule":
        return clean_schedule(value, check_url, now)
    if name == "expires_at":
        return clean_expires_at(value)
    if name == "max_scans":
        return clean_max_scans(value)
    if name == "fallback_url":
        return None if value is None else check_url(value, "fallback_url")
    if name == "utm":
        return clean_utm(value)
    raise ValueError(name)


def merged(stored: Mapping | None, changes: Mapping) -> dict | None:
    """The stored smart fields with `changes` applied (None clears); None when nothing is left."""
    result = {name: value for name, value in (stored or {}).items() if value is not None}
    for name, value in changes.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return {name: result[name] for name in SMART_FIELDS if name in result} or None


def fields_json(smart: Mapping | None) -> dict:
    """Every smart field of a code's JSON, null where unused."""
    smart = smart or {}
    return {name: smart.get(name) for name in SMART_FIELDS}


def field_schemas() -> dict:
    """The smart fields `clean_smart_field` takes, as JSON Schema (`null` clears one)."""
    listed = {"type": "array", "minItems": 1, "items": {"type": "string"}}
    when = {
        "device": {**listed, "items": {"enum": list(DEVICES)}},
        "os": {**listed, "items": {"enum": list(OSES)}},
        "country": {**listed, "items": {"type": "string", "pattern": anchored(COUNTRY)}},
        "language": {
            **listed,
            "items": {"type": "string", "pattern": anchored(LANGUAGE)},
            "description": "Primary subtag of the first Accept-Language entry.",
        },
    }
    time_in = {"type": "string", "format": "date-time", "description": "ISO 8601 with a zone (Z for UTC)."}
    rule = closed(
        {
            "when": {**closed({key: when[key] for key in WHEN_KEYS}, []), "minProperties": 1},
            "destination": url_schema("Where a matching scan goes (the destination guard applies)."),
        }
    )
    part = closed(
        {
            "destination": url_schema("One of the split's destinations."),
            "weight": {"type": "integer", "minimum": MIN_WEIGHT, "maximum": MAX_WEIGHT},
        }
    )
    change = closed({"at": time_in, "destination": url_schema("The destination from then on.")})
    utm = {"type": "string", "minLength": 1, "maxLength": MAX_UTM_LENGTH, "pattern": anchored(PLAIN_TEXT)}
    fields = {
        "rules": {
            "type": "array",
            "maxItems": MAX_RULES,
            "description": "First rule whose `when` matches decides the destination. All keys given must "
            "match; values within a key are alternatives. Replaces the list whole.",
            "items": rule,
        },
        "split": {
            "type": "array",
            "minItems": MIN_SPLIT,
            "maxItems": MAX_SPLIT,
            "description": "Scans no rule matched are spread over these in proportion to the weights.",
            "items": part,
        },
        "schedule": {
            "type": "array",
            "maxItems": MAX_SCHEDULE,
            "description": "At `at` (in the future; whole seconds) the code's destination becomes that URL; "
            "the entry then leaves the list and appears in the history.",
            "items": change,
        },
        "expires_at": {**time_in, "description": "From then on the code has ended."},
        "max_scans": {
            "type": "integer",
            "minimum": MIN_SCANS,
            "maximum": MAX_SCANS_LIMIT,
            "description": "Once the code has this many scans it has ended (several processes may "
            "overshoot by about one flush interval of scans each).",
        },
        "fallback_url": url_schema("Where an ended code sends visitors (302); without it: 410."),
        "utm": closed(
            {key: utm for key in UTM_KEYS},
            [],
            "Appended as utm_<key>= to every destination that lacks that parameter.",
        ),
    }
    return {name: nullable(fields[name]) for name in SMART_FIELDS}


def json_schemas() -> dict:
    """The smart fields of a code's JSON (`fields_json`): as stored (times in UTC), `null` when unused."""
    return {**field_schemas(), "expires_at": nullable(timestamp_schema())}


def next_change(smart: Mapping | None) -> dt.datetime | None:
    """When the first schedule entry falls due (the indexed `codes.next_change_at`)."""
    schedule = (smart or {}).get("schedule")
    return parse_utc(schedule[0]["at"], "schedule") if schedule else None


def due_entries(
    smart: Mapping | None, destination: str, now: dt.datetime
) -> tuple[str, dict | None, list[dict]]:
    """Apply the schedule entries due at `now`: (new destination, new smart fields, applied entries)."""
    schedule = list((smart or {}).get("schedule") or [])
    applied = [entry for entry in schedule if parse_utc(entry["at"], "schedule") <= now]
    if not applied:
        return destination, dict(smart) if smart else None, []
    rest = schedule[len(applied) :]
    return applied[-1]["destination"], merged(smart, {"schedule": rest or None}), applied


# --- the compiled plan and the decision ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """A code's smart fields compiled for the hot path: times as Unix seconds, rules as sets."""

    rules: tuple[tuple[tuple[tuple[int, frozenset], ...], str], ...] = ()  # ((Visitor index, values)...), url
    split: tuple[str, ...] = ()
    split_bounds: tuple[int, ...] = ()  # running totals of the weights
    schedule: tuple[tuple[float, str], ...] = ()  # (at, destination), oldest first
    expires_at: float | None = None
    max_scans: int | None = None
    fallback_url: str | None = None
    utm: tuple[tuple[str, str], ...] = ()
    needs: frozenset = frozenset()  # which Visitor fields the rules read
    located: Mapping[str, str] | None = None  # every known target -> it with utm (None: no utm)


def _epoch(text: str) -> float:
    return parse_utc(text, "at").replace(tzinfo=dt.UTC).timestamp()


def compile_plan(smart: Mapping | None, destination: str | None = None) -> Plan | None:
    """The plan of a stored smart-fields object, or None for a plain code. With utm, each
    target (and the code's `destination`) is joined with its parameters once, here."""
    if not smart:
        return None
    rules = tuple(
        (
            tuple((WHEN_KEYS.index(key), frozenset(values)) for key, values in rule["when"].items()),
            rule["destination"],
        )
        for rule in smart.get("rules") or ()
    )
    split = smart.get("split") or ()
    bounds, total = [], 0
    for part in split:
        total += part["weight"]
        bounds.append(total)
    schedule = tuple((_epoch(entry["at"]), entry["destination"]) for entry in smart.get("schedule") or ())
    utm = tuple((f"utm_{key}", value) for key, value in (smart.get("utm") or {}).items())
    targets = {destination, *(url for _, url in rules), *(part["destination"] for part in split)}
    targets.update(url for _, url in schedule)
    return Plan(
        rules=rules,
        split=tuple(part["destination"] for part in split),
        split_bounds=tuple(bounds),
        schedule=schedule,
        expires_at=_epoch(smart["expires_at"]) if smart.get("expires_at") else None,
        max_scans=smart.get("max_scans"),
        fallback_url=smart.get("fallback_url"),
        utm=utm,
        needs=frozenset(WHEN_KEYS[index] for conditions, _ in rules for index, _ in conditions),
        located={url: with_utm(url, utm) for url in targets if url} if utm else None,
    )


class Decision(NamedTuple):
    """`location` is where to send the visitor (None: answer 410); `destination` is what the
    scan records (the URL without utm parameters; None when the code has ended)."""

    location: str | None
    destination: str | None
    ended: bool = False


def has_ended(plan: Plan | None, now: float, scans: int = 0) -> bool:
    """Expired, or the scan cap is reached."""
    if plan is None:
        return False
    if plan.expires_at is not None and now >= plan.expires_at:
        return True
    return plan.max_scans is not None and scans >= plan.max_scans


def current_destination(plan: Plan | None, destination: str, now: float) -> str:
    """The primary destination at `now`: the latest due schedule entry wins over the stored one."""
    if plan is not None and plan.schedule and now >= plan.schedule[0][0]:
        for at, scheduled in reversed(plan.schedule):
            if now >= at:
                return scheduled
    return destination


def decide(
    plan: Plan | None,
    destination: str,
    visitor: Visitor,
    now: float,
    scans: int = 0,
    rng: Callable[[], float] = random.random,
) -> Decision:
    """Where one scan goes: ended -> rules -> split -> destination (after due schedule entries), then utm.

    `now` is Unix seconds; `scans` the code's scans so far (read only when it has a cap);
    `rng()` a number in [0, 1) for the split. (A disabled code never gets here.)
    """
    if plan is None:
        return Decision(destination, destination)
    if (plan.expires_at is not None or plan.max_scans is not None) and has_ended(plan, now, scans):
        return Decision(plan.fallback_url, None, True)
    chosen = None
    for conditions, target in plan.rules:
        for index, values in conditions:
            if visitor[index] not in values:
                break
        else:
            chosen = target
            break
    if chosen is None and plan.split:
        bounds = plan.split_bounds
        chosen = plan.split[min(bisect_right(bounds, rng() * bounds[-1]), len(bounds) - 1)]
    if chosen is None:
        chosen = current_destination(plan, destination, now)
    located = plan.located
    if located is None:
        return Decision(chosen, chosen)
    return Decision(located.get(chosen) or with_utm(chosen, plan.utm), chosen)


@lru_cache(maxsize=8192)
def with_utm(url: str, utm: tuple[tuple[str, str], ...]) -> str:
    """`url` with each utm parameter it does not already carry appended to its query."""
    parts = urlsplit(url)
    present = {key for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    extra = [(key, value) for key, value in utm if key not in present]
    if not extra:
        return url
    query = parts.query + ("&" if parts.query else "") + urlencode(extra)
    return urlunsplit(parts._replace(query=query))
