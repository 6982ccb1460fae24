"""Short text renderings of the tools' results; the structured content carries the whole JSON."""

from __future__ import annotations


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def code_line(code: dict) -> str:
    label = f" \u201c{code['label']}\u201d" if code.get("label") else ""
    return f"{code['short_url']} -> {code['destination']}{label} (id {code['id']}, {code['status']})"


def codes_text(body: dict) -> str:
    found = body["codes"]
    return "\n".join([_count(len(found), "code"), *map(code_line, found)])


def _top_text(entries: list[dict]) -> str:
    return ", ".join(f"{entry['value']} {entry['n']}" for entry in entries) or "none"


def scans_text(body: dict) -> str:
    window = body["analytics"]
    lines = [
        f"{body['short_url']}: {_count(window['window_total'], 'scan')} in the last "
        f"{_count(window['days_window'], 'day')}, {body['scans']['last7']} in the last 7, "
        f"{body['scans']['total']} in all.",
        "By day: " + ", ".join(f"{day['day']} {day['n']}" for day in window["daily"]),
    ]
    lines += [
        f"{name}: {_top_text(window[key])}"
        for name, key in (("Countries", "by_country"), ("Devices", "by_device"), ("Referrers", "by_referrer"))
        if key in window
    ]
    return "\n".join(lines)


def account_scans_text(body: dict) -> str:
    scope = (
        f"folder {body['folder_id']}"
        if body.get("folder_id")
        else f"tag {body['tag']}"
        if body.get("tag")
        else "all codes"
    )
    lines = [
        f"{scope}: {_count(body['window_total'], 'scan')} in the last {_count(body['days_window'], 'day')}, "
        f"{body['total']} in all.",
        "By day: " + ", ".join(f"{day['day']} {day['n']}" for day in body["daily"]),
        "Top codes: " + (", ".join(f"{c['slug']} {c['n']}" for c in body["by_code"]) or "none"),
    ]
    return "\n".join(lines)


def folders_text(body: dict) -> str:
    return "\n".join(
        [_count(len(body["folders"]), "folder")]
        + [f"{f['name']} (id {f['id']}, {_count(f.get('code_count', 0), 'code')})" for f in body["folders"]]
    )


def folder_line(folder: dict) -> str:
    return f"Folder {folder['name']} (id {folder['id']})"


def deleted(_body: dict) -> str:
    return "Deleted."


def history_text(body: dict) -> str:
    return "\n".join(
        [_count(len(body["history"]), "destination change")]
        + [f"{h['at']} {h['destination']} (by {h['source']})" for h in body["history"]]
    )
