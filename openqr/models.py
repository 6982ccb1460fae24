"""Database models. Timestamps are naive UTC datetimes; days are UTC dates."""

from __future__ import annotations

import datetime as dt
import re
import secrets

from flask_login import UserMixin
from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db
from .text import has_control

# Roll-up tables whose composite key is the row: SQLite stores them as the key's B-tree alone.
WITHOUT_ROWID = ({"sqlite_with_rowid": False},)


def hour_number(moment: dt.datetime) -> int:
    """A naive UTC datetime as whole hours since 1970-01-01 00:00 UTC (how hourly roll-ups key)."""
    return int((moment - dt.datetime(1970, 1, 1)).total_seconds()) // 3600


def utcnow() -> dt.datetime:
    """The current UTC time as a naive datetime (how every timestamp is stored)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


ID_BYTES = 8
ID = re.compile(f"[0-9a-f]{{{2 * ID_BYTES}}}")  # what new_id makes


def new_id() -> str:
    """An opaque, unguessable id for rows that appear in URLs."""
    return secrets.token_hex(ID_BYTES)


def find_owned(model, workspace_id: int, row_id: object):
    """The `model` row with this id that the workspace owns, or None: another workspace's row is
    as absent as a missing one. Ids are strings or, for keys and members, integers; an id with a
    control character is never stored (and PostgreSQL
    refuses a NUL in a query)."""
    if (
        isinstance(row_id, bool)
        or not isinstance(row_id, str | int)
        or (isinstance(row_id, str) and has_control(row_id))
    ):
        return None
    row = db.session.get(model, row_id)
    return row if row is not None and row.workspace_id == workspace_id else None


class Account(UserMixin, db.Model):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Bumped by sign-out so every session cookie issued before it stops working.
    session_version: Mapped[int] = mapped_column(default=0)
    # The IANA time zone the dashboard shows analytics in (openqr.scans.analytics.parse_tz).
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


ROLES = ("viewer", "editor", "admin", "owner")  # lowest first: openqr.auth.roles ranks them


class Workspace(db.Model):
    """What a business owns: codes, folders, webhooks, keys, limits and analytics belong to one."""

    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Membership(db.Model):
    """A person in a workspace with a role (one of ROLES); its id is the member id of /v1/members."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("workspace_id", "account_id", name="uq_memberships_workspace_account"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    account: Mapped[Account] = relationship()
    workspace: Mapped[Workspace] = relationship()


class Invitation(db.Model):
    """An invitation to join a workspace: the mailed link carries `id`; `accepted_at` makes it single-use."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    invited_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    accepted_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class AuditEntry(db.Model):
    """One change in a workspace and who made it, written in the change's own transaction."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_workspace", "workspace_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[dict] = mapped_column(JSON)  # {"type": "member", "email"} | key | cli | schedule
    action: Mapped[str] = mapped_column(String(32))  # code.created, member.removed, ...
    object_type: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class ApiKey(db.Model):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    # The person who made it: their removal from the workspace revokes it, and it never acts
    # above their role (openqr.auth.roles).
    created_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="admin", server_default="admin")
    name: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    workspace: Mapped[Workspace] = relationship()


class Folder(db.Model):
    __tablename__ = "folders"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Code(db.Model):
    __tablename__ = "codes"
    __table_args__ = (Index("ix_codes_workspace_created", "workspace_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(48), unique=True)
    destination: Mapped[str] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(String(200))
    folder_id: Mapped[str | None] = mapped_column(ForeignKey("folders.id", ondelete="SET NULL"), index=True)
    style: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Set by database triggers on every change: the link change feed (openqr.redirect.links).
    version: Mapped[int] = mapped_column(BigInteger, server_default="0", index=True)
    # Smart destinations (rules, split, schedule, expires_at, max_scans, fallback_url, utm) as
    # openqr.codes.smart cleans them; None when none is used. `next_change_at` is the earliest
    # schedule entry, indexed so every process finds due entries with one cheap query.
    smart: Mapped[dict | None] = mapped_column(JSON)
    next_change_at: Mapped[dt.datetime | None] = mapped_column(index=True)

    tag_rows: Mapped[list[CodeTag]] = relationship(
        order_by="CodeTag.position", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def tags(self) -> list[str]:
        return [row.tag for row in self.tag_rows]


class CodeTag(db.Model):
    """One tag of a code; its own table so `?tag=` filters use an index."""

    __tablename__ = "code_tags"
    __table_args__ = (Index("ix_code_tags_tag", "tag", "code_id"),)

    code_id: Mapped[str] = mapped_column(ForeignKey("codes.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)


class Scan(db.Model):
    """One counted scan: nothing in it identifies a person."""

    __tablename__ = "scans"
    __table_args__ = (Index("ix_scans_code_time", "code_id", "scanned_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    code_id: Mapped[str] = mapped_column(ForeignKey("codes.id", ondelete="CASCADE"))
    scanned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    country: Mapped[str | None] = mapped_column(String(2))
    device: Mapped[str | None] = mapped_column(String(8))
    referrer: Mapped[str | None] = mapped_column(String(255))
    destination: Mapped[str | None] = mapped_column(Text)  # where the scan was sent, without utm


class ScanStream(db.Model):
    """How far each scan journal is stored: the last sequence number of its records written here.

    A record at or below it is a replay of one already stored (openqr.scans.store.store_scans).
    """

    __tablename__ = "scan_streams"

    stream: Mapped[str] = mapped_column(String(40), primary_key=True)  # a journal's name
    seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ScanDay(db.Model):
    """Scans of one code on one UTC day: analytics read these, never the raw rows."""

    __tablename__ = "scan_days"

    code_id: Mapped[str] = mapped_column(ForeignKey("codes.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(default=0)
    visitors: Mapped[int] = mapped_column(default=0, server_default="0")  # distinct visitors that day
    # Scans of the code up to the end of this day: a window's count per code is two look-ups.
    running: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class ScanDayValue(db.Model):
    """Scans of one code on one day by one value of a dimension ('' = none)."""

    __tablename__ = "scan_day_values"
    # A code's page sums each value over the window and its whole life in one pass: in this
    # order the database reads the index alone, already grouped, with no sort.
    __table_args__ = (Index("ix_scan_day_values_by_value", "code_id", "dimension", "value", "day", "n"),)

    code_id: Mapped[str] = mapped_column(ForeignKey("codes.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    dimension: Mapped[str] = mapped_column(String(8), primary_key=True)  # country|device|referrer|dest
    value: Mapped[str] = mapped_column(String(2048), primary_key=True)  # a destination URL is up to 2048
    n: Mapped[int] = mapped_column(default=0)


class ScanHour(db.Model):
    """Scans of one code in one UTC hour: time of day, and days in any zone.

    `hour` counts hours since 1970-01-01 00:00 UTC (`hour_number`): whole numbers that shift
    into any time zone with integer arithmetic in SQL."""

    __tablename__ = "scan_hours"
    __table_args__ = WITHOUT_ROWID

    code_id: Mapped[str] = mapped_column(ForeignKey("codes.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(default=0)


class WorkspaceScanDay(db.Model):
    """The sum of a workspace's `ScanDay` rows for one UTC day: the workspace view reads no per-code row."""

    __tablename__ = "workspace_scan_days"
    __table_args__ = WITHOUT_ROWID

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(default=0)
    visitors: Mapped[int] = mapped_column(default=0)


class WorkspaceScanHour(db.Model):
    """The sum of a workspace's `ScanHour` rows for one UTC hour."""

    __tablename__ = "workspace_scan_hours"
    __table_args__ = WITHOUT_ROWID

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(default=0)


class WorkspaceScanDayValue(db.Model):
    """The sum of a workspace's `ScanDayValue` rows for one day, dimension and value."""

    __tablename__ = "workspace_scan_day_values"
    __table_args__ = WITHOUT_ROWID

    # Key in this order: a window's breakdown is read in key order, grouped without sorting.
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    dimension: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(default=0)


class VisitorKey(db.Model):
    """Today's random key for counting distinct visitors; deleted when its UTC day ends."""

    __tablename__ = "visitor_keys"
    __table_args__ = WITHOUT_ROWID

    day: Mapped[dt.date] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))


class VisitorHash(db.Model):
    """A visitor seen today: HMAC(today's key, address, agent, code), deleted with the key."""

    __tablename__ = "visitor_hashes"
    __table_args__ = WITHOUT_ROWID

    day: Mapped[dt.date] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(32), primary_key=True)


class RateEvent(db.Model):
    """One rate-limited action (a create, a sign-in request), kept for the rolling window.

    `key` names what is limited: `create:<account id>`, `login-email:<address>`, ...
    """

    __tablename__ = "rate_events"
    __table_args__ = (Index("ix_rate_events_lookup", "key", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class LoginToken(db.Model):
    """A sent magic link: the signed link carries `id`; `used_at` makes it single-use."""

    __tablename__ = "login_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    used_at: Mapped[dt.datetime | None]


class DestinationChange(db.Model):
    """One change of a code's destination (creation included), and who made it."""

    __tablename__ = "destination_changes"
    __table_args__ = (Index("ix_destination_changes_code_at", "code_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_id: Mapped[str] = mapped_column(ForeignKey("codes.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    destination: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # api|dashboard|schedule|mcp|cli
    actor: Mapped[dict | None] = mapped_column(JSON)  # as the audit log names it; None before workspaces


class Webhook(db.Model):
    """An endpoint a workspace's events are POSTed to, signed with its secret."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list] = mapped_column(JSON, default=list)
    # Kept readable because every request is signed with it; shown to the owner only at creation.
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Requests to one endpoint are spaced (OPENQR_WEBHOOK_INTERVAL); the claim sets this.
    next_send_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebhookDelivery(db.Model):
    """The outbox: events waiting for (or done with) one endpoint, written with the change itself.

    A row stays `pending` until the receiver answers 2xx (`delivered`) or its retries run out
    (`failed`); `next_attempt_at` is both the back-off and the lease of a claimed row.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    events: Mapped[list] = mapped_column(JSON)
    event_count: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(16))  # scan, code.created, ..., test: what the row holds
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[dt.datetime | None]
    last_status: Mapped[int | None]  # the receiver's HTTP status, None when no answer came
    last_error: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[dt.datetime | None]


class LinkTombstone(db.Model):
    """A slug that stopped pointing to a code (deleted or renamed) at `version`.

    Written by database triggers (migration 0003), with `codes.version`: the change feed
    that every server process follows to keep its in-memory link table exact (openqr.redirect.links).
    """

    __tablename__ = "link_tombstones"

    version: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    slug: Mapped[str] = mapped_column(String(48), primary_key=True)
