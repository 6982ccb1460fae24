"""Shared fixtures: an app with a fresh database per test, clients, keys."""

from __future__ import annotations

import pytest

from openqr import create_app
from openqr.extensions import db
from openqr.keys import create_key, get_or_create_account


def make_app(tmp_path, **overrides):
    config = {
        "TESTING": True,
        "OPENQR_DATABASE_URL": f"sqlite:///{tmp_path / 'test.db'}",
        "OPENQR_SECRET_KEY": "test-secret",
        "OPENQR_BASE_URL": "http://qr.test",
        "OPENQR_SHORT_BASE_URL": "https://go.test",
    }
    config.update(overrides)
    return create_app(config, instance_path=str(tmp_path / "instance"))


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def new_key(app, email: str = "owner@example.com", name: str = "") -> str:
    """A fresh API key (and account) for `email`."""
    with app.app_context():
        account = get_or_create_account(email)
        _key, plain = create_key(account, name)
        return plain


class Api:
    """A test client that sends one account's key with every call."""

    def __init__(self, client, key: str):
        self.client, self.key = client, key

    def _headers(self, headers):
        return {"Authorization": f"Bearer {self.key}", **(headers or {})}

    def get(self, path, headers=None, **kw):
        return self.client.get(path, headers=self._headers(headers), **kw)

    def head(self, path, headers=None, **kw):
        return self.client.head(path, headers=self._headers(headers), **kw)

    def delete(self, path, headers=None, **kw):
        return self.client.delete(path, headers=self._headers(headers), **kw)

    def post(self, path, json=None, headers=None, **kw):
        return self.client.post(path, json=json, headers=self._headers(headers), **kw)

    def patch(self, path, json=None, headers=None, **kw):
        return self.client.patch(path, json=json, headers=self._headers(headers), **kw)

    def create(self, destination="https://example.com/page", **fields) -> dict:
        response = self.post("/v1/dynamic", json={"destination": destination, **fields})
        assert response.status_code == 201, response.get_json()
        return response.get_json()


@pytest.fixture
def api(app, client):
    return Api(client, new_key(app, "owner@example.com"))


@pytest.fixture
def other_api(app):
    return Api(app.test_client(), new_key(app, "someone-else@example.org"))
