"""The WSGI fast path answers known links exactly as Flask's redirect view does, and never stale."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from openqr.extensions import db
from openqr.fastpath import FastPath
from openqr.models import Scan

from .conftest import Api, make_app, new_key

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
    app.extensions["openqr.flush"]()
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(Scan)).scalar_one()


def answer(response):
    return response.status, sorted(response.headers.items()), response.get_data()


@pytest.mark.parametrize(
    ("method", "agent", "counted"),
    [("GET", IPHONE, 1), ("GET", "", 1), ("HEAD", IPHONE, 0), ("GET", SLACKBOT, 0)],
)
def test_fast_answer_is_flasks_answer(app, api, client, flask_calls, method, agent, counted):
    code = api.create("https://example.com/ünïcode?q=1")
    path, headers = f"/{code['slug']}", {"User-Agent": agent}
    flask_calls.calls = 0
    first = client.open(path, method=method, headers=headers)
    assert flask_calls.calls == 1
    second = client.open(path, method=method, headers=headers)
    assert flask_calls.calls == 1  # answered by the fast path
    assert answer(second) == answer(first)
    assert first.status_code == 302 and first.headers["Cache-Control"] == "no-store"
    assert first.headers["Location"] == "https://example.com/%C3%BCn%C3%AFcode?q=1"
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
    assert client.get(f"/{slug}").status_code == 410
    assert flask_calls.calls == calls + 5
    assert scans(app) == 1


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
    from .conftest import empty_database

    empty_database(other_dir)
    other = make_app(other_dir)
    assert other.test_client().get("/same-slug").status_code == 404
    assert code["slug"] == "same-slug"
    with other.app_context():
        db.engine.dispose()
