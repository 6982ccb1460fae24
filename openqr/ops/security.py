"""Hardening that applies to every response: body limit, blocklist, security headers."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, current_app

from ..config import ConfigError
from ..errors import is_api_request
from ..web.pages import plain_page

# Pages load scripts and styles only from this server: no inline script can run.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
# JSON and images are never documents: they may load nothing and be framed by no one.
API_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"


def load_blocklist(path: str) -> frozenset[str]:
    """Domains from a blocklist file: one a line, `#` starts a comment; raises ConfigError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else type(err).__name__
        raise ConfigError(f"OPENQR_BLOCKLIST_FILE={path!r} cannot be read ({reason})") from None
    domains = set()
    for line in text.splitlines():
        entry = line.partition("#")[0].strip().lower().removesuffix(".")
        if entry.startswith("*."):
            entry = entry[2:]  # subdomains are always blocked with their domain
        if entry:
            domains.add(entry)
    return frozenset(domains)


def init_app(app: Flask) -> None:
    """Apply the body limit, load the blocklist, add security headers to every answer."""
    config = app.config
    config["MAX_CONTENT_LENGTH"] = config.get("OPENQR_MAX_BODY_BYTES") or 1024 * 1024
    if config.get("OPENQR_BLOCKLIST_FILE"):
        config["OPENQR_BLOCKED_DOMAINS"] = load_blocklist(config["OPENQR_BLOCKLIST_FILE"])
    else:
        config["OPENQR_BLOCKED_DOMAINS"] = frozenset(config.get("OPENQR_BLOCKED_DOMAINS") or ())
    app.after_request(security_headers)


def too_large_message() -> str:
    """What a person reads when a form is over the body limit or one of its fields over the form limit."""
    whole, field = current_app.config["MAX_CONTENT_LENGTH"], current_app.config["MAX_FORM_MEMORY_SIZE"]
    return (
        f"That is more than this server accepts at once ({_size(whole)} in all, {_size(field)} in one "
        "field). Nothing was saved: send it in smaller parts."
    )


def too_large_page():
    """The stand-alone page for a form over the limits outside the dashboard (sign-in, say)."""
    return plain_page("errors/too_large.html", 413, message=too_large_message())


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB" if n >= 1024 * 1024 else f"{n // 1000:,} KB"


def security_headers(response: Response) -> Response:
    """Every answer: nosniff. Documents: a strict CSP, no framing, a same-origin referrer."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if 300 <= response.status_code < 400:
        return response  # the redirect stays minimal: browsers render nothing of a 3xx
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", PAGE_CSP)
    elif is_api_request():
        headers.setdefault("Content-Security-Policy", API_CSP)
    return response
