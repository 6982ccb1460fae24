"""The MCP server over both transports, driven by the SDK's own client against real processes:
Streamable HTTP at `/mcp` of `python app.py`, and stdio through `flask mcp` (and `openqr mcp` of
the built binary)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import asynccontextmanager

import anyio
import httpx2
import pytest
import requests
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from openqr.assistant import tools
from openqr.auth import keys
from tests.conftest import close_app, empty_database, make_app, new_key
from tests.support import aio
from tests.support.servers import PHONE, ROOT, AppProcess, bare_env, binary


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`python app.py` on its own database, and an in-process app on the same one to make keys."""
    tmp = tmp_path_factory.mktemp("mcp")
    url = empty_database(tmp)
    server = AppProcess(tmp, "mcp", url)
    app = make_app(tmp)
    try:
        server.wait_ready()
        yield server, app, url, tmp
    finally:
        server.stop()
        close_app(app)


@asynccontextmanager
async def http_client(server, key: str | None, statuses: list | None = None, mode: str = "auto"):
    """The SDK's client with the key as a Bearer header; `statuses` collects each answer's status."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}

    async def record(response):
        if statuses is not None:
            statuses.append(response.status_code)

    async with httpx2.AsyncClient(headers=headers, timeout=30, event_hooks={"response": [record]}) as http:
        async with Client(streamable_http_client(server.url + "/mcp", http_client=http), mode=mode) as client:
            yield client


def stdio_params(url: str, tmp, key: str | None, kind: str = "source") -> StdioServerParameters:
    """`flask mcp` from the checkout, or (`kind="binary"`) `openqr mcp` from an empty folder with
    nothing but PATH, HOME and the settings in its environment."""
    env = {
        "OPENQR_DATABASE_URL": url,
        "OPENQR_SECRET_KEY": "test-secret",
        "OPENQR_INSTANCE_PATH": str(tmp / "stdio-instance"),
        "OPENQR_LOG_LEVEL": "WARNING",
    }
    if key:
        env["OPENQR_KEY"] = key
    if kind == "binary":
        folder = tmp / "stdio-run"
        folder.mkdir(exist_ok=True)
        # (The SDK adds the login variables it passes to any server: LOGNAME, SHELL, TERM, USER.)
        return StdioServerParameters(
            command=str(binary()), args=["mcp"], env=bare_env(folder, **env), cwd=folder
        )
    return StdioServerParameters(command=sys.executable, args=["-m", "flask", "mcp"], env=env, cwd=ROOT)


@asynccontextmanager
async def stdio_session(served, key: str, kind: str = "source"):
    _server, _app, url, tmp = served
    with open(tmp / "stdio.log", "a") as errlog:
        async with Client(stdio_client(stdio_params(url, tmp, key, kind), errlog=errlog)) as client:
            yield client


def _scan(server, slug: str) -> None:
    response = requests.get(
        f"{server.url}/{slug}", headers={"User-Agent": PHONE}, allow_redirects=False, timeout=5
    )
    assert response.status_code == 302


async def _guide_sentence(client, server) -> None:
    """'Create a code for the new menu and tell me last week's scans', as tool calls."""
    listed = {tool.name for tool in (await client.list_tools()).tools}
    assert listed == {tool.name for tool in tools.TOOLS}  # the contract's list: test_mcp_tools.py
    created = await client.call_tool(
        "create_code", {"destination": "https://example.com/menu/spring", "label": "New menu"}
    )
    assert not created.is_error, created.content
    code = created.structured_content
    assert code["label"] == "New menu" and code["destination"] == "https://example.com/menu/spring"
    _scan(server, code["slug"])
    deadline = time.monotonic() + 10
    while True:  # the scan is written by the server's flusher within its interval
        report = await client.call_tool("get_scans", {"id": code["id"], "days": 7})
        assert not report.is_error, report.content
        if report.structured_content["analytics"]["window_total"] == 1 or time.monotonic() > deadline:
            break
        await anyio.sleep(0.1)
    week = report.structured_content["analytics"]
    assert week["days_window"] == 7 and len(week["daily"]) == 7
    assert week["window_total"] == 1 and week["daily"][-1]["n"] == 1
    assert week["by_device"] == [{"value": "mobile", "n": 1}]
    assert "1 scan in the last 7 days" in report.content[0].text

    repointed = await client.call_tool(
        "update_code", {"id": code["id"], "destination": "https://example.com/menu/summer"}
    )
    assert repointed.structured_content["destination"] == "https://example.com/menu/summer"
    deadline = time.monotonic() + 5
    while True:  # a change made by another process (stdio) reaches the server's link cache within 1 s
        answer = requests.get(f"{server.url}/{code['slug']}", allow_redirects=False, timeout=5)
        if answer.headers["Location"] == "https://example.com/menu/summer" or time.monotonic() > deadline:
            break
        await anyio.sleep(0.1)
    assert answer.headers["Location"] == "https://example.com/menu/summer"

    refused = await client.call_tool("create_code", {"destination": "http://10.0.0.1/admin"})
    assert refused.is_error
    assert refused.structured_content["error"] == "invalid_destination"
    assert refused.structured_content["field"] == "destination"
    assert refused.structured_content["message"] in refused.content[0].text


# "auto" speaks the newest protocol revision; "legacy" the initialize handshake that most hosts use today.
@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_http_lists_the_tools_and_runs_the_guides_sentence(served, mode):
    server, app, _url, _tmp = served
    key = new_key(app, f"menu-http-{mode}@example.com")

    async def go():
        async with http_client(server, key, mode=mode) as client:
            await _guide_sentence(client, server)

    aio.run(go)


@pytest.mark.parametrize("kind", ["source", "binary"])
def test_stdio_lists_the_tools_and_runs_the_guides_sentence(served, kind):
    server, app, _url, _tmp = served
    key = new_key(app, f"menu-stdio-{kind}@example.com")

    async def go():
        async with stdio_session(served, key, kind) as client:
            await _guide_sentence(client, server)

    aio.run(go)


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}


@pytest.mark.parametrize("authorization", [None, "Bearer oqr_live_" + "x" * 43, "Basic dXNlcjpwYXNz"])
def test_http_without_a_live_key_is_a_401_like_v1(served, authorization):
    server, _app, _url, _tmp = served
    headers = {"Accept": "application/json, text/event-stream"}
    if authorization:
        headers["Authorization"] = authorization
    response = requests.post(server.url + "/mcp", json=INITIALIZE, headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="openqr"'
    assert response.json() == requests.get(server.url + "/v1/dynamic", headers=headers, timeout=5).json()
    assert response.json()["error"] == "unauthorized"


def test_http_sdk_client_without_a_key_gets_a_401_and_no_tools(served):
    server, _app, _url, _tmp = served
    statuses = []

    async def go():
        async with http_client(server, None, statuses) as client:
            await client.list_tools()

    with pytest.raises(ExceptionGroup, match="errors") as caught:
        aio.run(go)
    assert caught.group_contains(MCPError)
    assert statuses and set(statuses) == {401}


def test_http_a_revoked_key_is_refused_at_once(served):
    server, app, _url, _tmp = served
    key = new_key(app, "revoked-http@example.com")
    statuses = []

    async def go():
        async with http_client(server, key, statuses) as client:
            first = await client.call_tool("list_folders", {})
            assert not first.is_error
            with app.app_context():
                keys.revoke_key(keys.find_by_prefix(key[:17]))
            await client.call_tool("list_folders", {})

    with pytest.raises(ExceptionGroup) as caught:
        aio.run(go)
    assert caught.group_contains(MCPError)
    assert 200 in statuses and statuses[-1] == 401


def test_http_the_21st_create_in_an_hour_is_refused_with_the_apis_message(served):
    server, app, _url, _tmp = served
    key = new_key(app, "busy@example.com")

    async def go():
        async with http_client(server, key) as client:
            return [
                await client.call_tool("create_code", {"destination": f"https://example.com/p/{i}"})
                for i in range(21)
            ]

    results = aio.run(go)
    assert [result.is_error for result in results] == [False] * 20 + [True]
    refused = results[20].structured_content
    assert refused["error"] == "rate_limited" and "20 per hour" in refused["message"]
    assert 0 < refused["retry_after"] <= 3600


def test_http_another_accounts_code_is_not_found(served):
    server, app, _url, _tmp = served
    owner, stranger = new_key(app, "owner-http@example.com"), new_key(app, "stranger-http@example.com")

    async def go():
        async with http_client(server, owner) as client:
            code = (
                await client.call_tool("create_code", {"destination": "https://example.com/own"})
            ).structured_content
        async with http_client(server, stranger) as client:
            seen = await client.call_tool("get_code", {"id": code["id"]})
            changed = await client.call_tool(
                "update_code", {"id": code["id"], "destination": "https://evil.example/"}
            )
        async with http_client(server, owner) as client:
            kept = await client.call_tool("get_code", {"id": code["id"]})
        return seen, changed, kept

    seen, changed, kept = aio.run(go)
    assert seen.is_error and seen.structured_content["error"] == "not_found"
    assert changed.is_error and changed.structured_content["error"] == "not_found"
    assert kept.structured_content["destination"] == "https://example.com/own"


def test_http_mcp_is_not_a_slug_and_other_paths_are_untouched(served):
    server, _app, _url, _tmp = served
    assert requests.get(server.url + "/mcp/", timeout=5).status_code == 404
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200


def test_stdio_another_accounts_code_is_not_found_and_a_revoked_key_stops_the_session(served):
    _server, app, _url, _tmp = served
    owner, stranger = new_key(app, "owner-stdio@example.com"), new_key(app, "stranger-stdio@example.com")
    with app.app_context():
        workspace = keys.authenticate(owner).workspace
        from openqr.codes import core as codes

        code, _budget = codes.create_code(workspace, {"destination": "https://example.com/own"})
        code_id = code.id

    async def go():
        async with stdio_session(served, stranger) as client:
            seen = await client.call_tool("get_code", {"id": code_id})
            with app.app_context():
                keys.revoke_key(keys.find_by_prefix(stranger[:17]))
            after = await client.call_tool("list_codes", {})
        return seen, after

    seen, after = aio.run(go)
    assert seen.is_error and seen.structured_content == {"error": "not_found", "message": "No such code."}
    assert after.is_error and after.structured_content["error"] == "unauthorized"


@pytest.mark.parametrize(
    ("key", "says"), [(None, "set OPENQR_KEY"), ("oqr_live_" + "y" * 43, "not a live API key")]
)
def test_stdio_refuses_to_start_without_a_live_key_in_one_line(served, key, says):
    _server, _app, url, tmp = served
    params = stdio_params(url, tmp, key)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("OPENQR_", "FLASK_"))}, **params.env}
    done = subprocess.run(
        [params.command, *params.args], cwd=params.cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0]


def test_http_a_server_that_served_mcp_stops_cleanly_on_sigterm(tmp_path):
    server = AppProcess(tmp_path, "stop", empty_database(tmp_path), OPENQR_LOG_LEVEL="INFO")
    app = make_app(tmp_path)
    try:
        server.wait_ready()
        key = new_key(app, "stop@example.com")

        async def go():
            async with http_client(server, key) as client:
                return await client.call_tool("list_folders", {})

        assert not aio.run(go).is_error
    finally:
        status = server.stop()
        close_app(app)
    log = server.log()
    assert status == 0, log
    assert "Traceback" not in log and "OpenQR stopped" in log
