"""Every setting the service reads from the environment, validated in one place.

Each `Setting` names its environment variable, its default and a parser; the README's
configuration table lists the same names (tests/test_config.py keeps the two in step).
A bad value raises ConfigError, which `app.py` turns into one line on stderr.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


class ConfigError(Exception):
    """A setting has a value the service cannot start with."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    parse: Callable[[str], object]
    doc: str


def _number_range(kind: type[int] | type[float], low, high) -> Callable[[str], int | float]:
    """A parser of `kind` (int or float) from low to high, whose error says which."""
    what = "a whole number" if kind is int else "a number"

    def parse(raw: str):
        try:
            value = kind(raw)
        except ValueError:
            raise ValueError(f"must be {what} from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"must be from {low} to {high}")
        return value

    return parse


def _int_range(low: int, high: int) -> Callable[[str], int]:
    return _number_range(int, low, high)


def _float_range(low: float, high: float) -> Callable[[str], float]:
    return _number_range(float, low, high)


def _base_url(raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL such as https://qr.example.com")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment")
    return raw.strip().rstrip("/")


def check_database_url(raw: str) -> str:
    """A database URL OpenQR can use (SQLite or PostgreSQL through psycopg); ValueError otherwise."""
    if not raw.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
        raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
    return raw


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of: {', '.join(choices)}")
        return value

    return parse


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _networks(raw: str) -> tuple:
    try:
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip()
        )
    except ValueError as err:
        raise ValueError(f"must be a comma-separated list of IP addresses or networks ({err})") from None


def _patterns(raw: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in raw.split(",") if part.strip())


_HOST_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


def host_port(host: str, port: int) -> str:
    """`host:port` as OPENQR_WEBHOOK_ALLOW_HOSTS writes it (`[v6]:port` for an IPv6 address)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _host_entry(text: str) -> str:
    """One allow-list entry in its canonical form: `host` (any port) or `host:port`."""
    text = text.strip().lower()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not _is_address(host) or (rest and not rest.startswith(":")):
            raise ValueError
        port = rest[1:] if rest else None
    elif text.count(":") > 1:  # a bare IPv6 address: no port can follow it
        host, port = text, None
    else:
        host, colon, port = text.partition(":")
        port = port if colon else None
    host = host.rstrip(".")
    if _is_address(host):
        host = str(ipaddress.ip_address(host))
    elif not host or not set(host) <= _HOST_NAME_CHARS:
        raise ValueError
    if port is None:
        return host
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError
    return host_port(host, int(port))


def _hosts(raw: str) -> frozenset[str]:
    hosts = set()
    for part in raw.split(","):
        if not part.strip():
            continue
        try:
            hosts.add(_host_entry(part))
        except ValueError:
            raise ValueError(
                f"has {part.strip()!r}: entries are host, host:port or [IPv6]:port, comma-separated "
                "(ASCII names, no scheme or path)"
            ) from None
    return frozenset(hosts)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _text(raw: str) -> str:
    return raw.strip()


def _ca_file(raw: str) -> str:
    """A PEM file of certificates that `ssl` can load (checked now, so a typo stops start-up)."""
    path = raw.strip()
    if path:
        try:
            ssl.create_default_context(cafile=path)
        except (OSError, ssl.SSLError) as err:
            raise ValueError(f"is not a readable PEM file of CA certificates ({err})") from None
    return path


def _header_name(raw: str) -> str:
    value = raw.strip()
    if value and not all(ch.isalnum() or ch == "-" for ch in value):
        raise ValueError("must be an HTTP header name such as CF-IPCountry")
    return value


def _log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return value


SETTINGS: list[Setting] = [
    Setting(
        "OPENQR_DATABASE_URL",
        None,
        check_database_url,
        "Database URL. Default: a SQLite file `instance/openqr.db`. "
        "PostgreSQL: `postgresql+psycopg://user@host/db`.",
    ),
    Setting(
        "OPENQR_BASE_URL",
        "http://localhost:8080",
        _base_url,
        "Public URL of the dashboard and the `/v1` API.",
    ),
    Setting(
        "OPENQR_SHORT_BASE_URL",
        None,
        _base_url,
        "Public URL that short links start with (`<short base>/<slug>`). Default: the base URL.",
    ),
    Setting(
        "OPENQR_SECRET_KEY",
        None,
        _text,
        "Key that signs sessions and sign-in links. "
        "Default: generated once into `instance/secret_key` and kept.",
    ),
    Setting("OPENQR_HOST", "127.0.0.1", _text, "Address `python app.py` / `make run` listens on."),
    Setting("OPENQR_PORT", "8080", _int_range(1, 65535), "Port `python app.py` / `make run` listens on."),
    Setting(
        "OPENQR_THREADS",
        "32",
        _int_range(1, 256),
        "Waitress worker threads: more than the concurrent connections you expect, so requests never queue.",
    ),
    Setting(
        "OPENQR_CONNECTION_LIMIT",
        "1000",
        _int_range(10, 100_000),
        "Client connections waitress holds open at once; beyond it new ones wait in the listen queue. "
        "Start-up raises the open-files limit to fit.",
    ),
    Setting(
        "OPENQR_CHANNEL_TIMEOUT",
        "30",
        _int_range(1, 3600),
        "Seconds a client connection may stay silent before waitress closes it.",
    ),
    Setting(
        "OPENQR_BACKLOG",
        "1024",
        _int_range(1, 65535),
        "Connections the system queues for waitress to accept (capped by `net.core.somaxconn`).",
    ),
    Setting(
        "OPENQR_CREATE_LIMIT",
        "20",
        _int_range(1, 1_000_000),
        "Single creates (`POST /v1/dynamic`) per account per rolling hour.",
    ),
    Setting(
        "OPENQR_BULK_LIMIT",
        "10",
        _int_range(1, 1_000_000),
        "Bulk requests (`POST /v1/dynamic/bulk`) per account per rolling hour.",
    ),
    Setting(
        "OPENQR_COUNTRY_HEADER",
        "CF-IPCountry",
        _header_name,
        "Trusted request header carrying the visitor's country (set by your CDN). Empty: none.",
    ),
    Setting(
        "OPENQR_TRUSTED_PROXIES",
        "",
        _networks,
        "Comma-separated proxy addresses or networks whose `X-Forwarded-For` is believed. Default: none.",
    ),
    Setting("OPENQR_LOG_LEVEL", "INFO", _log_level, "Log level: DEBUG, INFO, WARNING or ERROR."),
    Setting(
        "OPENQR_SMTP_HOST",
        "",
        _text,
        "SMTP server for sign-in emails. Empty: sign-in links are written to the server log instead.",
    ),
    Setting(
        "OPENQR_SMTP_PORT",
        None,
        _int_range(1, 65535),
        "SMTP port. Default: 25, 587 with `starttls`, 465 with `tls`.",
    ),
    Setting("OPENQR_SMTP_USER", "", _text, "SMTP user name. Empty: no SMTP login."),
    Setting("OPENQR_SMTP_PASSWORD", "", _text, "SMTP password."),
    Setting(
        "OPENQR_SMTP_SECURITY",
        "starttls",
        _choice("none", "starttls", "tls"),
        "SMTP connection security: `none`, `starttls` or `tls`.",
    ),
    Setting("OPENQR_MAIL_FROM", "OpenQR <openqr@localhost>", _text, "From address of sign-in emails."),
    Setting(
        "OPENQR_SIGNUPS",
        "open",
        _choice("open", "closed"),
        "`open`: any allowed address gets an account at first sign-in. `closed`: only existing accounts "
        "(`flask users create EMAIL`).",
    ),
    Setting(
        "OPENQR_ALLOWED_EMAILS",
        "",
        _patterns,
        "Comma-separated address patterns that may sign in, such as `*@example.com`. Empty: any address.",
    ),
    Setting(
        "OPENQR_LOGIN_LIMIT_PER_EMAIL",
        "5",
        _int_range(1, 1_000_000),
        "Sign-in emails per address per rolling hour.",
    ),
    Setting(
        "OPENQR_LOGIN_LIMIT_PER_CLIENT",
        "20",
        _int_range(1, 1_000_000),
        "Sign-in requests per client address per rolling hour.",
    ),
    Setting(
        "OPENQR_MAX_BODY_BYTES",
        "1048576",
        _int_range(1024, 1024 * 1024 * 1024),
        "Largest request body accepted, in bytes; a larger one answers 413.",
    ),
    Setting(
        "OPENQR_BLOCKLIST_FILE",
        "",
        _text,
        "File of domains destinations may not use (one a line, `#` comments; subdomains too). "
        "Read at start; a missing file stops start-up. Empty: none.",
    ),
    Setting(
        "OPENQR_RESOLVE_DESTINATIONS",
        "false",
        _bool,
        "`true`: also refuse destination host names that do not resolve or resolve to a non-public "
        "address (needs DNS).",
    ),
    Setting(
        "OPENQR_MCP",
        "true",
        _bool,
        "`true`: serve the MCP endpoint for assistants at `/mcp` (Bearer API keys). `false`: `/mcp` "
        "answers 404.",
    ),
    Setting(
        "OPENQR_SCAN_FLUSH_INTERVAL",
        "0.2",
        _float_range(0.01, 0.25),
        "Seconds between two syncs of the scan journal and writes of its scans to the database.",
    ),
    Setting(
        "OPENQR_SCAN_BUFFER_SIZE",
        "50000",
        _int_range(100, 10_000_000),
        "Scans held in memory at most while the scan journal cannot be written; beyond it scans still "
        "redirect but are counted as dropped (`/healthz`).",
    ),
    Setting(
        "OPENQR_SCAN_RETRY_MAX",
        "5",
        _float_range(0.01, 300),
        "Seconds between two attempts to store scans while the database cannot take them, at most (the "
        "wait doubles from the flush interval up to this). Scans are never given up.",
    ),
    Setting(
        "OPENQR_SCAN_JOURNAL_DIR",
        None,
        _text,
        "Folder of the scan journal: every answered scan is written there before the answer, until "
        "the database has it. Default: `instance/scan-journal`. Keep it on a local disk.",
    ),
    Setting(
        "OPENQR_RENDER_PROCESSES",
        "1",
        _int_range(0, 64),
        "Worker processes that draw QR images, so image work never holds the interpreter the "
        "redirect needs; also how many images are drawn at once. 0: draw in the server process, "
        "one at a time.",
    ),
    Setting(
        "OPENQR_RENDER_QUEUE",
        None,
        _int_range(0, 1000),
        "Image requests that may wait for a free worker at once; beyond them an image answers "
        "`503` with `Retry-After`. A waiting request holds a thread, so it must stay below "
        "`OPENQR_THREADS`. Default: half of `OPENQR_THREADS`.",
    ),
    Setting(
        "OPENQR_RENDER_PER_ACCOUNT",
        "12",
        _int_range(1, 1000),
        "Image requests one account may have drawn or waiting at once; beyond them it gets `429` "
        "with `Retry-After`.",
    ),
    Setting(
        "OPENQR_RENDER_WAIT",
        "10",
        _float_range(0.1, 120),
        "Seconds an image request waits for a free worker before it answers `503` with `Retry-After`.",
    ),
    Setting(
        "OPENQR_WEBHOOK_ALLOW_HOSTS",
        "",
        _hosts,
        "Comma-separated `host` (any port) or `host:port` (`[v6]:port`) entries that webhook URLs may "
        "use although they are not public (receivers on an internal network). Default: none.",
    ),
    Setting(
        "OPENQR_WEBHOOK_CA_FILE",
        "",
        _ca_file,
        "PEM file of the certificate authorities webhook receivers' TLS certificates are checked "
        "against (a private CA). Empty: the system's.",
    ),
    Setting(
        "OPENQR_WEBHOOK_TIMEOUT",
        "5",
        _float_range(0.1, 30),
        "Seconds one webhook request may take (connect and answer) before it counts as failed.",
    ),
    Setting(
        "OPENQR_WEBHOOK_INTERVAL",
        "2",
        _float_range(0.05, 60),
        "Seconds between two requests to one webhook endpoint at most: events meanwhile are batched.",
    ),
    Setting(
        "OPENQR_WEBHOOK_RETRY_BASE",
        "10",
        _float_range(0.01, 3600),
        "Seconds before the first retry of a failed webhook request; each retry waits about twice as "
        "long (with jitter), at most an hour.",
    ),
    Setting(
        "OPENQR_WEBHOOK_RETRY_FOR",
        "90000",
        _float_range(1, 30 * 86400),
        "Seconds a webhook event keeps being retried before it is marked failed (default 25 hours).",
    ),
    Setting(
        "OPENQR_METRICS_TOKEN",
        "",
        _text,
        "Bearer token that `GET /metrics` (Prometheus) requires. Empty: `/metrics` answers 404.",
    ),
    Setting(
        "OPENQR_LINK_POLL_INTERVAL",
        "0.5",
        _float_range(0.05, 0.9),
        "Seconds between two looks at the link change feed: an edit made through another process is "
        "served by this one at most this long (plus one query) later.",
    ),
    Setting(
        "OPENQR_LINK_TABLE_SIZE",
        "0",
        _int_range(0, 100_000_000),
        "Links held in memory at most (about 330 bytes each); beyond it the least recently scanned "
        "are looked up on their next scan, and need the database for it. 0: every code.",
    ),
]


def load_settings(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """Parse every setting from `environ` (default: os.environ); raise ConfigError on the first bad one."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.name)
        if raw is None or raw == "":
            raw = setting.default
        if raw is None:
            values[setting.name] = None
            continue
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as err:
            raise ConfigError(f"{setting.name}={raw!r} {err}") from None
    if values["OPENQR_SHORT_BASE_URL"] is None:
        values["OPENQR_SHORT_BASE_URL"] = values["OPENQR_BASE_URL"]
    return values


def secret_key_from_instance(instance_path: str) -> str:
    """The instance folder's secret key, generated on first use and never regenerated."""
    path = Path(instance_path) / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        # O_EXCL: when two processes start at once, one writes and both read the same key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
