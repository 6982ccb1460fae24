"""For EVERY /v1 route (read from the app's url_map, so none can be forgotten):
no key is a 401, and another account's resource is a 404 that changes nothing."""

from __future__ import annotations

import re

import pytest

from openqr.api import PUBLIC_ENDPOINTS
from tests.conftest import make_app

# A plausible body for each endpoint that takes one; the request must fail for authz, not shape.
BODIES = {
    "api.codes.create": {"destination": "https://example.com/new"},
    "api.codes.bulk": {"codes": [{"destination": "https://example.com/new"}]},
    "api.codes.patch": {"destination": "https://evil.example/", "label": "Stolen", "slug": "stolen"},
    "api.folders.create": {"name": "Theirs"},
    "api.folders.rename": {"name": "Stolen"},
    "api.webhooks.create": {"url": "https://hooks.example.com/in", "events": ["scan"]},
}
# Path variables and which of the owner's resources fills them. A new kind fails the test.
RESOURCES = {"code_id": "code", "folder_id": "folder", "webhook_id": "webhook"}


def _routes():
    app = make_app_for_listing()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield pytest.param(rule.rule, method, rule.endpoint, id=f"{method} {rule.rule}")


def make_app_for_listing():
    import tempfile
    from pathlib import Path

    return make_app(Path(tempfile.mkdtemp(prefix="openqr-urlmap-")))


ROUTES = list(_routes())


def test_the_matrix_covers_every_route():
    assert len(ROUTES) >= 13
    variables = {name for param in ROUTES for name in re.findall(r"<(?:\w+:)?(\w+)>", param.values[0])}
    assert variables <= set(RESOURCES), (
        f"add the new path variables to RESOURCES: {variables - set(RESOURCES)}"
    )


def _url(rule: str, ids: dict[str, str]) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: ids[RESOURCES[m.group(1)]], rule)


@pytest.fixture
def owned(api):
    folder = api.post("/v1/folders", json={"name": "Mine"}).get_json()
    code = api.create("https://example.com/mine", label="Mine", folder_id=folder["id"], tags=["a"])
    hook = api.post("/v1/webhooks", json={"url": "https://hooks.example.com/mine", "events": ["scan"]})
    return {"code": code["id"], "folder": folder["id"], "webhook": hook.get_json()["id"]}


def _snapshot(api, owned):
    return (
        api.get(f"/v1/dynamic/{owned['code']}").get_json(),
        api.get("/v1/dynamic").get_json(),
        api.get("/v1/folders").get_json(),
        api.get(f"/v1/dynamic/{owned['code']}/scans").get_json()["scans"],
        api.get("/v1/webhooks").get_json(),
    )


@pytest.mark.parametrize(("rule", "method", "endpoint"), ROUTES)
def test_no_key_is_a_401(client, owned, api, rule, method, endpoint):
    before = _snapshot(api, owned)
    response = client.open(_url(rule, owned), method=method, json=BODIES.get(endpoint))
    if endpoint in PUBLIC_ENDPOINTS:
        assert response.status_code == 200
    else:
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.get_json()["error"] == "unauthorized"
    assert _snapshot(api, owned) == before


@pytest.mark.parametrize(("rule", "method", "endpoint"), ROUTES)
def test_another_accounts_resource_is_a_404_and_changes_nothing(
    api, other_api, owned, rule, method, endpoint
):
    before = _snapshot(api, owned)
    response = other_api.client.open(
        _url(rule, owned), method=method, json=BODIES.get(endpoint), headers=other_api._headers(None)
    )
    if "<" in rule:
        assert response.status_code == 404, response.get_json()
        assert response.get_json()["error"] == "not_found"
    else:
        # No id in the path: the call acts on the caller's own account only.
        assert response.status_code < 500
        body = response.get_data(as_text=True)
        assert owned["code"] not in body and owned["folder"] not in body and owned["webhook"] not in body
    assert _snapshot(api, owned) == before
