"""The overview page, the time-zone choice, and the same numbers on the API, the overview and a code page."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from openqr.auth.accounts import get_or_create_account
from openqr.auth.keys import create_key
from openqr.auth.workspaces import first_workspace
from openqr.extensions import db
from openqr.models import Account, utcnow
from openqr.scans.classify import ScanEvent
from openqr.scans.store import store_scans
from tests.conftest import Api, sign_in
from tests.dashboard.test_dashboard import HX, make_code
from tests.support.htmlparse import Page, table_rows


@pytest.fixture
def web(web_app):
    client = web_app.test_client()
    sign_in(client, web_app)
    return client


def store(app, code_id, at, count, country="GB", visitor=None):
    events = [
        ScanEvent(code_id, at, country, "mobile", None, visitor=f"{visitor}-{i}\nAgent" if visitor else None)
        for i in range(count)
    ]
    with app.app_context():
        assert store_scans(events) == count


def metrics(html: str) -> dict[str, str]:
    """The tiles a person reads: {data-metric: its text}."""
    found = {}
    for _tag, attrs in Page(html).elements:
        name = attrs.get("data-metric")
        if name:
            start = html.index(f'data-metric="{name}">') + len(f'data-metric="{name}">')
            found[name] = html[start : html.index("<", start)].strip()
    return found


def test_front_door_is_the_overview_once_there_are_codes(web, web_app):
    assert web.get("/").headers["Location"] == "/codes"
    make_code(web_app)
    assert web.get("/").headers["Location"] == "/overview"


def test_overview_shows_top_codes_linking_to_their_pages_and_filters_by_folder_and_tag(web, web_app):
    with web_app.app_context():
        account = get_or_create_account("owner@example.com")
        from openqr.codes import folders

        folder = folders.create_folder(account, {"name": "Events"})
        folder_id = folder.id
    poster = make_code(web_app, label="Poster", folder_id=folder_id)
    menu = make_code(web_app, label="Menu", tags=["print"])
    now = utcnow()
    store(web_app, poster, now, 5)
    store(web_app, menu, now, 3, country="FR")
    page = Page(web.get("/overview").text)
    links = [a["href"] for a in page.find_all("a") if a.get("href", "").endswith("?days=30")]
    assert links[:2] == [f"/codes/{poster}?days=30", f"/codes/{menu}?days=30"]
    assert "Poster" in page.text and "France" in page.text
    assert page.has("svg", **{"class": "heat heat-wide"}) and page.has("svg", **{"class": "heat heat-tall"})
    narrowed = web.get(f"/overview?folder={folder_id}", headers=HX)
    assert narrowed.text.lstrip().startswith('<section class="card analytics" id="overview"')
    assert metrics(narrowed.text)["window_total"] == "5" and "Menu" not in Page(narrowed.text).text
    assert metrics(web.get("/overview?tag=print").text)["window_total"] == "3"
    rows = list(csv.reader(io.StringIO(web.get(f"/overview/scans.csv?folder={folder_id}&days=7").text)))
    assert rows[0] == ["section", "key", "name", "scans", "unique"]
    assert [row[2:4] for row in rows if row[0] == "code"] == [["Poster", "5"]]
    assert sum(int(row[3]) for row in rows if row[0] == "day") == 5


def test_another_accounts_folder_is_not_found_on_the_overview(web, web_app):
    with web_app.app_context():
        from openqr.codes import folders

        other = get_or_create_account("else@example.org")
        folder_id = folders.create_folder(other, {"name": "Theirs"}).id
    assert web.get(f"/overview?folder={folder_id}").status_code == 404


def test_time_zone_is_saved_for_the_account_and_a_bad_one_is_explained(web, web_app):
    code = make_code(web_app)
    response = web.post("/settings/timezone", data={"tz": "America/Los_Angeles", "next": f"/codes/{code}"})
    assert response.status_code == 303 and response.headers["Location"] == f"/codes/{code}"
    with web_app.app_context():
        assert db.session.scalar(db.select(Account.timezone)) == "America/Los_Angeles"
    page = web.get(f"/codes/{code}").text
    assert "(America/Los_Angeles)" in Page(page).text
    assert "cannot be cut into the days of a time zone" in Page(page).text  # why unique is missing
    bad = web.post("/settings/timezone", data={"tz": "Mars/Olympus", "next": "//evil.example/"})
    assert bad.status_code == 400
    text = Page(bad.text).text
    assert "must be an IANA time zone name" in text
    with web_app.app_context():
        assert db.session.scalar(db.select(Account.timezone)) == "America/Los_Angeles"
    ok = web.post("/settings/timezone", data={"tz": "UTC", "next": "//evil.example/"})
    assert ok.headers["Location"] == "/overview"  # never another host


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles"])
def test_api_overview_and_code_page_show_the_same_numbers(web, web_app, zone):
    code = make_code(web_app, label="Menu")
    other = make_code(web_app, label="Poster")
    now = utcnow()
    store(web_app, code, now, 4, visitor="a")
    store(web_app, code, now - dt.timedelta(days=3, hours=5), 6, country="DE", visitor="b")
    store(web_app, other, now - dt.timedelta(days=1), 2, visitor="c")
    with web_app.app_context():
        account = get_or_create_account("owner@example.com")
        account.timezone = zone
        _key, plain = create_key(first_workspace(account), "compare", created_by=account)
        db.session.commit()
    api = Api(web_app.test_client(), plain)
    account_json = api.get(f"/v1/scans?days=7&tz={zone}").get_json()
    code_json = api.get(f"/v1/dynamic/{code}/scans?days=7&tz={zone}").get_json()

    def shown(value):
        return "—" if value is None else f"{value:,}"

    overview = web.get("/overview?days=7").text
    tiles = metrics(overview)
    assert tiles["total"] == shown(account_json["total"])
    assert tiles["window_total"] == shown(account_json["window_total"])
    assert tiles["window_unique"] == shown(account_json["window_unique"])
    top = table_rows(overview, "data-table", "by_code")
    assert [row[-1] for row in top[1:]] == [str(row["n"]) for row in account_json["by_code"]]
    heat = table_rows(overview, "data-table", "weekday-hour")[1:]
    assert [int(row[-1]) for row in heat] == [d["n"] for d in account_json["by_weekday"]]
    assert [[int(n) for n in row[1:-1]] for row in heat] == account_json["by_weekday_hour"]
    countries = table_rows(overview, "data-breakdown", "country")[1:]
    assert [row[-1] for row in countries] == [str(row["n"]) for row in account_json["by_country"]]

    page = web.get(f"/codes/{code}?days=7").text
    tiles = metrics(page)
    a = code_json["analytics"]
    assert tiles["total"] == shown(code_json["scans"]["total"])
    assert tiles["window_total"] == shown(a["window_total"])
    assert tiles["window_unique"] == shown(a["window_unique"])
    heat = table_rows(page, "data-table", "weekday-hour")[1:]
    assert [[int(n) for n in row[1:-1]] for row in heat] == a["by_weekday_hour"]
    assert a["window_total"] == 10 and account_json["window_total"] == 12
    if zone == "UTC":  # visitors count on the day of the flush only: today's four
        assert (a["window_unique"], account_json["window_unique"]) == (4, 4)
    else:
        assert a["window_unique"] is None and tiles["window_unique"] == "—"
