"""Smart destinations in a real browser: a rule and a split set on the code page, scans by an
iPhone and by a desktop browser, and the page's "Destinations" table reading where they went."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser.conftest import ARGS, ARTIFACTS, CHROMIUM

pytestmark = pytest.mark.browser

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


class _Landing(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<!doctype html><title>Landed</title><h1>Landed</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def visitor_browser(browser):
    """A second chromium whose every *.example host is a local landing page (no DNS here)."""
    landing = ThreadingHTTPServer(("127.0.0.1", 0), _Landing)
    threading.Thread(target=landing.serve_forever, daemon=True).start()
    rules = f"--host-resolver-rules=MAP *.example 127.0.0.1:{landing.server_address[1]}"
    chromium = browser.browser_type.launch(executable_path=CHROMIUM, args=[*ARGS, rules])
    yield chromium
    chromium.close()
    landing.shutdown()


def _scan(browser, short_url: str, agent: str, mobile: bool) -> str:
    """Open the short URL as a visitor with this browser identity; return where it landed."""
    size = {"width": 390, "height": 844} if mobile else {"width": 1280, "height": 800}
    context = browser.new_context(user_agent=agent, viewport=size, is_mobile=mobile)
    try:
        tab = context.new_page()
        tab.goto(short_url)
        tab.get_by_role("heading", name="Landed").wait_for()
        return tab.url
    finally:
        context.close()


def _destinations(page) -> dict[str, int]:
    table = page.locator("table[data-breakdown='destination'] tbody tr")
    rows = {}
    for i in range(table.count()):
        cells = table.nth(i).locator("td")
        if cells.count() == 2:
            rows[cells.nth(0).inner_text().strip()] = int(cells.nth(1).inner_text().replace(",", ""))
    return rows


def test_rule_and_split_from_the_code_page_then_scans_by_phone_and_desktop(page, live, visitor_browser):
    base, _app = live
    page.goto(base + "/codes")
    page.get_by_label("Destination URL").fill("http://shop.example/main")
    page.get_by_label("Label (optional)").fill("Smart poster")
    page.get_by_role("button", name="Create code").click()
    page.locator(".code-row", has_text="Smart poster").get_by_role(
        "link", name="Smart poster", exact=True
    ).click()
    page.get_by_role("heading", name="Smart destinations").wait_for()

    # A bad weight first: the message appears beside the split, nothing is saved.
    page.locator("[data-rule='0']").get_by_label("Mobile").check()
    page.locator("[data-rule='0']").get_by_label("iOS").check()
    page.locator("#rule-0-destination").fill("http://apps.example/ios")
    page.locator("#split-0-destination").fill("http://a.example/")
    page.locator("#split-0-weight").fill("50")
    page.locator("#split-1-destination").fill("http://b.example/")
    page.locator("#split-1-weight").fill("500")
    page.get_by_role("button", name="Save smart destinations").click()
    error = page.locator("#smart-split-error")
    error.wait_for()
    assert "weight" in error.inner_text()
    assert page.locator("#split-1-weight").get_attribute("aria-invalid") == "true"
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#smart").screenshot(path=str(ARTIFACTS / "smart-form-error-1280.png"))

    page.locator("#split-1-weight").fill("50")
    page.locator("#utm-source").fill("poster")
    page.get_by_role("button", name="Save smart destinations").click()
    page.locator("#smart .saved").wait_for()
    assert page.locator("#smart .error").count() == 0
    assert page.locator("#rule-0-destination").input_value() == "http://apps.example/ios"

    short_url = page.locator(".details a.mono").inner_text()
    assert (
        _scan(visitor_browser, short_url, IPHONE, mobile=True) == "http://apps.example/ios?utm_source=poster"
    )
    desktop_landings = {_scan(visitor_browser, short_url, DESKTOP, mobile=False) for _ in range(8)}
    assert desktop_landings <= {
        "http://a.example/?utm_source=poster",
        "http://b.example/?utm_source=poster",
    }

    page.reload()
    destinations = _destinations(page)
    assert destinations["http://apps.example/ios"] == 1
    assert sum(n for url, n in destinations.items() if url in ("http://a.example/", "http://b.example/")) == 8
    assert set(destinations) <= {"http://apps.example/ios", "http://a.example/", "http://b.example/"}

    # The creation is marked on the chart; focusing the mark names the destination.
    mark = page.locator("svg.chart g.change").first
    mark.focus()
    assert "http://shop.example/main" in mark.get_attribute("aria-label")
    assert page.evaluate("document.activeElement.getAttribute('class')") == "change"

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "smart-code-page-1280.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})
    page.screenshot(path=str(ARTIFACTS / "smart-code-page-375.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
