"""Workspaces and the people in them: who belongs where, with which role."""

from __future__ import annotations

from sqlalchemy import select

from .. import audit
from ..errors import NotFound, ValidationError
from ..extensions import db
from ..models import Account, Membership, Workspace
from ..text import has_control
from .roles import Access, require

MAX_NAME_LENGTH = 100


def clean_name(raw: object) -> str:
    """A workspace's name with its spaces folded; raises ValidationError naming `name`."""
    if not isinstance(raw, str) or not " ".join(raw.split()):
        raise ValidationError("Give the workspace a name, such as the business's.", field="name")
    name = " ".join(raw.split())
    if has_control(name):
        raise ValidationError("Workspace names must not contain control characters.", field="name")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"Workspace names are at most {MAX_NAME_LENGTH} characters.", field="name")
    return name


def create_workspace(account: Account, name: str | None = None) -> Workspace:
    """A new workspace with `account` as its owner (flushed, not committed)."""
    workspace = Workspace(name=clean_name(name) if name is not None else account.email)
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
            .where(Membership.account_id == account.id)
            .order_by(Membership.joined_at, Membership.id)
        ).scalars()
    )


def membership(account_id: int, workspace_id: int) -> Membership | None:
    return db.session.execute(
        select(Membership).where(Membership.account_id == account_id, Membership.workspace_id == workspace_id)
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


def workspace_json(workspace: Workspace, role: str) -> dict:
    return {"id": workspace.id, "name": workspace.name, "role": role}


def rename_workspace(access: Access, data: object) -> Workspace:
    """Rename the workspace (owners only)."""
    require(access, "owner")
    if not isinstance(data, dict):
        raise ValidationError('Send a JSON object such as {"name": "Café Lumière"}.')
    name = clean_name(data.get("name"))
    workspace = access.workspace
    if name != workspace.name:
        audit.record(
            workspace.id, "workspace.renamed", "workspace", workspace.id, {"from": workspace.name, "to": name}
        )
        workspace.name = name
    db.session.commit()
    return workspace


def get_workspace(workspace_id: int) -> Workspace:
    workspace = db.session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("No such workspace.")
    return workspace


def first_workspace(account: Account) -> Workspace:
    """The workspace the account joined first (its own, for everyone who signed up)."""
    mine = memberships_of(account)
    if not mine:
        raise NotFound(f"{account.email} is not a member of any workspace.")
    return mine[0].workspace
