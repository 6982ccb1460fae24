"""Pages and links every HTTP-facing area shares: stand-alone pages, and where `next` may lead."""

from __future__ import annotations

from flask import current_app, url_for

from ..text import has_control


def plain_page(template: str, status: int, headers: dict | None = None, **context):
    """A stand-alone page for visitors: rendered without the dashboard's context (no session look-up)."""
    html = current_app.jinja_env.get_template(template).render(url_for=url_for, **context)
    return (
        html,
        status,
        {"Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8", **(headers or {})},
    )


def safe_next(value: str | None) -> str | None:
    """Only a path on this site: never another host (`//evil`, `/\\evil`, `https://...`)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    # Browsers drop tabs and newlines from URLs: "/\t/evil.example" would become "//evil.example".
    if has_control(value):
        return None
    return value
