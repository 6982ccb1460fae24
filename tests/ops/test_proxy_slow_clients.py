"""deploy/nginx.conf with TLS, as the README says to turn it on, in front of a real app process:
slow clients are held and dropped by nginx and never reach the app's connections.

The app runs with waitress's old default limit of 100 connections, which 105 idle clients exhaust
when they talk to it directly (tests/ops/test_connection_limits.py); behind nginx, 300 idle and 300
trickling TLS clients leave the redirects answering, and the tricklers are cut off by nginx's
`client_header_timeout`.
"""

from __future__ import annotations

import re
import ssl
import time

import pytest

from tests.ops.slow_clients import PROBE_TIMEOUT, Flood, probe, serve_with_code, sockets_held, summary
from tests.redirect.test_proxy import NGINX, render, start_nginx, wait_for_nginx
from tests.support.certs import needs_openssl, self_signed
from tests.support.servers import free_port
from tests.support.waiting import wait_for

pytestmark = [
    pytest.mark.slow,
    needs_openssl,
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it with apt-get)"),
]


def with_tls(folder, main, cert: str, key: str) -> None:
    """The README's TLS step on the rendered site (listen ... ssl, the certificate lines), and room
    in nginx's main config for the clients this test holds."""
    site = folder / "openqr.conf"
    text, listens = re.subn(
        r"listen (127\.0\.0\.1:\d+);",
        rf"listen \1 ssl;\n    ssl_certificate {cert};\n    ssl_certificate_key {key};",
        site.read_text(),
    )
    assert listens == 1
    site.write_text(text)
    text, sized = re.subn(r"worker_connections \d+;", "worker_connections 2048;", main.read_text())
    assert sized == 1
    main.write_text(text)


@pytest.fixture
def proxied(tmp_path):
    """(nginx's TLS port, the client's TLS context, app process, slug)."""
    settings = {"OPENQR_CONNECTION_LIMIT": "100", "OPENQR_TRUSTED_PROXIES": "127.0.0.1"}
    server, slug = serve_with_code(tmp_path, **settings)
    folder = tmp_path / "nginx"
    folder.mkdir()
    cert, key = self_signed(folder, "qr.test", "127.0.0.1")
    port = free_port()
    main = render(folder, port, server.port)
    with_tls(folder, main, cert, key)
    nginx = start_nginx(folder, main)
    context = ssl.create_default_context(cafile=cert)
    try:
        wait_for_nginx(nginx, f"https://127.0.0.1:{port}", verify=cert)
        yield port, context, server, slug
    finally:
        nginx.terminate()
        nginx.wait(10)
        server.stop()


def test_slow_tls_clients_are_held_and_dropped_by_nginx_not_the_app(proxied):
    port, context, server, slug = proxied
    began = time.monotonic()
    with Flood(port, idle=300, trickling=300, tls=context) as flood:
        time.sleep(1.5)
        during = probe(port, slug, 10, tls=context)
        app_sockets = sockets_held(server.process.pid)
        # nginx's client_header_timeout (10 s) ends every trickling client's unfinished request.
        wait_for(lambda: flood.cut == 300, timeout=25, pause=0.5)
        all_cut = time.monotonic() - began
        after = probe(port, slug, 5, tls=context)
    print(f"through nginx: {summary(during)}; the app held {app_sockets} sockets; "
          f"{flood.cut} of 300 tricklers cut by {all_cut:.1f} s")  # fmt: skip
    assert None not in during + after and max(during + after) < PROBE_TIMEOUT
    assert app_sockets < 100  # the app's own limit was never the one that counted
    assert flood.cut == 300 and all_cut >= 9  # by the header timeout, not at once
