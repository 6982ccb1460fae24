"""A daily bar chart as inline SVG, drawn on the server: no script, no inline styles (CSS classes only)."""

from __future__ import annotations

import datetime as dt
import math

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 12, 28


def _nice_max(value: int) -> int:
    """A round top for the y axis (1, 2, 5 x 10^n) at or above `value`."""
    if value <= 4:
        return 4
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return int(step * power)
    return value


def _day_label(day: dt.date, span: int) -> str:
    return day.strftime("%b %Y") if span > 120 else f"{day.strftime('%b')} {day.day}"


_SOURCES = {
    "api": "the API",
    "dashboard": "the dashboard",
    "schedule": "the schedule",
    "mcp": "an assistant",
    "cli": "the command line",
}


def _change_marks(daily: list[dict], changes: list[dict], slot: float, plot_h: float) -> list[str]:
    """A focusable mark on the time axis for each destination change inside the window; its
    <title> (shown on hover, read on focus) names the new destination."""
    if not daily:
        return []
    first = dt.date.fromisoformat(daily[0]["day"])
    marks = []
    for change in reversed(changes):  # the history is newest first; Tab should go forward in time
        at = dt.datetime.fromisoformat(change["at"].rstrip("Z"))
        index = (at.date() - first).days
        if not 0 <= index < len(daily):
            continue
        seconds = at.hour * 3600 + at.minute * 60 + at.second
        x = LEFT + (index + seconds / 86400) * slot
        title = escape(
            f"{at.strftime('%a %d %b %Y %H:%M')} UTC: destination changed to {change['destination']}"
            f" (by {_SOURCES.get(change['source'], change['source'])})"
        )
        marks.append(
            f'<g class="change" tabindex="0" role="img" aria-label="{title}"><title>{title}</title>'
            f'<line class="change-line" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + plot_h}"/>'
            f'<path class="change-mark" d="M{x:.1f} {TOP + plot_h - 7} l6 7 l-6 7 l-6 -7 z"/></g>'
        )
    return marks


def bar_chart(daily: list[dict], changes: list[dict] = ()) -> Markup:
    """`daily` as the API gives it ([{day, n}], oldest first) -> an accessible SVG bar chart, with
    each destination change (`changes` as the history API gives them) marked on the time axis."""
    count = len(daily)
    top = _nice_max(max((entry["n"] for entry in daily), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(count, 1)
    gap = slot * 0.2 if slot > 4 else 0
    total = sum(entry["n"] for entry in daily)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Scans per day: {total} in {count} days" xmlns="http://www.w3.org/2000/svg">'
    ]
    ticks = sorted({0, top} | ({top // 2} if top % 2 == 0 else set()))
    for tick in ticks:
        y = TOP + plot_h - plot_h * tick / top
        label = f"{tick:g}"
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    for i, entry in enumerate(daily):
        n = entry["n"]
        h = plot_h * n / top
        x = LEFT + i * slot + gap / 2
        day = dt.date.fromisoformat(entry["day"])
        title = escape(f"{day.strftime('%a %d %b %Y')}: {n} scan{'s' if n != 1 else ''}")
        parts.append(
            f'<rect class="bar" x="{x:.2f}" y="{TOP + plot_h - h:.2f}" width="{max(slot - gap, 0.6):.2f}" '
            f'height="{h:.2f}"><title>{title}</title></rect>'
        )
    labels = 6 if count > 6 else count
    for k in range(labels):
        i = round(k * (count - 1) / max(labels - 1, 1))
        x = LEFT + i * slot + slot / 2
        day = dt.date.fromisoformat(daily[i]["day"])
        anchor = "start" if k == 0 else "end" if k == labels - 1 else "middle"
        parts.append(
            f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">'
            f"{escape(_day_label(day, count))}</text>"
        )
    parts.append(
        f'<line class="baseline" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>'
    )
    parts.extend(_change_marks(daily, list(changes), slot, plot_h))
    parts.append("</svg>")
    return Markup("".join(parts))


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HEAT_LEVELS = 5
# Wide: hours across, weekdays down (desktop). Tall: weekdays across, hours down (phones).
HEAT_LAYOUTS = {
    "wide": {"cell_w": 15, "cell_h": 18, "left": 34, "top": 16},
    "tall": {"cell_w": 38, "cell_h": 13, "left": 34, "top": 16},
}


def heat_level(n: int, top: int) -> int:
    """0 for no scans, else 1..HEAT_LEVELS; square-root scale so one busy hour does not wash out the rest."""
    return 0 if n <= 0 or top <= 0 else max(1, math.ceil(HEAT_LEVELS * math.sqrt(n / top)))


def busiest(grid: list[list[int]]) -> tuple[int, int, int] | None:
    """(weekday, hour, n) of the busiest cell, or None without scans."""
    n, weekday, hour = max((n, -d, -h) for d, row in enumerate(grid) for h, n in enumerate(row))
    return (-weekday, -hour, n) if n > 0 else None


def heat_map(grid: list[list[int]], zone: str, layout: str = "wide") -> Markup:
    """A weekday x hour grid of scans ([7][24], Monday first) -> an SVG heat map (CSS classes only)."""
    size = HEAT_LAYOUTS[layout]
    cell_w, cell_h, left, top_pad = size["cell_w"], size["cell_h"], size["left"], size["top"]
    tall = layout == "tall"
    columns, rows = (7, 24) if tall else (24, 7)
    width, height = left + columns * cell_w, top_pad + rows * cell_h
    top = max((n for row in grid for n in row), default=0)
    peak = busiest(grid)
    summary = (
        f"busiest {WEEKDAYS[peak[0]]} {peak[1]:02d}:00 to {peak[1] + 1:02d}:00 with {peak[2]} scans"
        if peak
        else "no scans"
    )
    label = escape(f"Scans by weekday and hour ({zone}): {summary}")
    parts = [
        f'<svg class="heat heat-{layout}" viewBox="0 0 {width} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{label}">'
    ]
    day_labels = [(day, WEEKDAYS[day][:3]) for day in range(7)]
    hour_labels = [(hour, f"{hour:02d}") for hour in range(0, 24, 3)]
    for index, label in day_labels if tall else hour_labels:
        x = left + index * cell_w + cell_w / 2
        parts.append(f'<text class="axis" x="{x:.1f}" y="11" text-anchor="middle">{label}</text>')
    for index, label in hour_labels if tall else day_labels:
        y = top_pad + index * cell_h + cell_h - 4
        parts.append(f'<text class="axis" x="{left - 5}" y="{y}" text-anchor="end">{label}</text>')
    for day, counts in enumerate(grid):
        for hour, n in enumerate(counts):
            column, row = (day, hour) if tall else (hour, day)
            span = f"{hour:02d}:00-{hour + 1:02d}:00"
            title = escape(f"{WEEKDAYS[day]} {span}: {n} scan{'s' if n != 1 else ''}")
            parts.append(
                f'<rect class="cell heat-{heat_level(n, top)}" x="{left + column * cell_w + 1}" '
                f'y="{top_pad + row * cell_h + 1}" width="{cell_w - 2}" height="{cell_h - 2}" rx="2">'
                f"<title>{title}</title></rect>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
