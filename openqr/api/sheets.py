"""`/v1/sheets`: print sheets, many codes on A4 or Letter pages as one PDF."""

from flask import Blueprint, g

from ..auth.roles import needs
from ..codes import sheets
from ..images import gate
from ..images import sheet as rules
from ..images.http import PRIVATE, bytes_response
from .openapi import operation
from .params import json_body

bp = Blueprint("sheets", __name__)


@bp.post("/sheets")
@needs("viewer")  # computes an image, changes nothing
@operation(
    "createSheet",
    body="SheetCreate",
    body_says="What to print (`codes`, `folder_id` or `tag`) and the layout.",
    image=PRIVATE,
    media=lambda: (rules.MEDIA_TYPE,),
    errors=(404,),
)
def create():
    """A print sheet: the codes in a grid, each in its saved style with its label under it, as a PDF.

    As many pages as the codes need; every code decodes to its short URL. Drawn through the render
    gate like every image (a sheet is one render), and kept by no cache: its codes may change.
    """
    job = sheets.read_sheet(g.workspace, json_body())
    response = bytes_response(gate.draw(g.workspace.id, job), rules.MEDIA_TYPE, PRIVATE)
    response.headers["Content-Disposition"] = 'attachment; filename="openqr-sheet.pdf"'
    return response
