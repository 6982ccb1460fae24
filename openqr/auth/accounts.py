"""The rules of an account: which addresses may sign in, sign-in limits, sessions."""

from __future__ import annotations

import fnmatch
import re

from flask import current_app
from sqlalchemy import select

from ..errors import DomainError, RateLimited
from ..extensions import db
from ..models import Account
from ..ops import ratelimit
from ..text import CONTROL_CLASS
from . import workspaces

MAX_EMAIL_LENGTH = 254
# One address, no spaces or control characters: enough to send a link, strict enough for a log line.
_EMAIL = re.compile(f"[^@\\s{CONTROL_CLASS}]+@[^@\\s{CONTROL_CLASS}]+\\.[^@\\s{CONTROL_CLASS}]+")


class NotAllowed(DomainError):
    status = 403
    code = "not_allowed"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def clean_email(raw: str) -> str | None:
    """The address in its stored form (trimmed, lower case), or None when it is not one."""
    email = normalise_email(raw)
    return email if len(email) <= MAX_EMAIL_LENGTH and _EMAIL.fullmatch(email) else None


def find_account(email: str) -> Account | None:
    return db.session.execute(
        select(Account).where(Account.email == normalise_email(email))
    ).scalar_one_or_none()


def get_or_create_account(email: str, *, personal: bool = True) -> Account:
    """The account of `email`, made (and flushed, not committed) when there is none; a new
    account owns a workspace of its own unless `personal` is False (an invitee joins another)."""
    account = find_account(email)
    if account is None:
        account = Account(email=normalise_email(email))
        db.session.add(account)
        db.session.flush()
        if personal:
            workspaces.create_workspace(account)
    return account


def create_account(email: str) -> Account:
    """Make (or keep) the account of `email` so it may sign in even when sign-ups are closed."""
    account = get_or_create_account(email)
    db.session.commit()
    return account


def may_sign_in(email: str) -> bool:
    """Whether the address patterns (OPENQR_ALLOWED_EMAILS) and sign-up policy let `email` in."""
    config = current_app.config
    patterns = config.get("OPENQR_ALLOWED_EMAILS") or ()
    if patterns and not any(fnmatch.fnmatchcase(email, pattern) for pattern in patterns):
        return False
    if config.get("OPENQR_SIGNUPS") == "closed":
        return find_account(email) is not None
    return True


def count_sign_in_request(email: str, client: str) -> None:
    """Count one request for a sign-in link against the per-client and per-address hourly limits
    (shared by every process through the database); raises RateLimited, counting nothing."""
    config = current_app.config
    try:
        ratelimit.consume("login-ip:" + client, config["OPENQR_LOGIN_LIMIT_PER_CLIENT"])
        ratelimit.consume("login-email:" + email, config["OPENQR_LOGIN_LIMIT_PER_EMAIL"])
    except RateLimited:
        db.session.rollback()
        raise
    db.session.commit()


def sign_in(email: str) -> Account:
    """The account a used sign-in link opens (made at first sign-in); raises NotAllowed.

    Commits the current transaction (the link's use with it) only when the address may sign in.
    """
    if not may_sign_in(email):
        db.session.rollback()
        raise NotAllowed("This address may not sign in here.")
    account = get_or_create_account(email)
    db.session.commit()
    return account


def account_of_session(value: str) -> Account | None:
    """The account of a session cookie, if its session version is still current."""
    account_id, _, version = value.partition(":")
    if not account_id.isdigit() or not version.isdigit():
        return None
    account = db.session.get(Account, int(account_id))
    if account is None or account.session_version != int(version):
        return None
    return account


def end_sessions(account_id: int) -> None:
    """Sign out everywhere: bumping the session version voids every earlier session cookie."""
    account = db.session.get(Account, account_id)
    if account is not None:
        account.session_version += 1
        db.session.commit()
