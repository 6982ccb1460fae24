"""Workspaces and the people in them: who belongs where, with which role."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import audit
from ..errors import NotFound
from ..extensions import db
from ..models import Account, Membership, Workspace
from .roles import Access


def create_workspace(account: Account) -> Workspace:
    """A new workspace named by the account's address, with it as the owner (flushed, not committed)."""
    workspace = Workspace(name=account.email)
    db.session.add(workspace)
    db.session.flush()
    db.session.add(Membership(workspace_id=workspace.id, account_id=account.id, role="owner"))
    db.session.flush()
    return workspace


def memberships_of(account: Account) -> list[Membership]:
    """The account's memberships, the workspace it joined first first (its default)."""
    return list(
        db.session.execute(
            select(Membership)
            .options(joinedload(Membership.workspace))
            .where(Membership.account_id == account.id)
            .order_by(Membership.joined_at, Membership.id)
        ).scalars()
    )


def membership(account_id: int, workspace_id: int) -> Membership | None:
    return db.session.execute(
        select(Membership)
        .options(joinedload(Membership.workspace))
        .where(Membership.account_id == account_id, Membership.workspace_id == workspace_id)
    ).scalar_one_or_none()


def member_access(account: Account, workspace_id: int | None) -> Access | None:
    """How `account` acts in `workspace_id` (None: its first workspace); None when it is in none."""
    found = membership(account.id, workspace_id) if workspace_id is not None else None
    if found is None:
        mine = memberships_of(account)
        if not mine:
            return None
        found = mine[0]
    return Access(found.workspace, found.role, audit.member_actor(account.email), account=account)


def first_workspace(account: Account) -> Workspace:
    """The workspace the account joined first (its own, for everyone who signed up)."""
    mine = memberships_of(account)
    if not mine:
        raise NotFound(f"{account.email} is not a member of any workspace.")
    return mine[0].workspace
