"""Folders (create, rename, delete) and API keys (create, shown once; revoke)."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from ..auth import keys
from ..codes import folders
from ..errors import DomainError, NotFound
from ..web.htmx import page_or_block
from .base import bp


def _folders_page(status: int = 200, block: str = "folders", **context):
    base = {"folders": folders.list_folders(current_user), "errors": {}, "form": {}, "renamed": None}
    return page_or_block("dashboard/folders.html", block, status=status, **{**base, **context})


@bp.get("/folders")
def folders_page():
    """Your folders, each with how many codes it holds."""
    return _folders_page()


@bp.post("/folders")
def folder_create():
    """Create a folder; a bad name is explained beside the field."""
    try:
        folders.create_folder(current_user, {"name": request.form.get("name", "")})
    except DomainError as err:
        return _folders_page(err.status, errors={"new": err.message}, form=request.form.to_dict())
    return _folders_page()


@bp.post("/folders/<folder_id>/rename")
def folder_rename(folder_id: str):
    """Rename in place."""
    try:
        folders.rename_folder(current_user, folder_id, {"name": request.form.get("name", "")})
    except NotFound:
        raise
    except DomainError as err:
        return _folders_page(err.status, errors={folder_id: err.message})
    return _folders_page(renamed=folder_id)


@bp.post("/folders/<folder_id>/delete")
def folder_delete(folder_id: str):
    """Delete a folder; its codes stay, un-filed."""
    folders.delete_folder(current_user, folder_id)
    return _folders_page()


def _keys_page(status: int = 200, **context):
    base = {"keys": keys.list_keys(current_user), "new_key": None, "new_plain": None, "error": None}
    return page_or_block("dashboard/keys.html", "keys", status=status, **{**base, **context})


@bp.get("/keys")
def keys_page():
    """Your API keys: prefix, created, last used."""
    return _keys_page()


@bp.post("/keys")
def key_create():
    """Make a key and show it this once."""
    try:
        key, plain = keys.create_key(current_user, request.form.get("name", ""))
    except DomainError as err:
        return _keys_page(err.status, error=err.message)
    return _keys_page(201, new_key=key, new_plain=plain)


@bp.post("/keys/<int:key_id>/revoke")
def key_revoke(key_id: int):
    """Revoke a key: API calls with it get 401 from now on."""
    keys.revoke_key(keys.owned_key(current_user, key_id))
    return _keys_page()
