"""`/v1/folders`: list, create, rename, delete."""

from flask import Blueprint, g

from ..codes import folders
from .openapi import operation
from .params import json_body

bp = Blueprint("folders", __name__)


@bp.get("/folders")
@operation("listFolders", "FolderList", "The folders.")
def list_():
    """The workspace's folders by name, with their code counts."""
    return {"folders": [folders.folder_json(f, n) for f, n in folders.list_folders(g.workspace)]}


@bp.post("/folders")
@operation(
    "createFolder", "Folder", "Created.", status=201, body="FolderName", body_says="The folder's name."
)
def create():
    """Create a folder."""
    return folders.folder_json(folders.create_folder(g.workspace, json_body())), 201


@bp.patch("/folders/<folder_id>")
@operation("renameFolder", "Folder", "Renamed.", body="FolderName", body_says="The new name.")
def rename(folder_id):
    """Rename a folder."""
    return folders.folder_json(folders.rename_folder(g.workspace, folder_id, json_body()))


@bp.delete("/folders/<folder_id>")
@operation("deleteFolder", "Deleted")
def delete(folder_id):
    """Delete a folder; its codes become un-filed."""
    folders.delete_folder(g.workspace, folder_id)
    return {"deleted": True}
