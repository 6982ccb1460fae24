"""The built binary's dashboard in chromium: sign-in by mail, a code created, every asset served
from inside the file. The binary runs from an empty folder with a bare environment."""

from __future__ import annotations

import pytest

from tests.browser.conftest import sign_in
from tests.support.servers import AppProcess, free_port

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def binary_server(tmp_path_factory, smtp):
    """`openqr` serving on a free port, mailing sign-in links to the test's SMTP sink."""
    tmp = tmp_path_factory.mktemp("binary-browser")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = AppProcess(
        tmp,
        "binary",
        None,
        kind="binary",
        port=port,
        OPENQR_BASE_URL=base,
        OPENQR_SHORT_BASE_URL=base,
        OPENQR_SMTP_HOST="127.0.0.1",
        OPENQR_SMTP_PORT=str(smtp[1]),
        OPENQR_SMTP_SECURITY="none",
    )
    try:
        server.wait_ready()
        yield server
    finally:
        assert server.stop() == 0, server.log()


def test_sign_in_by_mail_and_create_a_code_on_the_binary(fresh_page, binary_server, smtp):
    page, base = fresh_page, binary_server.url
    failed = []
    page.on("response", lambda response: response.status >= 400 and failed.append(response.url))
    sign_in(page, base, smtp[0], "binary-owner@example.com")
    page.get_by_label("Destination URL").fill("https://example.com/menu")
    page.get_by_label("Label (optional)").fill("Lunch menu")
    page.get_by_role("button", name="Create code").click()
    page.get_by_text("Created").wait_for()
    assert page.locator(".code-row", has_text="Lunch menu").count() == 1
    assets = page.eval_on_selector_all(
        "link[rel=stylesheet], script[src]", "nodes => nodes.map(node => node.href || node.src)"
    )
    assert assets and all(asset.startswith(base + "/static/") for asset in assets)
    assert all(page.request.get(asset).status == 200 for asset in assets)
    assert failed == []
