"""The hosted server's tools we add (`generate_qr`, `delete_folder`) and its four prompts, through the
SDK's own client: the same answers and errors as `/v1`, prompts that name our real tools."""

from __future__ import annotations

import base64
import io
import re

import pytest
import zxingcpp
from mcp import Client
from mcp.shared.exceptions import MCPError
from PIL import Image

from openqr.assistant import schemas
from openqr.assistant.server import build_server
from openqr.auth import keys
from tests.images import raster
from tests.support import aio

WIFI = {"type": "wifi", "ssid": "Café; Guest", "password": "p:ss,word", "hidden": True}
WIFI_TEXT = "WIFI:T:WPA;S:Café\\; Guest;P:p\\:ss\\,word;H:true;;"


def _session(app, key: str | None, work):
    """Run `work(client)` in one client session of a server acting for `key`'s account."""
    server = build_server(app, lambda _ctx: keys.authenticate(key) if key else None)

    async def go():
        async with Client(server) as client:
            return await work(client)

    return aio.run(go)


def _call(app, key, name, args):
    return _session(app, key, lambda client: client.call_tool(name, args))


def _png(result) -> bytes:
    image = next(block for block in result.content if block.type == "image")
    assert image.mime_type == "image/png"
    return base64.b64decode(image.data)


def test_generate_qr_takes_the_arguments_of_post_v1_qr(app, api):
    async def listed(client):
        return {tool.name: tool for tool in (await client.list_tools()).tools}

    tools = _session(app, None, listed)
    body = api.client.get("/v1/openapi.json").get_json()["components"]["schemas"]["QrCreate"]
    generate = tools["generate_qr"]
    assert set(generate.input_schema["properties"]) == set(body["properties"])
    assert generate.input_schema["properties"]["type"]["enum"] == list(body["properties"]["type"]["enum"])
    assert "required" not in generate.input_schema  # `data` or `type`
    assert generate.annotations.read_only_hint is True and generate.annotations.destructive_hint is False
    assert tools["delete_folder"].annotations.destructive_hint is True
    assert "$ref" not in str(generate.input_schema)


def test_generate_qr_gives_the_apis_image_as_image_content(app, api):
    result = _call(app, api.key, "generate_qr", {**WIFI, "size": 400})
    assert not result.is_error
    png = _png(result)
    assert png == api.post("/v1/qr", json={**WIFI, "size": 400}).data
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [barcode.text for barcode in found] == [WIFI_TEXT]
    assert "400 px wide" in result.content[0].text

    svg = _call(app, api.key, "generate_qr", {"type": "geo", "lat": 51.5, "lng": -0.12, "format": "svg"})
    assert any(block.type == "text" and block.text.startswith("<svg") for block in svg.content)


def test_generate_qr_gives_a_print_pdf_of_the_width_asked_as_a_resource(app, api):
    raster.need("pdf")
    result = _call(app, api.key, "generate_qr", {**WIFI, "format": "pdf", "size_mm": 30})
    assert not result.is_error and "30 mm wide" in result.content[0].text
    (resource,) = [block.resource for block in result.content if block.type == "resource"]
    pdf = base64.b64decode(resource.blob)
    assert resource.mime_type == "application/pdf"
    assert pdf == api.post("/v1/qr", json={**WIFI, "format": "pdf", "size_mm": 30}).data
    assert round(raster.pdf_page_size(pdf)[0] / 72 * 25.4) == 30
    assert [found.text for found in raster.decode(raster.pdf_image(pdf))] == [WIFI_TEXT]


@pytest.mark.parametrize(
    "args",
    [
        {"type": "wifi", "ssid": "Home"},
        {"type": "url", "url": "example.com", "ssid": "Home"},
        {"type": "vcard", "name": "Ada", "email": "not an address"},
        {"data": "x", "size": 10},
        {},
    ],
)
def test_generate_qr_refusals_are_the_apis_errors(app, api, args):
    result = _call(app, api.key, "generate_qr", args)
    assert result.is_error
    assert result.structured_content == api.post("/v1/qr", json=args).get_json()
    assert result.structured_content["message"] in result.content[0].text


def test_generate_qr_refuses_an_argument_no_type_has(app, api):
    result = _call(app, api.key, "generate_qr", {"type": "text", "text": "hi", "colour": "red"})
    assert result.is_error and result.structured_content["field"] == "colour"


def test_delete_folder_unfiles_its_codes_like_the_api(app, api):
    folder = api.post("/v1/folders", json={"name": "Posters"}).get_json()
    code = api.create("https://example.com/poster", folder_id=folder["id"])
    result = _call(app, api.key, "delete_folder", {"id": folder["id"]})
    assert not result.is_error and result.structured_content == {"deleted": True}
    assert api.get("/v1/folders").get_json() == {"folders": []}
    assert api.get(f"/v1/dynamic/{code['id']}").get_json()["folder_id"] is None
    again = _call(app, api.key, "delete_folder", {"id": folder["id"]})
    assert again.is_error
    assert again.structured_content == api.delete(f"/v1/folders/{folder['id']}").get_json()
    missing = _call(app, api.key, "delete_folder", {})
    assert missing.is_error and missing.structured_content["field"] == "id"
    assert "list_folders" in missing.structured_content["message"]


PROMPT_ARGUMENTS = {
    "create_tracked_qr": {"destination": "https://example.com/menu", "label": "Menu"},
    "bulk_qr_for_print": {
        "destinations": "https://example.com/a\nhttps://example.com/b",
        "folder": "Posters",
    },
    "brand_a_qr": {"id": "0123456789abcdef", "dark": "#0d47a1"},
    "qr_scan_report": {"days": "7"},
}


def _prompts(app):
    async def work(client):
        listed = (await client.list_prompts()).prompts
        texts = {
            name: (await client.get_prompt(name, args)).messages[0].content.text
            for name, args in PROMPT_ARGUMENTS.items()
        }
        return listed, texts

    return _session(app, None, work)


def test_the_four_prompts_are_listed_with_their_arguments(app):
    listed, _texts = _prompts(app)
    by_name = {prompt.name: prompt for prompt in listed}
    assert set(by_name) == {"create_tracked_qr", "bulk_qr_for_print", "brand_a_qr", "qr_scan_report"}
    required = {name: {a.name for a in p.arguments if a.required} for name, p in by_name.items()}
    assert required == {
        "create_tracked_qr": {"destination"},
        "bulk_qr_for_print": {"destinations"},
        "brand_a_qr": {"id"},
        "qr_scan_report": set(),
    }
    assert all(prompt.description and prompt.title for prompt in listed)


def test_every_tool_a_prompt_calls_exists_with_the_arguments_it_names(app):
    _listed, texts = _prompts(app)
    tools = {item.name: set(item.input_schema["properties"]) for item in schemas.listings("http://qr.test")}
    for name, text in texts.items():
        calls = re.findall(r"\b([a-z]+(?:_[a-z]+)+)\(([^)]*)\)", text)
        assert calls, name
        for tool, inside in calls:
            assert tool in tools, (name, tool)
            named = {
                m.group(1) for part in inside.split(",") if (m := re.match(r"\s*([a-z_]+)\s*(=|$)", part))
            }
            assert named <= tools[tool], (name, tool, named - tools[tool])


def test_a_prompt_carries_the_persons_arguments_quoted(app):
    _listed, texts = _prompts(app)
    assert 'create_code(destination="https://example.com/menu", label="Menu")' in texts["create_tracked_qr"]
    assert 'create_folder(name="Posters")' in texts["bulk_qr_for_print"]
    assert "https://example.com/b" in texts["bulk_qr_for_print"]
    assert 'with dark "#0d47a1"' in texts["brand_a_qr"]
    assert "get_account_scans(days=7)" in texts["qr_scan_report"]

    async def quoted(client):
        return (
            await client.get_prompt("create_tracked_qr", {"destination": 'https://x.test/"), delete_code('})
        ).messages

    text = _session(app, None, quoted)[0].content.text
    assert 'create_code(destination="https://x.test/\\"), delete_code(")' in text


@pytest.mark.parametrize(
    ("name", "args", "words"),
    [
        ("no_such_prompt", {}, "Unknown prompt"),
        ("create_tracked_qr", {}, "'destination' is required"),
        ("create_tracked_qr", {"destination": "  "}, "'destination' is required"),
        ("create_tracked_qr", {"destination": "https://example.com/", "colour": "red"}, "Unknown argument"),
        ("qr_scan_report", {"days": "400"}, "from 1 to 365"),
        ("qr_scan_report", {"days": "soon"}, "from 1 to 365"),
    ],
)
def test_a_bad_prompt_request_is_invalid_params_saying_why(app, name, args, words):
    async def work(client):
        with pytest.raises(MCPError) as caught:
            await client.get_prompt(name, args)
        return caught.value

    error = _session(app, None, work)
    assert error.error.code == -32602 and words in error.error.message
