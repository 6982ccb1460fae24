"""The OpenQR MCP server (the official SDK's low-level `Server`), shared by both transports.

The handlers run on an event loop; each tool call runs the domain code in a worker thread
inside an app context, like a `/v1` request. How a call acts (its key's workspace and role) is the
transport's business: `access_for(ctx)` answers it on every call (HTTP: the key checked
in front of the endpoint; stdio: the key in OPENQR_KEY, checked again each time).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import partial

import anyio
from flask import Flask
from mcp import types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from ..auth import keys
from ..auth.roles import Access
from ..errors import DomainError
from ..ops.health import VERSION
from . import outcomes, prompts, schemas, tools

AccessFor = Callable[[ServerRequestContext], Access | None]

INSTRUCTIONS = (
    "OpenQR manages editable QR codes: a printed code encodes a short link whose destination can "
    "change at any time, and every scan is counted. Arguments and results are those of the OpenQR "
    "/v1 API; ids come from list_codes or create_code. generate_qr draws a static code (Wi-Fi, a "
    "contact card, a plain URL...) that is stored nowhere and counts no scans."
)


def _listing(item: schemas.Listing) -> types.Tool:
    return types.Tool(
        name=item.name,
        description=item.description,
        input_schema=item.input_schema,
        output_schema=item.output_schema,
        annotations=types.ToolAnnotations(
            read_only_hint=item.read_only,
            destructive_hint=item.destructive,
            open_world_hint=False,
        ),
    )


def _result(outcome: outcomes.Outcome) -> types.CallToolResult:
    content: list = [types.TextContent(text=outcome.text)]
    image = outcome.image
    if image is not None and image.media_type == "image/png":
        content.append(
            types.ImageContent(data=base64.b64encode(image.data).decode(), mime_type=image.media_type)
        )
    elif image is not None and image.media_type == "application/pdf":  # binary: a resource, base64
        blob = types.BlobResourceContents(
            uri="openqr://render_qr/code.pdf",
            mime_type=image.media_type,
            blob=base64.b64encode(image.data).decode(),
        )
        content.append(types.EmbeddedResource(type="resource", resource=blob))
    elif image is not None:
        content.append(types.TextContent(text=image.data.decode()))  # SVG and EPS are text
    return types.CallToolResult(content=content, structured_content=outcome.body, is_error=outcome.is_error)


def _prompt_listing(prompt: prompts.Prompt) -> types.Prompt:
    return types.Prompt(
        name=prompt.name,
        title=prompt.title,
        description=prompt.description,
        arguments=[
            types.PromptArgument(name=a.name, description=a.description, required=a.required)
            for a in prompt.arguments
        ],
    )


async def list_prompts(ctx: ServerRequestContext, params) -> types.ListPromptsResult:
    return types.ListPromptsResult(prompts=[_prompt_listing(prompt) for prompt in prompts.PROMPTS])


async def get_prompt(
    ctx: ServerRequestContext, params: types.GetPromptRequestParams
) -> types.GetPromptResult:
    """A prompt's text for the person's arguments; an unknown prompt or a bad argument is invalid params."""
    if params.name not in prompts.BY_NAME:
        raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {params.name}")
    try:
        text = prompts.render(params.name, params.arguments)
    except DomainError as err:
        raise MCPError(types.INVALID_PARAMS, err.message) from None
    return types.GetPromptResult(
        description=prompts.BY_NAME[params.name].description,
        messages=[types.PromptMessage(role="user", content=types.TextContent(text=text))],
    )


def _unauthorized() -> outcomes.Outcome:
    return outcomes.error_outcome(DomainError(keys.UNAUTHORIZED_MESSAGE, code="unauthorized"))


def build_server(app: Flask, access_for: AccessFor) -> Server:
    """An MCP server whose tools act as `access_for(ctx)` says (None: refused)."""
    base_url = app.config["OPENQR_BASE_URL"]
    listed = [_listing(item) for item in schemas.listings(base_url)]

    def run(ctx: ServerRequestContext, name: str, arguments: dict) -> types.CallToolResult:
        with app.app_context():
            access = access_for(ctx)
            outcome = _unauthorized() if access is None else outcomes.call(access, name, arguments, base_url)
            return _result(outcome)

    async def list_tools(ctx: ServerRequestContext, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def call_tool(
        ctx: ServerRequestContext, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        if params.name not in tools.BY_NAME:
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")
        return await anyio.to_thread.run_sync(partial(run, ctx, params.name, params.arguments or {}))

    return Server(
        "openqr",
        version=VERSION,
        title="OpenQR",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        get_tool_input_schema=lambda name: next((t.input_schema for t in listed if t.name == name), None),
    )


async def serve_stdio(server: Server) -> None:
    """Serve one assistant over this process's stdin and stdout until stdin closes."""
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
