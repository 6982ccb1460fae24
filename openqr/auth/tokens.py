"""Sign-in links: an itsdangerous-signed LoginToken id, valid 15 minutes, usable once."""

from __future__ import annotations

import datetime as dt
import secrets

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, select, update

from ..extensions import db
from ..models import LoginToken, utcnow

MAX_AGE = 15 * 60
SALT = "openqr.login"


class BadLink(Exception):
    """The link is forged, expired or already used; str(err) says which for the person."""


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _prune() -> None:
    """Forget links that can no longer work (older than MAX_AGE), a batch at a time.

    SKIP LOCKED: two sign-ins pruning at once each take other rows, never wait for each other.
    """
    expired = (
        select(LoginToken.id)
        .where(LoginToken.created_at <= utcnow() - dt.timedelta(seconds=MAX_AGE))
        .limit(100)
        .with_for_update(skip_locked=True)
    )
    db.session.execute(delete(LoginToken).where(LoginToken.id.in_(expired)))


def issue(email: str) -> str:
    """Store a LoginToken for `email` and return the signed string for its link."""
    _prune()
    row = LoginToken(id=secrets.token_urlsafe(24), email=email)
    db.session.add(row)
    db.session.commit()
    return _serializer().dumps(row.id)


def peek(signed: str) -> LoginToken:
    """The unused token a link carries, without using it; raises BadLink."""
    try:
        token_id = _serializer().loads(signed, max_age=MAX_AGE)
    except SignatureExpired:
        raise BadLink(f"This sign-in link has expired: links work for {MAX_AGE // 60} minutes.") from None
    except BadSignature:
        raise BadLink("This sign-in link is not valid. Copy the whole link from the email.") from None
    row = db.session.get(LoginToken, token_id) if isinstance(token_id, str) else None
    if row is None:
        raise BadLink("This sign-in link is not valid. Copy the whole link from the email.")
    if row.used_at is not None:
        raise BadLink("This sign-in link was already used: each link works once.")
    return row


def use(signed: str) -> str:
    """Mark the link's token used and return its email; raises BadLink. Safe against double clicks."""
    row = peek(signed)
    # Conditional update: of two concurrent uses, exactly one changes the row.
    result = db.session.execute(
        update(LoginToken)
        .where(LoginToken.id == row.id, LoginToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise BadLink("This sign-in link was already used: each link works once.")
    return row.email
