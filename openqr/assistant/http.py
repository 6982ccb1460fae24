"""`/mcp`: the MCP server's Streamable HTTP transport inside the app's own WSGI server.

A small WSGI layer in front of everything else (the redirect fast path included) sends
`/mcp` here and every other path on, at the cost of one comparison. Each request's Bearer
key is checked first, with the same check and the same 401 as `/v1`; then a2wsgi hands the
request to the SDK's ASGI app, which runs on an event loop in a thread of its own (stateless,
plain JSON answers: any process can serve any request). The SDK is imported, and the loop
started, by the first request to `/mcp`: a server no assistant talks to pays nothing for it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import threading

from flask import Flask
from sqlalchemy import select

from ..auth import keys
from ..auth.roles import Access
from ..extensions import db
from ..models import Account, Code, Workspace
from ..ops.security import API_CSP
from ..services import services

log = logging.getLogger(__name__)

PATH = "/mcp"
ACCESS_KEY = "openqr.access"  # (workspace id, role, actor, account id): set once the key is checked


STOPPED_MESSAGE = "The server is stopping; try again in a few seconds."


def _refuse(start_response, status: str, error: str, message: str, header: tuple[str, str]):
    """A JSON error in the API's shape, answered before the SDK is reached."""
    body = json.dumps({"error": error, "message": message}).encode()
    start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            header,
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Security-Policy", API_CSP),
        ],
    )
    return [body]


class McpEndpoint:
    """WSGI middleware: `app.wsgi_app = McpEndpoint(app, app.wsgi_app)`."""

    def __init__(self, app: Flask, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app
        self._lock = threading.Lock()
        # Made by the first request to /mcp: the WSGI app, its event loop, the running manager.
        self._asgi = self._loop = self._thread = self._manager = self._stop = None
        self._stopped = False

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != PATH:
            return self.wsgi_app(environ, start_response)
        with self.app.app_context():  # checked on every request: a revoked key is refused at once
            access = keys.access_for_authorization(environ.get("HTTP_AUTHORIZATION", ""))
            checked = (
                None
                if access is None
                else (
                    access.workspace_id,
                    access.role,
                    access.actor,
                    access.account.id if access.account else None,
                )
            )
        if checked is None:
            return _refuse(
                start_response,
                "401 Unauthorized",
                "unauthorized",
                keys.UNAUTHORIZED_MESSAGE,
                ("WWW-Authenticate", keys.CHALLENGE),
            )
        environ[ACCESS_KEY] = checked

        def with_headers(status, headers, exc_info=None):
            headers.append(("X-Content-Type-Options", "nosniff"))
            headers.append(("Content-Security-Policy", API_CSP))
            return start_response(status, headers, exc_info)

        mounted = self._mounted()
        if mounted is None:  # a request that reached us after stop(): the loop is gone
            return _refuse(
                start_response,
                "503 Service Unavailable",
                "unavailable",
                STOPPED_MESSAGE,
                ("Retry-After", "5"),
            )
        return mounted(environ, with_headers)

    def _mounted(self):
        """The mounted SDK app (mounting it on first use), or None once stopped."""
        if self._asgi is None:
            with self._lock:
                if self._asgi is None and not self._stopped:
                    self._asgi = self._mount()
        return self._asgi

    def _mount(self):
        """The SDK's ASGI app as WSGI, on a loop thread whose session manager is already running."""
        from a2wsgi import ASGIMiddleware
        from mcp.server.transport_security import TransportSecuritySettings

        from .server import build_server

        def access_for(ctx) -> Access | None:
            workspace_id, role, actor, account_id = ctx.request.scope["wsgi_environ"][ACCESS_KEY]
            workspace = db.session.get(Workspace, workspace_id)
            account = db.session.get(Account, account_id) if account_id is not None else None
            return Access(workspace, role, actor, account=account) if workspace is not None else None

        server = build_server(self.app, access_for)
        asgi = server.streamable_http_app(
            streamable_http_path=PATH,
            json_response=True,
            stateless_http=True,
            max_request_body_size=self.app.config["MAX_CONTENT_LENGTH"],
            # Host and Origin checks guard servers without authentication against DNS rebinding;
            # this one needs a Bearer key on every request, which a rebinding page cannot send.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="openqr-mcp", daemon=True)
        self._thread.start()
        started = threading.Event()

        async def run_manager():
            self._stop = asyncio.Event()
            async with server.session_manager.run():
                started.set()
                await self._stop.wait()

        self._manager = asyncio.run_coroutine_threadsafe(run_manager(), loop)
        if not started.wait(30):
            raise RuntimeError("the MCP session manager did not start")
        self._loop = loop
        if gc.get_freeze_count():
            # app.py froze what start-up built, so full collections skip it; the SDK's modules
            # live as long, and would otherwise be rescanned by every full collection.
            gc.freeze()
        return ASGIMiddleware(asgi, loop=loop)

    def start(self) -> None:
        """Nothing to start ahead: the SDK and its loop come with the first request to `/mcp`."""

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the session manager and its loop (if `/mcp` was ever used), waiting at most
        `timeout` seconds for each; no loop starts afterwards."""
        with self._lock:
            self._stopped = True
            if self._asgi is None:
                return
            loop, self._asgi = self._loop, None
        loop.call_soon_threadsafe(self._stop.set)
        try:
            self._manager.result(timeout)
            asyncio.run_coroutine_threadsafe(_cancel_the_rest(), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout)
            if not self._thread.is_alive():
                loop.close()


async def _cancel_the_rest() -> None:
    """End any task left on the loop (a request whose WSGI answer was closed before its ASGI task
    finished), so that closing the loop destroys no pending task."""
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()


def warn_shadowed_slug(app: Flask) -> None:
    """A code given the slug `mcp` before `/mcp` existed no longer redirects: say so (at start-up)."""
    if not app.config["OPENQR_MCP"]:
        return
    for code_id in db.session.execute(select(Code.id).where(Code.slug == PATH[1:])).scalars():
        log.warning(
            "code %s has the slug 'mcp', now the assistants' endpoint: its short link no longer redirects; "
            "give it another slug (PATCH /v1/dynamic/%s) or set OPENQR_MCP=false",
            code_id,
            code_id,
        )


def init_app(app: Flask) -> None:
    """Answer `/mcp` in front of everything else, unless OPENQR_MCP is off."""
    if app.config["OPENQR_MCP"]:
        endpoint = McpEndpoint(app, app.wsgi_app)
        app.wsgi_app = endpoint
        services(app).mcp = endpoint
