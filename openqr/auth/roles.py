"""Who may do what in a workspace: the four roles, and the one check every entry point calls.

A request acts through an `Access`: the workspace, the role it acts with and the actor the audit
log names. The `/v1` API, the dashboard, the MCP tools and the CLI build one and ask
`require(access, role)`; a view says which role it needs with `@needs(role)`, and a view that
says nothing needs `viewer` to read (GET, HEAD) and `editor` to change anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ..errors import DomainError, NotFound
from ..models import (
    ROLES,
    Account,
    ApiKey,
    Code,
    Folder,
    Invitation,
    Membership,
    Webhook,
    Workspace,
    find_owned,
)

RANK = {role: rank for rank, role in enumerate(ROLES)}
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# What each role may do, as a refusal tells it (the 403's message, the dashboard's note).
MAY = {
    "viewer": "A viewer may read codes, analytics, history, images and exports, and change nothing.",
    "editor": "An editor may create, change and delete codes and folders, but not manage webhooks, "
    "API keys, invitations or members.",
    "admin": "An admin may manage codes, webhooks, API keys, invitations and members up to admin, but "
    "not rename the workspace or make or remove owners.",
    "owner": "An owner may do everything in the workspace.",
}


class Forbidden(DomainError):
    """What the role may not do: the one 403 of the API, for an object the caller can see."""

    status = 403
    code = "forbidden"


@dataclass(frozen=True)
class Access:
    """A workspace as one request (or command) acts in it."""

    workspace: Workspace
    role: str
    actor: dict  # as the audit log names it: {"type": "member", "email"}, {"type": "key", ...}, ...
    account: Account | None = None  # the person: the member, or the key's maker
    key: ApiKey | None = None

    @property
    def workspace_id(self) -> int:
        return self.workspace.id

    def may(self, role: str) -> bool:
        return at_least(self.role, role)


def at_least(role: str, needed: str) -> bool:
    return RANK[role] >= RANK[needed]


def lower(a: str, b: str) -> str:
    """The lower of two roles (a key never acts above the person who made it)."""
    return a if RANK[a] <= RANK[b] else b


def require(access: Access, needed: str) -> None:
    """Raise Forbidden, saying what the role may do, unless `access` acts with `needed` or above."""
    if not access.may(needed):
        raise Forbidden(MAY[access.role])


# The objects a route names in its path, by the argument's name: one of another workspace is a
# 404 whatever the role, so a refusal never tells that an id exists elsewhere.
PATH_OBJECTS: dict[str, tuple[type, str]] = {
    "code_id": (Code, "No such code."),
    "folder_id": (Folder, "No such folder."),
    "webhook_id": (Webhook, "No such webhook."),
    "key_id": (ApiKey, "No such key."),
    "member_id": (Membership, "No such member."),
    "invitation_id": (Invitation, "No such invitation."),
}


def require_for_request(access: Access, needed: str, path_args: dict | None) -> None:
    """`require`, but an object in the path that is not the workspace's is a 404 first."""
    if access.may(needed):
        return
    for name, value in (path_args or {}).items():
        known = PATH_OBJECTS.get(name)
        if (
            known is not None
            and value is not None
            and find_owned(known[0], access.workspace_id, value) is None
        ):
            raise NotFound(known[1])
    raise Forbidden(MAY[access.role])


F = TypeVar("F", bound=Callable)


def needs(role: str) -> Callable[[F], F]:
    """Mark a view (API or dashboard) with the role it needs, whatever its method."""
    if role not in RANK:
        raise ValueError(role)

    def mark(view: F) -> F:
        view.required_role = role  # type: ignore[attr-defined]
        return view

    return mark


def required_role(view: Callable | None, method: str) -> str:
    """The role a request to `view` with `method` needs: its mark, else by what the method does."""
    marked = getattr(view, "required_role", None)
    if marked:
        return marked
    return "viewer" if method in READ_METHODS else "editor"
