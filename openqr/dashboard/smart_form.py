"""The code page's smart-destinations form: rules, split, schedule, expiry, cap, fallback, UTM.

The form shows the saved entries plus one blank row per list (a filled blank row is a new
entry; a row left blank is ignored). Posting it sends every smart field, so the form replaces
each list whole, exactly as a PATCH that carries all of them would.
"""

from __future__ import annotations

from flask import g

from ..codes import core as codes
from ..codes import smart
from ..errors import DomainError

UTC_INPUT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


def _local(iso_text: str | None) -> str:
    """'2030-05-01T09:00:00Z' -> '2030-05-01T09:00' for a datetime-local input (UTC, as labelled)."""
    return iso_text[:16] if iso_text else ""


def _iso(local: str) -> str | None:
    """A datetime-local value (UTC) -> ISO 8601 with Z; blank -> None; anything else as typed
    (the domain's check then names the field)."""
    local = local.strip()
    if not local:
        return None
    return (local + (":00" if len(local) == 16 else "") + "Z") if "T" in local and local[-1] != "Z" else local


def _split_list(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


def form_of_code(code) -> dict:
    """The form's values from the saved code."""
    fields = smart.fields_json(code.smart)
    rules = [
        {
            "device": rule["when"].get("device", []),
            "os": rule["when"].get("os", []),
            "country": ", ".join(rule["when"].get("country", [])),
            "language": ", ".join(rule["when"].get("language", [])),
            "destination": rule["destination"],
        }
        for rule in fields["rules"] or []
    ]
    split = [{"destination": p["destination"], "weight": str(p["weight"])} for p in fields["split"] or []]
    schedule = [{"at": _local(e["at"]), "destination": e["destination"]} for e in fields["schedule"] or []]
    return {
        "rules": rules,
        "split": split,
        "schedule": schedule,
        "expires_at": _local(fields["expires_at"]),
        "max_scans": str(fields["max_scans"] or ""),
        "fallback_url": fields["fallback_url"] or "",
        "utm": fields["utm"] or {},
    }


def _rows(form, prefix: str, names: tuple[str, ...], multi: tuple[str, ...] = ()) -> list[dict]:
    rows, i = [], 0
    while f"{prefix}-{i}-destination" in form:
        row = {
            name: form.getlist(f"{prefix}-{i}-{name}")
            if name in multi
            else form.get(f"{prefix}-{i}-{name}", "").strip()
            for name in names
        }
        if any(row.values()):
            rows.append(row)
        i += 1
    return rows


def form_of_request(form) -> dict:
    """The form's values as posted (kept as typed, to show again beside any error)."""
    return {
        "rules": _rows(
            form, "rule", ("device", "os", "country", "language", "destination"), ("device", "os")
        ),
        "split": _rows(form, "split", ("destination", "weight")),
        "schedule": _rows(form, "schedule", ("at", "destination")),
        "expires_at": form.get("expires_at", "").strip(),
        "max_scans": form.get("max_scans", "").strip(),
        "fallback_url": form.get("fallback_url", "").strip(),
        "utm": {
            key: form.get(f"utm-{key}", "").strip()
            for key in smart.UTM_KEYS
            if form.get(f"utm-{key}", "").strip()
        },
    }


def body_of(values: dict) -> dict:
    """The PATCH body the form stands for: every smart field, None where left blank."""
    rules = []
    for row in values["rules"]:
        when = {key: row[key] for key in ("device", "os") if row[key]}
        for key in ("country", "language"):
            if _split_list(row[key]):
                when[key] = _split_list(row[key])
        rules.append({"when": when, "destination": row["destination"]})
    split = [
        {
            "destination": row["destination"],
            "weight": int(row["weight"]) if row["weight"].isdigit() else row["weight"],
        }
        for row in values["split"]
    ]
    schedule = [
        {"at": _iso(row["at"]) or "", "destination": row["destination"]} for row in values["schedule"]
    ]
    max_scans = values["max_scans"]
    return {
        "rules": rules or None,
        "split": split or None,
        "schedule": schedule or None,
        "expires_at": _iso(values["expires_at"]),
        "max_scans": (int(max_scans) if max_scans.isdigit() else max_scans) if max_scans else None,
        "fallback_url": values["fallback_url"] or None,
        "utm": values["utm"] or None,
    }


def field_errors_of(body: dict) -> dict[str, str]:
    """Every smart field's own error at once (the domain's check, one field at a time)."""
    errors = {}
    for name, value in body.items():
        try:
            codes.clean_fields(g.workspace, {name: value}, creating=False)
        except DomainError as err:
            errors[name] = err.message
    return errors
