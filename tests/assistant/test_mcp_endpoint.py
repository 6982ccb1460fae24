"""`/mcp` in front of the app: the key check, the reserved slug, a code that had the slug `mcp`,
and the switch that turns the endpoint off (in-process; the SDK is not loaded for these)."""

from __future__ import annotations

import logging

import pytest

from openqr import assistant
from openqr.extensions import db
from openqr.models import Code
from tests.conftest import close_app, fresh_app, new_key


def _legacy_mcp_code(app) -> str:
    """A code that took the slug `mcp` before it was reserved (written as an old version would)."""
    new_key(app, "old@example.com")
    with app.app_context():
        code = Code(workspace_id=1, slug="mcp", destination="https://example.com/old-menu", style={})
        db.session.add(code)
        db.session.commit()
        return code.id


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_every_method_without_a_key_is_the_apis_401(client, method):
    response = client.open("/mcp", method=method, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="openqr"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_json() == client.get("/v1/dynamic").get_json()


def test_mcp_is_a_reserved_slug(api):
    response = api.post("/v1/dynamic", json={"destination": "https://example.com/", "slug": "mcp"})
    assert response.status_code == 400
    assert response.get_json()["field"] == "slug" and "reserved" in response.get_json()["message"]


def test_a_code_that_had_the_slug_mcp_keeps_its_row_and_the_endpoint_wins(app, client, caplog):
    code_id = _legacy_mcp_code(app)
    for _ in range(2):  # the second GET would come from the redirect's fast path, if it were reached
        response = client.get("/mcp")
        assert response.status_code == 401
    with app.app_context(), caplog.at_level(logging.WARNING):
        assistant.warn_shadowed_slug(app)
        assert db.session.get(Code, code_id).slug == "mcp"
    assert [record.getMessage() for record in caplog.records if code_id in record.getMessage()]


def test_with_the_endpoint_off_mcp_is_an_ordinary_path(tmp_path, caplog):
    app = fresh_app(tmp_path, OPENQR_MCP=False)
    try:
        client = app.test_client()
        assert client.post("/mcp", json={}).status_code in (404, 405)
        _legacy_mcp_code(app)
        response = client.get("/mcp")
        assert response.status_code == 302
        assert response.headers["Location"] == "https://example.com/old-menu"
        with app.app_context(), caplog.at_level(logging.WARNING):
            assistant.warn_shadowed_slug(app)
        assert not caplog.records
    finally:
        close_app(app)
