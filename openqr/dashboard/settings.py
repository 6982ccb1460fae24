"""Folders (create, rename, delete) and API keys (create, shown once; revoke)."""

from __future__ import annotations

from flask import g, request

from ..auth import keys
from ..auth.roles import lower, needs
from ..codes import folders
from ..errors import DomainError, NotFound
from ..web.htmx import page_or_block
from .base import bp


def _folders_page(status: int = 200, block: str = "folders", **context):
    base = {"folders": folders.list_folders(g.workspace), "errors": {}, "form": {}, "renamed": None}
    return page_or_block("dashboard/folders.html", block, status=status, **{**base, **context})


@bp.get("/folders")
def folders_page():
    """Your folders, each with how many codes it holds."""
    return _folders_page()


@bp.post("/folders")
def folder_create():
    """Create a folder; a bad name is explained beside the field."""
    try:
        folders.create_folder(g.workspace, {"name": request.form.get("name", "")})
    except DomainError as err:
        return _folders_page(err.status, errors={"new": err.message}, form=request.form.to_dict())
    return _folders_page()


@bp.post("/folders/<folder_id>/rename")
def folder_rename(folder_id: str):
    """Rename in place."""
    try:
        folders.rename_folder(g.workspace, folder_id, {"name": request.form.get("name", "")})
    except NotFound:
        raise
    except DomainError as err:
        return _folders_page(err.status, errors={folder_id: err.message})
    return _folders_page(renamed=folder_id)


@bp.post("/folders/<folder_id>/delete")
def folder_delete(folder_id: str):
    """Delete a folder; its codes stay, un-filed."""
    folders.delete_folder(g.workspace, folder_id)
    return _folders_page()


def _keys_page(status: int = 200, **context):
    base = {"keys": keys.list_keys(g.workspace), "new_key": None, "new_plain": None, "error": None}
    return page_or_block("dashboard/keys.html", "keys", status=status, **{**base, **context})


@bp.get("/keys")
@needs("admin")
def keys_page():
    """Your API keys: prefix, created, last used."""
    return _keys_page()


@bp.post("/keys")
@needs("admin")
def key_create():
    """Make a key and show it this once."""
    try:
        key, plain = keys.create_key(
            g.workspace,
            request.form.get("name", ""),
            role=lower("admin", g.access.role),
            created_by=g.access.account,
        )
    except DomainError as err:
        return _keys_page(err.status, error=err.message)
    return _keys_page(201, new_key=key, new_plain=plain)


@bp.post("/keys/<int:key_id>/revoke")
@needs("admin")
def key_revoke(key_id: int):
    """Revoke a key: API calls with it get 401 from now on."""
    keys.revoke_key(keys.owned_key(g.workspace, key_id))
    return _keys_page()
