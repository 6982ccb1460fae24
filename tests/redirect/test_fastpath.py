"""The WSGI fast path answers known links exactly as Flask's redirect view does, and never stale."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from openqr.extensions import db
from openqr.models import Scan
from openqr.redirect.fastpath import FastPath
from openqr.services import services
from tests.conftest import Api, make_app, new_key

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
SLACKBOT = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"


class Counting:
    """Wraps Flask's WSGI app (behind the fast path) to count the requests that reach it."""

    def __init__(self, app):
        self.fast = app.wsgi_app
        while not isinstance(self.fast, FastPath):  # layers in front of it (/mcp) come first
            self.fast = self.fast.wsgi_app
        self.inner, self.calls = self.fast.wsgi_app, 0
        self.fast.wsgi_app = self

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.inner(environ, start_response)


@pytest.fixture
def flask_calls(app):
    return Counting(app)


def scans(app) -> int:
    services(app).recorder.flush()
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(Scan)).scalar_one()


def answer(response):
    return response.status, sorted(response.headers.items()), response.get_data()


def flask_answer(app, path, method, headers):
    """The answer of Flask's redirect view itself, bypassing the fast path."""
    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    return Client(app.wsgi_app.wsgi_app, Response).open(path, method=method, headers=headers)


@pytest.mark.parametrize(
    ("method", "agent", "counted"),
    [("GET", IPHONE, 1), ("GET", "", 1), ("HEAD", IPHONE, 0), ("GET", SLACKBOT, 0)],
)
def test_fast_answer_is_flasks_answer(app, api, client, flask_calls, method, agent, counted):
    code = api.create("https://example.com/ünïcode?q=1")
    path, headers = f"/{code['slug']}", {"User-Agent": agent}
    flask_calls.calls = 0
    fast = client.open(path, method=method, headers=headers)
    assert flask_calls.calls == 0  # even the first scan of a link is answered by the fast path
    view = flask_answer(app, path, method, headers)
    assert answer(fast) == answer(view)
    assert fast.status_code == 302 and fast.headers["Cache-Control"] == "no-store"
    assert fast.headers["Location"] == "https://example.com/%C3%BCn%C3%AFcode?q=1"
    assert scans(app) == 2 * counted


def test_unknown_disabled_other_methods_and_paths_go_to_flask(app, api, client, runner, flask_calls):
    code = api.create()
    slug = code["slug"]
    client.get(f"/{slug}")
    calls = flask_calls.calls
    assert client.get("/no-such-code").status_code == 404
    assert client.post(f"/{slug}").status_code in (400, 405)
    assert client.get(f"/{slug}/").status_code in (301, 308, 404)
    assert client.get("/healthz").status_code == 200
    assert flask_calls.calls == calls + 4
    assert runner.invoke(args=["codes", "disable", slug]).exit_code == 0
    assert client.get(f"/{slug}").status_code == 410  # the very next scan
    assert flask_calls.calls == calls + 5  # the 410 page is Flask's
    assert runner.invoke(args=["codes", "enable", slug]).exit_code == 0
    assert client.get(f"/{slug}").status_code == 302
    assert flask_calls.calls == calls + 5
    assert scans(app) == 2


def test_known_links_are_answered_without_a_database_query(tmp_path):
    """After the table is loaded, scans of any code, new or old, query nothing (scans are written
    by the recorder's own thread)."""
    from sqlalchemy import event

    from tests.conftest import close_app, fresh_app

    app = fresh_app(tmp_path, OPENQR_SCAN_SYNC=False)
    client, api = app.test_client(), Api(app.test_client(), new_key(app))
    created = [api.create(f"https://example.com/{n}") for n in range(5)]
    table = services(app).links
    table.start()
    table.poll()  # the codes created above are in memory (a poll, as the feed thread makes)
    queries = []

    def count(_connection, _cursor, statement, *_args):
        if threading.current_thread() is threading.main_thread():  # not the feed or flusher threads
            queries.append(statement)

    with app.app_context():
        engines = (table.engine, db.engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        for code in created * 20:
            assert (
                client.get(f"/{code['slug']}", headers={"User-Agent": IPHONE}).headers["Location"]
                == (code["destination"])
            )
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)
        close_app(app)
    assert queries == []
    assert scans(app) == 100


def test_a_change_by_any_writer_reaches_the_table_within_one_second(app, api, client):
    """A change made outside the app (an operator's SQL) reaches memory through the triggers' feed."""
    from sqlalchemy import text

    code = api.create("https://example.com/old")
    gone = api.create("https://example.com/gone")
    assert client.get(f"/{code['slug']}").headers["Location"] == "https://example.com/old"
    assert client.get(f"/{gone['slug']}").status_code == 302
    with app.app_context():
        db.session.execute(text("UPDATE codes SET destination = 'https://example.com/sql' WHERE id = :id"),
                           {"id": code["id"]})  # fmt: skip
        db.session.execute(text("DELETE FROM codes WHERE id = :id"), {"id": gone["id"]})
        db.session.commit()
    changed_at = time.monotonic()
    while client.get(f"/{code['slug']}").headers["Location"] != "https://example.com/sql":
        assert time.monotonic() - changed_at < 1.0
        time.sleep(0.02)
    assert client.get(f"/{gone['slug']}").status_code == 404


def test_a_capped_table_keeps_the_recent_links_and_looks_up_the_rest(tmp_path):
    from tests.conftest import close_app, fresh_app

    app = fresh_app(tmp_path, OPENQR_LINK_TABLE_SIZE=2)
    try:
        client, api = app.test_client(), Api(app.test_client(), new_key(app))
        created = [api.create(f"https://example.com/{n}") for n in range(4)]
        for _ in range(2):
            for code in created:
                assert client.get(f"/{code['slug']}").headers["Location"] == code["destination"]
        assert len(services(app).links) == 2
    finally:
        close_app(app)


def test_another_process_sees_a_change_within_one_second(app, api, tmp_path):
    """Two apps on one database file stand for two server processes."""
    other = make_app(tmp_path)
    other_client = other.test_client()
    code = api.create("https://example.com/old")
    slug = code["slug"]
    other_client.get(f"/{slug}")
    assert other_client.get(f"/{slug}").headers["Location"] == "https://example.com/old"
    changed_at = time.monotonic()
    api.patch(f"/v1/dynamic/{code['id']}", json={"destination": "https://example.com/new"})
    while other_client.get(f"/{slug}").headers["Location"] != "https://example.com/new":
        assert time.monotonic() - changed_at < 1.0
        time.sleep(0.02)
    api.delete(f"/v1/dynamic/{code['id']}")
    time.sleep(1.0)
    assert other_client.get(f"/{slug}").status_code == 404
    with other.app_context():
        db.engine.dispose()


def test_scans_of_another_apps_cache_are_not_mixed_up(app, tmp_path):
    """Each app keeps its own link cache: one test's slugs never answer in another app."""
    api = Api(app.test_client(), new_key(app))
    code = api.create("https://example.com/a", slug="same-slug")
    app.test_client().get("/same-slug")
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    from tests.conftest import empty_database

    empty_database(other_dir)
    other = make_app(other_dir)
    assert other.test_client().get("/same-slug").status_code == 404
    assert code["slug"] == "same-slug"
    with other.app_context():
        db.engine.dispose()


@settings(deadline=None, max_examples=300)  # a pure function; the machine may be busy
@given(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
    st.sampled_from(["https://example.com", "http://shop.example.co.uk:8080", "https://EXAMPLE.com"]),
)
def test_location_is_what_werkzeug_would_send(tail, base):
    """The shortcut for destinations that are already URIs never changes what visitors get."""
    from werkzeug.urls import iri_to_uri

    from openqr.redirect.links import location_of

    for destination in (f"{base}/{tail}", f"{base}/p?{tail}", f"{base}/#{tail}"):
        assert location_of(destination) == iri_to_uri(destination)
