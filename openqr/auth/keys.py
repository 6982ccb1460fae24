"""API keys: `oqr_live_<43 random chars>`, stored as a SHA-256 hash with a readable prefix."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

from sqlalchemy import bindparam, select, update

from ..errors import NotFound, ValidationError
from ..extensions import db
from ..models import Account, ApiKey, utcnow
from ..text import has_control

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


def create_key(account: Account, name: str) -> tuple[ApiKey, str]:
    """Make a key for the account (its name as `clean_key_name` allows); the plain key is
    returned once and never stored."""
    secret = secrets.token_urlsafe(32)
    plain = KEY_PREFIX + secret
    key = ApiKey(
        account_id=account.id,
        name=clean_key_name(name),
        prefix=KEY_PREFIX + secret[:8],
        key_hash=_hash(plain),
    )
    db.session.add(key)
    db.session.commit()
    return key, plain


# Every API call runs this one query (key and account together); built once, not per call.
_KEY_LOOKUP = (
    select(Account, ApiKey.id, ApiKey.key_hash, ApiKey.revoked_at, ApiKey.last_used_at)
    .join(ApiKey, ApiKey.account_id == Account.id)
    .where(ApiKey.key_hash == bindparam("digest"))
)


def authenticate(plain: str) -> Account | None:
    """The account of a live key, or None. Marks the key as used."""
    if not KEY_SHAPE.fullmatch(plain):
        return None
    digest = _hash(plain)
    row = db.session.execute(_KEY_LOOKUP, {"digest": digest}).first()
    # The look-up is by hash, so timing says nothing about the key; compare anyway, in constant time.
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, digest):
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        db.session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
        db.session.commit()
    return row.Account


# What a request without a live key is told, by /v1 and /mcp alike (401 with this challenge).
UNAUTHORIZED_MESSAGE = "Send a valid API key as 'Authorization: Bearer oqr_live_...'."
CHALLENGE = 'Bearer realm="openqr"'


def account_for_authorization(header: str) -> Account | None:
    """The account of an `Authorization: Bearer oqr_live_...` header's live key, or None."""
    scheme, _, token = header.partition(" ")
    return authenticate(token.strip()) if scheme.lower() == "bearer" else None


def list_keys(account: Account) -> list[ApiKey]:
    return list(
        db.session.execute(
            select(ApiKey)
            .where(ApiKey.account_id == account.id)
            .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
        ).scalars()
    )


def owned_key(account: Account, key_id: int) -> ApiKey:
    """One of the account's keys; another account's key is as absent as a missing one."""
    key = db.session.get(ApiKey, key_id)
    if key is None or key.account_id != account.id:
        raise NotFound("No such key.")
    return key


def revoke_key(key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.session.commit()


def find_by_prefix(prefix: str) -> ApiKey | None:
    return db.session.execute(select(ApiKey).where(ApiKey.prefix == prefix)).scalar_one_or_none()
