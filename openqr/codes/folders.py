"""The rules of folders: a name, an owner; deleting one un-files its codes."""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy import func, select, update

from .. import audit
from ..errors import NotFound, ValidationError, rolls_back
from ..extensions import db
from ..models import Code, Folder, Workspace, find_owned
from ..text import closed, has_control, iso_z, timestamp_schema

MAX_NAME_LENGTH = 100
VISIBLE = re.compile(r"\S")  # a name holds something besides white space


def clean_name(data: object) -> str:
    if not isinstance(data, Mapping) or set(data) != {"name"}:
        raise ValidationError('The body must be {"name": "..."}.', field="name")
    name = data["name"]
    if not isinstance(name, str) or not VISIBLE.search(name):
        raise ValidationError("Folder name is required.", field="name")
    name = " ".join(name.split())
    if has_control(name):
        raise ValidationError("Folder name must not contain control characters.", field="name")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"Folder name must be at most {MAX_NAME_LENGTH} characters.", field="name")
    return name


def list_folders(workspace: Workspace) -> list[tuple[Folder, int]]:
    """The workspace's folders by name, each with how many codes it holds."""
    counts = (
        select(Code.folder_id, func.count().label("n"))
        .where(Code.workspace_id == workspace.id)
        .group_by(Code.folder_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Folder, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.folder_id == Folder.id)
        .where(Folder.workspace_id == workspace.id)
        .order_by(func.lower(Folder.name), Folder.id)
    ).all()
    return [(folder, n) for folder, n in rows]


def get_folder(workspace: Workspace, folder_id: str) -> Folder:
    folder = find_owned(Folder, workspace.id, folder_id)
    if folder is None:
        raise NotFound("No such folder.")
    return folder


@rolls_back
def create_folder(workspace: Workspace, data: object) -> Folder:
    folder = Folder(workspace_id=workspace.id, name=clean_name(data))
    db.session.add(folder)
    db.session.flush()
    audit.record(workspace.id, "folder.created", "folder", folder.id, {"name": folder.name})
    db.session.commit()
    return folder


@rolls_back
def rename_folder(workspace: Workspace, folder_id: str, data: object) -> Folder:
    folder = get_folder(workspace, folder_id)
    name = clean_name(data)
    audit.record(workspace.id, "folder.renamed", "folder", folder.id, {"from": folder.name, "to": name})
    folder.name = name
    db.session.commit()
    return folder


def delete_folder(workspace: Workspace, folder_id: str) -> None:
    folder = get_folder(workspace, folder_id)
    # Explicit un-filing: SQLite enforces ON DELETE SET NULL only with foreign keys on.
    db.session.execute(update(Code).where(Code.folder_id == folder.id).values(folder_id=None))
    audit.record(workspace.id, "folder.deleted", "folder", folder.id, {"name": folder.name})
    db.session.delete(folder)
    db.session.commit()


def folder_json(folder: Folder, code_count: int | None = None) -> dict:
    body = {
        "id": folder.id,
        "name": folder.name,
        "created_at": iso_z(folder.created_at),
    }
    if code_count is not None:
        body["code_count"] = code_count
    return body


def name_schema() -> dict:
    """The body `clean_name` takes."""
    name = {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_NAME_LENGTH,
        "pattern": VISIBLE.pattern,
        "description": "Whitespace is collapsed; blank is a 400.",
    }
    return closed({"name": name})


def folder_schema() -> dict:
    """A folder as `folder_json` writes it (`code_count` where the caller counted)."""
    fields = {
        "id": {"type": "string"},
        "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH},
        "created_at": timestamp_schema(),
        "code_count": {"type": "integer", "minimum": 0},
    }
    return closed(fields, ["id", "name", "created_at"])
