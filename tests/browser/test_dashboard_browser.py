"""The dashboard in a real browser: sign-in by mail, codes, bulk ZIP, keys, style, analytics."""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import urllib.error
import urllib.request
import zipfile

import pytest
import zxingcpp
from PIL import Image

from openqr.auth.accounts import get_or_create_account
from openqr.codes import core as codes
from openqr.extensions import db
from openqr.models import Code, utcnow
from openqr.scans import analytics
from openqr.scans.classify import ScanEvent
from openqr.scans.store import store_scans
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def make_code(app, **fields) -> str:
    """A code of owner@example.com made through the domain; returns its id."""
    with app.app_context():
        account = get_or_create_account("owner@example.com")
        db.session.commit()
        code, _ = codes.create_code(account, {"destination": "https://example.com/page", **fields})
        return code.id


def test_sign_in_by_mail_then_sign_out(fresh_page, live, smtp):
    base, _app = live
    sign_in(fresh_page, base, smtp[0], "newcomer@example.com")
    assert fresh_page.get_by_role("heading", name="No codes yet").is_visible()
    fresh_page.get_by_role("button", name="Sign out").click()
    fresh_page.wait_for_url(re.compile(r"/login\?signed_out=1"))
    fresh_page.goto(base + "/codes")
    assert "/login" in fresh_page.url


def test_sign_in_by_logged_link_without_smtp(fresh_page, live, caplog):
    base, app = live
    saved = app.config["OPENQR_SMTP_HOST"]
    app.config["OPENQR_SMTP_HOST"] = ""
    try:
        with caplog.at_level(logging.WARNING, logger="openqr.auth"):
            fresh_page.goto(base + "/login")
            fresh_page.get_by_label("Email address").fill("local@example.com")
            fresh_page.get_by_role("button", name="Email me a sign-in link").click()
            fresh_page.get_by_role("heading", name="Check your email").wait_for()
        link = re.search(r"(http://\S+/login/\S+)", caplog.text).group(1)
    finally:
        app.config["OPENQR_SMTP_HOST"] = saved
    fresh_page.goto(link)
    fresh_page.get_by_role("button", name="Sign in").click()
    fresh_page.wait_for_url(base + "/codes")


def test_create_edit_filter_delete(page, live):
    base, _app = live
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(base + "/codes")
    page.get_by_label("Destination URL").fill("ftp://nope.example.com")
    page.get_by_role("button", name="Create code").click()
    page.locator(".field.has-error .error").wait_for()
    assert "http" in page.locator(".field.has-error .error").inner_text()

    page.get_by_label("Destination URL").fill("https://example.com/menu")
    page.get_by_label("Label (optional)").fill("Lunch menu")
    page.get_by_role("button", name="Create code").click()
    page.get_by_text("Created").wait_for()
    row = page.locator(".code-row", has_text="Lunch menu")
    assert row.count() == 1

    row.get_by_role("link", name="Edit").click()
    form = page.locator(".code-row.editing")
    form.get_by_label("Label").fill("Dinner menu")
    form.get_by_label("Tags").fill("food, evening")
    form.get_by_role("button", name="Save").click()
    row = page.locator(".code-row", has_text="Dinner menu")
    row.wait_for()
    assert "#evening" in row.inner_text()

    page.get_by_label("Search").fill("dinner")
    page.wait_for_url(re.compile(r"q=dinner"))
    page.locator("#results .code-row").first.wait_for()
    assert page.locator("#results .code-row").count() == 1
    page.get_by_label("Search").fill("zzz-nothing")
    page.get_by_role("heading", name="No codes match").wait_for()
    page.goto(base + "/codes?q=dinner")  # a pushed URL reloads to the same view
    row = page.locator(".code-row", has_text="Dinner menu")
    row.get_by_role("button", name="Delete").click()
    row.wait_for(state="detached")
    page.goto(base + "/codes?q=dinner")
    page.get_by_role("heading", name="No codes match").wait_for()


def test_bulk_zip_decodes(page, live):
    base, _app = live
    page.goto(base + "/codes/bulk")
    page.get_by_label("One code per line").fill(
        "https://example.com/a,Shop window,,print|spring\n"
        "https://example.com/b,Shop window,bulk-b-test\nnot a url"
    )
    page.get_by_role("button", name="Check lines").click()
    page.locator(".preview-table tr.bad").wait_for()
    assert page.locator(".preview-table tr.bad").count() == 1
    page.get_by_label("One code per line").fill(
        "https://example.com/a,Shop window,,print|spring\nhttps://example.com/b,Shop window,bulk-b-test"
    )
    page.get_by_role("button", name="Check lines").click()
    page.get_by_role("button", name="Create 2 codes").click()
    page.get_by_role("heading", name="Created 2 codes").wait_for()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download ZIP").click()
    archive = zipfile.ZipFile(info.value.path())
    names = sorted(archive.namelist())
    assert names == ["Shop-window-2.png", "Shop-window.png", "codes.csv"]
    table = archive.read("codes.csv").decode()
    assert f"{base}/bulk-b-test" in table
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(archive.read("Shop-window-2.png"))))
    assert decoded[0].text == f"{base}/bulk-b-test"


def test_key_create_and_revoke(page, live):
    base, _app = live
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(base + "/keys")
    page.get_by_label("Key name").fill("Robot")
    page.get_by_role("button", name="Create key").click()
    plain = page.locator("#new-key-value").inner_text().strip()
    assert plain.startswith("oqr_live_")

    def call() -> int:
        request = urllib.request.Request(base + "/v1/dynamic", headers={"Authorization": f"Bearer {plain}"})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status
        except urllib.error.HTTPError as err:
            return err.code

    assert call() == 200
    page.locator("tr", has_text="Robot").get_by_role("button", name="Revoke").click()
    page.locator("tr.revoked", has_text="Robot").wait_for()
    assert page.locator("#new-key-value").count() == 0
    assert call() == 401


def test_style_controls_save_and_redraw(page, live):
    base, app = live
    code_id = make_code(app, label="Styled")
    page.goto(f"{base}/codes/{code_id}")
    before = page.locator("#preview-img").get_attribute("src")
    page.locator("#dark").fill("#1d4ed8")
    page.locator(".saved").wait_for()
    after = page.locator("#preview-img").get_attribute("src")
    assert after != before
    with app.app_context():
        assert db.session.get(Code, code_id).style["dark"].lower() == "#1d4ed8"
    image = page.request.get(base + after)
    pixels = Image.open(io.BytesIO(image.body())).convert("RGB")
    assert (0x1D, 0x4E, 0xD8) in {colour for _n, colour in pixels.getcolors(1 << 16)}


def test_analytics_match_the_api(page, live):
    base, app = live
    code_id = make_code(app, label="Counted")
    now = utcnow()
    events = [
        ScanEvent(code_id, now - dt.timedelta(days=d), country, device, referrer)
        for d, country, device, referrer in [
            (0, "DE", "mobile", None),
            (0, "DE", "desktop", "news.example.com"),
            (1, "FR", "mobile", None),
            (3, None, None, None),
            (10, "US", "tablet", "t.co"),
            (40, "DE", "mobile", None),
        ]
    ]
    with app.app_context():
        store_scans(events)
        db.session.commit()
        summary = analytics.scan_summary(db.session.get(Code, code_id), 30)
    page.goto(f"{base}/codes/{code_id}")

    def metric(name):
        return page.locator(f'[data-metric="{name}"]').inner_text().strip()

    assert metric("total") == str(summary["scans"]["total"]) == "6"
    assert metric("last7") == str(summary["scans"]["last7"])
    assert metric("window_total") == str(summary["analytics"]["window_total"])
    assert metric("topCountry") == "Germany"
    countries = page.locator('[data-breakdown="country"] tbody tr').all_inner_texts()
    assert countries[0].startswith("Germany")
    assert [int(text.split()[-1]) for text in countries] == [
        row["n"] for row in summary["analytics"]["by_country"]
    ]
    page.get_by_role("link", name="7 days").click()
    page.wait_for_url(re.compile(r"days=7"))
    page.locator('.segmented a[aria-current="true"]', has_text="7 days").wait_for()
    with app.app_context():
        week = analytics.scan_summary(db.session.get(Code, code_id), 7)
    assert metric("window_total") == str(week["analytics"]["window_total"])
    assert page.locator("svg.chart rect.bar").count() == 7
