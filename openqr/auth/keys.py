"""API keys: `oqr_live_<43 random chars>`, stored as a SHA-256 hash with a readable prefix."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

from sqlalchemy import bindparam, select, update

from .. import audit
from ..errors import NotFound, ValidationError
from ..extensions import db
from ..models import Account, ApiKey, Membership, Workspace, utcnow
from ..text import has_control
from . import roles
from .roles import Access

KEY_PREFIX = "oqr_live_"
KEY_SHAPE = re.compile(r"oqr_live_[A-Za-z0-9_-]{32,128}")
# last_used_at is written at most this often per key, so reads do not become writes.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


MAX_NAME_LENGTH = 100


def clean_key_name(raw: str) -> str:
    """A key's name with its spaces folded; raises ValidationError when it is empty or cannot be stored."""
    name = " ".join(raw.split())
    if not name:
        raise ValidationError(
            "Give the key a name, such as the machine or script that will use it.", field="name"
        )
    if has_control(name):
        raise ValidationError("Key names must not contain control characters.", field="name")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"Key names are at most {MAX_NAME_LENGTH} characters.", field="name")
    return name


def create_key(
    workspace: Workspace, name: str, *, role: str = "admin", created_by: Account | None = None
) -> tuple[ApiKey, str]:
    """Make a key of the workspace (its name as `clean_key_name` allows) acting with `role`; the
    plain key is returned once and never stored."""
    secret = secrets.token_urlsafe(32)
    plain = KEY_PREFIX + secret
    key = ApiKey(
        workspace_id=workspace.id,
        created_by=created_by.id if created_by is not None else None,
        role=role,
        name=clean_key_name(name),
        prefix=KEY_PREFIX + secret[:8],
        key_hash=_hash(plain),
    )
    db.session.add(key)
    db.session.flush()
    audit.record(
        workspace.id, "key.created", "key", key.id, {"prefix": key.prefix, "name": key.name, "role": role}
    )
    db.session.commit()
    return key, plain


# Every API call runs this one query (key, workspace and the maker's membership together); built
# once, not per call. A key acts with its role, never above its maker's current one.
_KEY_LOOKUP = (
    select(
        ApiKey.id,
        ApiKey.key_hash,
        ApiKey.revoked_at,
        ApiKey.last_used_at,
        ApiKey.role,
        ApiKey.created_by,
        ApiKey.prefix,
        ApiKey.name,
        Workspace,
        Membership.role.label("maker_role"),
        Account,
    )
    .join(Workspace, ApiKey.workspace_id == Workspace.id)
    .outerjoin(
        Membership,
        (Membership.workspace_id == ApiKey.workspace_id) & (Membership.account_id == ApiKey.created_by),
    )
    .outerjoin(Account, Account.id == ApiKey.created_by)
    .where(ApiKey.key_hash == bindparam("digest"))
)


def authenticate(plain: str) -> Access | None:
    """How a live key acts (its workspace, its role), or None. Marks the key as used."""
    if not KEY_SHAPE.fullmatch(plain):
        return None
    digest = _hash(plain)
    row = db.session.execute(_KEY_LOOKUP, {"digest": digest}).first()
    # The look-up is by hash, so timing says nothing about the key; compare anyway, in constant time.
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, digest):
        return None
    role = row.role
    if row.created_by is not None:
        if row.maker_role is None:  # its maker left the workspace: the key went with them
            return None
        role = roles.lower(role, row.maker_role)
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        db.session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
        db.session.commit()
    return Access(row.Workspace, role, audit.key_actor(row.prefix, row.name), account=row.Account)


# What a request without a live key is told, by /v1 and /mcp alike (401 with this challenge).
UNAUTHORIZED_MESSAGE = "Send a valid API key as 'Authorization: Bearer oqr_live_...'."
CHALLENGE = 'Bearer realm="openqr"'


def access_for_authorization(header: str) -> Access | None:
    """How an `Authorization: Bearer oqr_live_...` header's live key acts, or None."""
    scheme, _, token = header.partition(" ")
    return authenticate(token.strip()) if scheme.lower() == "bearer" else None


def list_keys(workspace: Workspace) -> list[ApiKey]:
    return list(
        db.session.execute(
            select(ApiKey)
            .where(ApiKey.workspace_id == workspace.id)
            .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
        ).scalars()
    )


def owned_key(workspace: Workspace, key_id: int) -> ApiKey:
    """One of the workspace's keys; another workspace's key is as absent as a missing one."""
    key = db.session.get(ApiKey, key_id)
    if key is None or key.workspace_id != workspace.id:
        raise NotFound("No such key.")
    return key


def revoke_key(key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(key.workspace_id, "key.revoked", "key", key.id, {"prefix": key.prefix, "name": key.name})
        db.session.commit()


def find_by_prefix(prefix: str) -> ApiKey | None:
    return db.session.execute(select(ApiKey).where(ApiKey.prefix == prefix)).scalar_one_or_none()
