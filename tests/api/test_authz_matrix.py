"""For EVERY /v1 route (read from the app's url_map, so none can be forgotten):
no key is a 401, and another account's resource is a 404 that changes nothing."""

from __future__ import annotations

import re

import pytest

from openqr.api import PUBLIC_ENDPOINTS

# A plausible body for each endpoint that takes one; the request must fail for authz, not shape.
BODIES = {
    "api.codes.create": {"destination": "https://example.com/new"},
    "api.codes.bulk": {"codes": [{"destination": "https://example.com/new"}]},
    "api.codes.patch": {"destination": "https://evil.example/", "label": "Stolen", "slug": "stolen"},
    "api.folders.create": {"name": "Theirs"},
    "api.folders.rename": {"name": "Stolen"},
    "api.webhooks.create": {"url": "https://hooks.example.com/in", "events": ["scan"]},
    "api.sheets.create": {"tag": "a"},  # the owner's tag: another account's sheet finds none of it
}
# Path variables and which of the owner's resources fills them. A new kind fails the test.
RESOURCES = {"code_id": "code", "folder_id": "folder", "webhook_id": "webhook"}


def _routes(app) -> list[tuple[str, str, str]]:
    """Every /v1 route of the app as (rule, method, endpoint)."""
    return [
        (rule.rule, method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/v1")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]


def test_the_matrix_knows_every_path_variable(app):
    variables = {name for rule, _m, _e in _routes(app) for name in re.findall(r"<(?:\w+:)?(\w+)>", rule)}
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


def test_no_key_is_a_401(app, client, owned, api):
    """Every route: without a key, a 401 (the public document: 200) and nothing changes."""
    before = _snapshot(api, owned)
    for rule, method, endpoint in _routes(app):
        response = client.open(_url(rule, owned), method=method, json=BODIES.get(endpoint))
        if endpoint in PUBLIC_ENDPOINTS:
            assert response.status_code == 200, (method, rule)
        else:
            assert response.status_code == 401, (method, rule)
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), (method, rule)
            assert response.get_json()["error"] == "unauthorized", (method, rule)
        assert _snapshot(api, owned) == before, (method, rule)


def test_another_accounts_resource_is_a_404_and_changes_nothing(app, api, other_api, owned):
    """Every route: another account's id is a 404, an id-less call sees only the caller's rows."""
    before = _snapshot(api, owned)
    for rule, method, endpoint in _routes(app):
        response = other_api.client.open(
            _url(rule, owned), method=method, json=BODIES.get(endpoint), headers=other_api._headers(None)
        )
        if "<" in rule:
            assert response.status_code == 404, (method, rule, response.get_json())
            assert response.get_json()["error"] == "not_found", (method, rule)
        else:
            # No id in the path: the call acts on the caller's own account only.
            assert response.status_code < 500, (method, rule)
            body = response.get_data(as_text=True)
            assert owned["code"] not in body and owned["folder"] not in body, (method, rule)
            assert owned["webhook"] not in body, (method, rule)
        assert _snapshot(api, owned) == before, (method, rule)
