"""The assistant tools through the SDK's own client, in-process: the same answers as `/v1`,
the API's errors as tool errors, and every tool that takes an `id` blind to other accounts."""

from __future__ import annotations

import base64
import io

import pytest
import zxingcpp
from mcp import Client
from PIL import Image

from openqr.assistant import schemas, tools
from openqr.assistant.server import build_server
from openqr.auth import keys
from tests.support import aio


def _calls(app, key: str, *calls: tuple[str, dict]):
    """Run tool calls in order through one client session; returns their results."""
    server = build_server(app, lambda _ctx: keys.authenticate(key))

    async def go():
        async with Client(server) as client:
            return [await client.call_tool(name, args) for name, args in calls]

    return aio.run(go)


def _call(app, key, name, args=None):
    return _calls(app, key, (name, args or {}))[0]


def test_every_tool_of_the_contract_is_listed_with_schemas_from_the_openapi_document(app, api):
    server = build_server(app, lambda _ctx: None)

    async def go():
        async with Client(server) as client:
            return (await client.list_tools()).tools

    listed = {tool.name: tool for tool in aio.run(go)}
    assert set(listed) == {tool.name for tool in tools.TOOLS}
    assert set(listed) >= {
        "create_code",
        "list_codes",
        "get_code",
        "update_code",
        "delete_code",
        "bulk_create_codes",
        "get_scans",
        "get_account_scans",
        "get_history",
        "list_folders",
        "create_folder",
        "render_qr",
    }
    document = api.client.get("/v1/openapi.json").get_json()
    create = listed["create_code"].input_schema
    assert create["required"] == ["destination"]
    assert set(create["properties"]) == set(document["components"]["schemas"]["CodeCreate"]["properties"])
    assert create["properties"]["destination"]["maxLength"] == 2048
    update = listed["update_code"].input_schema
    assert update["required"] == ["id"]
    assert set(update["properties"]) == {"id", *document["components"]["schemas"]["CodePatch"]["properties"]}
    limit = listed["list_codes"].input_schema["properties"]["limit"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 500, 200)
    assert listed["get_scans"].input_schema["properties"]["days"]["maximum"] == 365
    assert listed["render_qr"].input_schema["properties"]["format"]["enum"] == ["png", "svg", "pdf", "eps"]
    assert "required" not in listed["render_qr"].input_schema  # `id` or `data`
    assert listed["get_code"].annotations.read_only_hint is True
    assert listed["delete_code"].annotations.destructive_hint is True
    assert "$ref" not in str(listed["get_code"].output_schema)


def test_results_are_the_apis_json_for_the_same_call(app, api):
    folder = api.post("/v1/folders", json={"name": "Menus"}).get_json()
    created, listed, scans, folders = _calls(
        app,
        api.key,
        (
            "create_code",
            {"destination": "https://example.com/menu", "label": "Menu", "folder_id": folder["id"]},
        ),
        ("list_codes", {"limit": 5, "folder_id": folder["id"]}),
        ("get_scans", {"id": "placeholder", "days": 7}),
        ("list_folders", {}),
    )
    code = created.structured_content
    assert not created.is_error
    assert api.get(f"/v1/dynamic/{code['id']}").get_json() == code
    assert code["label"] == "Menu" and code["short_url"] in created.content[0].text
    assert listed.structured_content == api.get(f"/v1/dynamic?limit=5&folder_id={folder['id']}").get_json()
    assert scans.is_error and scans.structured_content["error"] == "not_found"
    assert folders.structured_content == api.get("/v1/folders").get_json()

    report = _call(app, api.key, "get_scans", {"id": code["id"], "days": 7}).structured_content
    assert report == api.get(f"/v1/dynamic/{code['id']}/scans?days=7").get_json()
    updated = _call(
        app, api.key, "update_code", {"id": code["id"], "destination": "https://example.com/menu-2"}
    )
    assert updated.structured_content["destination"] == "https://example.com/menu-2"
    assert api.get(f"/v1/dynamic/{code['id']}").get_json()["destination"] == "https://example.com/menu-2"
    history = _call(app, api.key, "get_history", {"id": code["id"]}).structured_content
    assert history == api.get(f"/v1/dynamic/{code['id']}/history").get_json()
    assert [(h["destination"], h["source"]) for h in history["history"]] == [
        ("https://example.com/menu-2", "mcp"),  # the assistant's changes are noted as its own
        ("https://example.com/menu", "mcp"),
    ]
    deleted = _call(app, api.key, "delete_code", {"id": code["id"]})
    assert deleted.structured_content == {"deleted": True}
    assert api.get(f"/v1/dynamic/{code['id']}").status_code == 404


@pytest.mark.parametrize(
    ("name", "args", "error", "field", "message"),
    [
        (
            "create_code",
            {"destination": "http://192.168.1.1/"},
            "invalid_destination",
            "destination",
            "public",
        ),
        (
            "create_code",
            {"destination": "https://example.com/", "color": "red"},
            "unknown_field",
            "color",
            None,
        ),
        ("create_code", {"label": "no destination"}, "invalid_destination", "destination", "required"),
        (
            "create_code",
            {"destination": "https://example.com/", "slug": "mcp"},
            "invalid_slug",
            "slug",
            "reserved",
        ),
        ("list_codes", {"limit": 0}, "invalid_request", "limit", "1 to 500"),
        ("list_codes", {"limit": "many"}, "invalid_request", "limit", "1 to 500"),
        ("list_codes", {"limit": True}, "invalid_request", "limit", "1 to 500"),
        ("list_codes", {"limit": "\u0663"}, "invalid_request", "limit", "1 to 500"),
        ("list_codes", {"tag": 5}, "invalid_request", "tag", "string"),
        ("get_code", {}, "invalid_request", "id", "required"),
        ("get_code", {"id": 42}, "invalid_request", "id", "required"),
        ("get_scans", {"id": "nope", "days": 7}, "not_found", None, "No such code"),
        ("bulk_create_codes", {"codes": []}, "invalid_request", "codes", "1 to 200"),
        ("create_folder", {"name": "  "}, "invalid_request", "name", "required"),
        ("render_qr", {"data": "x", "size": 10}, "invalid_parameter", "size", "64 to 4096"),
        ("render_qr", {}, "invalid_parameter", "data", "required"),
    ],
)
def test_refusals_are_tool_errors_with_the_apis_message(app, api, name, args, error, field, message):
    result = _call(app, api.key, name, args)
    assert result.is_error
    body = result.structured_content
    assert body["error"] == error
    assert body.get("field") == field
    if message:
        assert message in body["message"]
    assert body["message"] in result.content[0].text


def test_a_bad_bulk_item_lists_every_problem_like_the_api(app, api):
    body = {"codes": [{"destination": "https://example.com/a"}, {"destination": "ftp://example.com/"}]}
    result = _call(app, api.key, "bulk_create_codes", body)
    assert result.is_error
    assert result.structured_content == api.post("/v1/dynamic/bulk", json=body).get_json()
    assert "item 1:" in result.content[0].text
    assert api.get("/v1/dynamic").get_json()["codes"] == []


def test_render_qr_gives_a_png_that_decodes_to_the_codes_short_url_and_svg_as_text(app, api):
    code = api.create("https://example.com/menu")
    png, svg = _calls(
        app,
        api.key,
        ("render_qr", {"id": code["id"], "size": 256}),
        ("render_qr", {"data": "hello", "format": "svg"}),
    )
    image = next(block for block in png.content if block.type == "image")
    assert image.mime_type == "image/png"
    picture = Image.open(io.BytesIO(base64.b64decode(image.data)))
    assert picture.size == (256, 256)
    assert [barcode.text for barcode in zxingcpp.read_barcodes(picture)] == [code["short_url"]]
    assert any(block.type == "text" and block.text.startswith("<svg") for block in svg.content)


def test_the_21st_create_in_an_hour_is_a_rate_limit_error(app, api):
    results = _calls(
        app, api.key, *[("create_code", {"destination": f"https://example.com/{i}"}) for i in range(21)]
    )
    assert not any(result.is_error for result in results[:20])
    refused = results[20].structured_content
    assert results[20].is_error and refused["error"] == "rate_limited" and refused["retry_after"] > 0
    assert len(api.get("/v1/dynamic").get_json()["codes"]) == 20


def test_a_revoked_key_is_refused_at_the_next_call(app, api):
    first = _call(app, api.key, "list_folders")
    assert not first.is_error
    with app.app_context():
        keys.revoke_key(keys.find_by_prefix(api.key[:17]))
    refused = _call(app, api.key, "list_folders")
    assert refused.is_error and refused.structured_content["error"] == "unauthorized"


# Every tool that takes an `id`, with arguments that would change something if they got through.
ID_TOOLS = {
    "get_code": {},
    "update_code": {"destination": "https://evil.example/", "label": "Stolen", "slug": "stolen"},
    "delete_code": {},
    "get_scans": {"days": 7},
    "get_history": {},
    "render_qr": {"format": "png"},
}


# Every tool whose `id` is a folder's.
FOLDER_ID_TOOLS = {"delete_folder": {}}


def test_the_matrix_covers_every_tool_that_takes_an_id(app):
    taking_id = {
        item.name
        for item in schemas.listings(app.config["OPENQR_BASE_URL"])
        if "id" in item.input_schema["properties"]
    }
    assert taking_id == set(ID_TOOLS) | set(FOLDER_ID_TOOLS)


@pytest.mark.parametrize(("name", "args"), ID_TOOLS.items(), ids=list(ID_TOOLS))
def test_another_accounts_code_is_not_found_and_changes_nothing(app, api, other_api, name, args):
    code = api.create("https://example.com/mine", label="Mine")
    before = api.get(f"/v1/dynamic/{code['id']}").get_json()
    result = _call(app, other_api.key, name, {"id": code["id"], **args})
    assert result.is_error
    assert result.structured_content == {"error": "not_found", "message": "No such code."}
    assert api.get(f"/v1/dynamic/{code['id']}").get_json() == before


@pytest.mark.parametrize(("name", "args"), FOLDER_ID_TOOLS.items(), ids=list(FOLDER_ID_TOOLS))
def test_another_accounts_folder_is_not_found_and_changes_nothing(app, api, other_api, name, args):
    folder = api.post("/v1/folders", json={"name": "Mine"}).get_json()
    code = api.create("https://example.com/mine", folder_id=folder["id"])
    result = _call(app, other_api.key, name, {"id": folder["id"], **args})
    assert result.is_error
    assert result.structured_content == {"error": "not_found", "message": "No such folder."}
    assert [f["id"] for f in api.get("/v1/folders").get_json()["folders"]] == [folder["id"]]
    assert api.get(f"/v1/dynamic/{code['id']}").get_json()["folder_id"] == folder["id"]


def test_tools_without_an_id_act_on_the_callers_account_only(app, api, other_api):
    code = api.create("https://example.com/mine", label="Mine")
    folder = api.post("/v1/folders", json={"name": "Mine"}).get_json()
    listed, folders = _calls(app, other_api.key, ("list_codes", {}), ("list_folders", {}))
    assert listed.structured_content == {"codes": []}
    assert folders.structured_content == {"folders": []}
    assert code["id"] not in str(listed.content) and folder["id"] not in str(folders.content)


def test_account_scans_and_a_time_zone_are_the_apis_answers(app, api):
    code = api.create("https://example.com/menu", tags=["menu"])
    account, zoned = _calls(
        app,
        api.key,
        ("get_account_scans", {"days": 7, "tag": "menu"}),
        ("get_scans", {"id": code["id"], "days": 7, "tz": "America/Los_Angeles"}),
    )
    assert account.structured_content == api.get("/v1/scans?days=7&tag=menu").get_json()
    assert (
        zoned.structured_content
        == api.get(f"/v1/dynamic/{code['id']}/scans?days=7&tz=America/Los_Angeles").get_json()
    )
    refused = _call(app, api.key, "get_scans", {"id": code["id"], "tz": "Mars/Olympus"})
    assert refused.is_error and refused.structured_content["field"] == "tz"
