"""The tools an assistant may call: each a thin wrapper over the function its `/v1` route calls.

A tool names the `/v1` operation(s) it mirrors; its arguments are that operation's parameters
and body fields (schemas.py reads them from the OpenAPI document), passed on to the same domain
function, so a field the API gains reaches the tool with no new code. Its result is the API's
JSON for the same call; a refusal is the API's error (`DomainError`). Nothing in this package
but server.py and http.py imports the MCP SDK.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..api import codes as api_codes
from ..api import scans as api_scans
from ..codes import core as codes
from ..codes import folders
from ..errors import ValidationError
from ..images import gate, payloads
from ..images import render as qr
from ..images.http import image_params
from ..models import Workspace
from . import texts

SOURCE = "mcp"  # who changed a destination, as a code's history records the tools' changes


@dataclass(frozen=True)
class Image:
    """A rendered QR image: PNG bytes or SVG text."""

    data: bytes
    media_type: str
    description: str


@dataclass(frozen=True)
class Tool:
    """One tool: its name, the `/v1` operation(s) it mirrors, what it runs, how it reads as text."""

    name: str
    method: str
    paths: tuple[str, ...]  # OpenAPI paths; `{code_id}` becomes the argument `id`
    run: Callable[[Workspace, dict], dict | Image]
    text: Callable[[dict], str] | None = None  # None: the JSON itself
    description: str | None = None  # None: the operation's summary
    read_only: bool | None = None  # None: a GET is read-only (a POST may only compute, like generate_qr)


def _id(args: dict, what: str = "code", listed_by: str = "list_codes") -> tuple[str, dict]:
    """The `id` argument (a code's id, or a folder's) and the other arguments."""
    rest = {name: value for name, value in args.items() if name != "id"}
    object_id = args.get("id")
    if not isinstance(object_id, str) or not object_id:
        raise ValidationError(f"'id' is required: the {what}'s id, as {listed_by} shows it.", field="id")
    return object_id, rest


def _create_code(workspace: Workspace, args: dict) -> dict:
    code, _budget = codes.create_code(workspace, args, source=SOURCE)
    return codes.code_json(code)


def _get_code(workspace: Workspace, args: dict) -> dict:
    return codes.code_json(codes.get_code(workspace, _id(args)[0]))


def _update_code(workspace: Workspace, args: dict) -> dict:
    code_id, fields = _id(args)
    return codes.code_json(codes.update_code(workspace, code_id, fields, source=SOURCE))


def _delete_code(workspace: Workspace, args: dict) -> dict:
    codes.delete_code(workspace, _id(args)[0])
    return {"deleted": True}


def _bulk_create(workspace: Workspace, args: dict) -> dict:
    return {"codes": [codes.code_json(code) for code in codes.bulk_create(workspace, args, source=SOURCE)]}


def _get_history(workspace: Workspace, args: dict) -> dict:
    return {"history": codes.history(workspace, _id(args)[0])}


def _get_scans(workspace: Workspace, args: dict) -> dict:
    return api_codes.scan_report(workspace, *_id(args))


def _list_folders(workspace: Workspace, args: dict) -> dict:
    return {"folders": [folders.folder_json(f, n) for f, n in folders.list_folders(workspace)]}


def _create_folder(workspace: Workspace, args: dict) -> dict:
    return folders.folder_json(folders.create_folder(workspace, args))


def _delete_folder(workspace: Workspace, args: dict) -> dict:
    folders.delete_folder(workspace, _id(args, "folder", "list_folders")[0])
    return {"deleted": True}


def _image(workspace: Workspace, params: qr.QrParams) -> Image:
    """The image drawn for `workspace` through the render gate, as render_qr and generate_qr answer."""
    size = f"{params.size_mm} mm wide" if params.size_mm else f"{params.size} px wide"
    what = f"{params.format.upper()} QR code, {size}, encoding {params.data}"
    return Image(gate.render(workspace.id, params), qr.media_type(params.format), what)


def _render_qr(workspace: Workspace, args: dict) -> Image:
    if "id" in args:
        code_id, rest = _id(args)
        return _image(workspace, codes.code_image_params(codes.get_code(workspace, code_id), rest))
    return _image(workspace, image_params(args))


def _generate_qr(workspace: Workspace, args: dict) -> Image:
    return _image(workspace, payloads.static_image(args))


TOOLS: tuple[Tool, ...] = (
    Tool("create_code", "post", ("/v1/dynamic",), _create_code, texts.code_line),
    Tool("list_codes", "get", ("/v1/dynamic",), api_codes.code_list, texts.codes_text),
    Tool("get_code", "get", ("/v1/dynamic/{code_id}",), _get_code, texts.code_line),
    Tool("update_code", "patch", ("/v1/dynamic/{code_id}",), _update_code, texts.code_line),
    Tool("delete_code", "delete", ("/v1/dynamic/{code_id}",), _delete_code, texts.deleted),
    Tool("bulk_create_codes", "post", ("/v1/dynamic/bulk",), _bulk_create, texts.codes_text),
    Tool("get_scans", "get", ("/v1/dynamic/{code_id}/scans",), _get_scans, texts.scans_text),
    Tool("get_account_scans", "get", ("/v1/scans",), api_scans.workspace_report, texts.account_scans_text),
    Tool("get_history", "get", ("/v1/dynamic/{code_id}/history",), _get_history, texts.history_text),
    Tool("list_folders", "get", ("/v1/folders",), _list_folders, texts.folders_text),
    Tool("create_folder", "post", ("/v1/folders",), _create_folder, texts.folder_line),
    Tool("delete_folder", "delete", ("/v1/folders/{folder_id}",), _delete_folder, texts.deleted),
    Tool(
        "render_qr",
        "get",
        ("/v1/qr", "/v1/dynamic/{code_id}/qr"),
        _render_qr,
        description="A QR image of one of your codes (`id`: its short URL, in its saved style unless "
        "overridden here) or of any text (`data`); give one of the two. A PNG comes back as an image, "
        "an SVG or EPS as text, a PDF as an embedded resource.",
    ),
    Tool(
        "generate_qr",
        "post",
        ("/v1/qr",),
        _generate_qr,
        read_only=True,
        description="A static QR code: nothing is stored and no scan is counted. Give `data` (any text "
        "or URL), or `type` and that type's fields (the `type` argument lists them: Wi-Fi, contact card, "
        "email, SMS, WhatsApp, location...). A PNG comes back as an image, an SVG or EPS as text, a PDF "
        "as an embedded resource. For a code whose destination can change after printing, use "
        "create_code instead.",
    ),
)
BY_NAME = {tool.name: tool for tool in TOOLS}
