"""Browser fixtures: the app under waitress in a thread, an SMTP sink, Debian's chromium via Playwright."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from waitress.server import create_server

from openqr.extensions import db
from tests.conftest import fresh_app
from tests.support.mailsink import Sink
from tests.support.servers import free_port

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives a real browser (Playwright + chromium)")


@pytest.fixture(scope="session")
def live(tmp_path_factory, smtp):
    """The whole app served by waitress on a free port; yields (base_url, app)."""
    _sink, smtp_port = smtp
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    tmp = tmp_path_factory.mktemp("live")
    app = fresh_app(
        tmp,
        OPENQR_BASE_URL=base,
        OPENQR_SHORT_BASE_URL=base,
        OPENQR_SMTP_HOST="127.0.0.1",
        OPENQR_SMTP_PORT=smtp_port,
        OPENQR_SMTP_SECURITY="none",
        OPENQR_CREATE_LIMIT=1000,
        OPENQR_LOGIN_LIMIT_PER_CLIENT=1000,
        OPENQR_LOGIN_LIMIT_PER_EMAIL=1000,
    )
    server = create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield base, app
    server.close()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield chromium
    chromium.close()
    playwright.stop()


def sign_in(page, base: str, sink: Sink, address: str) -> None:
    """Sign in through the mailed link, as a person would."""
    page.goto(base + "/login")
    page.get_by_label("Email address").fill(address)
    page.get_by_role("button", name="Email me a sign-in link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    page.goto(sink.link_for(address))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/codes")


@pytest.fixture(scope="session")
def signed_in_state(browser, live, smtp, tmp_path_factory):
    """A signed-in storage state for owner@example.com, made once through the mailed link."""
    base, _app = live
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, base, smtp[0], "owner@example.com")
    path = tmp_path_factory.mktemp("state") / "state.json"
    context.storage_state(path=str(path))
    context.close()
    return str(path)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


def _screenshot_if_failed(request, tab) -> None:
    """Keep what the browser showed when a test failed, in test-artifacts/<test>.png."""
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)


@pytest.fixture
def page(request, browser, live, signed_in_state):
    """A signed-in page (owner@example.com); a failing test leaves a screenshot in test-artifacts/."""
    context = browser.new_context(
        storage_state=signed_in_state, accept_downloads=True, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    _screenshot_if_failed(request, tab)
    context.close()


@pytest.fixture
def fresh_page(request, browser):
    """A page with no session (for sign-in tests); screenshots on failure too."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    _screenshot_if_failed(request, tab)
    context.close()
