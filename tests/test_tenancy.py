"""Account B gets 404 for everything of account A's, and changes nothing."""

from __future__ import annotations

import pytest


@pytest.fixture
def owned(api):
    folder = api.post("/v1/folders", json={"name": "Mine"}).get_json()
    code = api.create("https://example.com/mine", label="Mine", folder_id=folder["id"])
    return code, folder


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/v1/dynamic/{code}", None),
        ("patch", "/v1/dynamic/{code}", {"destination": "https://evil.example/"}),
        ("delete", "/v1/dynamic/{code}", None),
        ("get", "/v1/dynamic/{code}/scans", None),
        ("get", "/v1/dynamic/{code}/qr", None),
        ("patch", "/v1/folders/{folder}", {"name": "Stolen"}),
        ("delete", "/v1/folders/{folder}", None),
    ],
)
def test_another_accounts_resources_are_404_and_unchanged(api, other_api, owned, method, path, body):
    code, folder = owned
    url = path.format(code=code["id"], folder=folder["id"])
    kwargs = {"json": body} if body is not None else {}
    response = getattr(other_api, method)(url, **kwargs)
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"
    assert api.get(f"/v1/dynamic/{code['id']}").get_json() == code
    assert api.get("/v1/folders").get_json()["folders"][0]["name"] == "Mine"


def test_lists_show_only_ones_own(api, other_api, owned):
    assert other_api.get("/v1/dynamic").get_json()["codes"] == []
    assert other_api.get("/v1/folders").get_json()["folders"] == []
    _code, folder = owned
    assert other_api.get(f"/v1/dynamic?folder_id={folder['id']}").get_json()["codes"] == []


def test_cannot_file_into_another_accounts_folder(api, other_api, owned):
    _code, folder = owned
    response = other_api.post(
        "/v1/dynamic", json={"destination": "https://example.com", "folder_id": folder["id"]}
    )
    assert response.status_code == 400 and response.get_json()["field"] == "folder_id"
    mine = other_api.create()
    response = other_api.patch(f"/v1/dynamic/{mine['id']}", json={"folder_id": folder["id"]})
    assert response.status_code == 400


def test_cannot_take_another_accounts_slug(api, other_api):
    api.create(slug="shared-name")
    response = other_api.post(
        "/v1/dynamic", json={"destination": "https://example.com", "slug": "shared-name"}
    )
    assert response.status_code == 409
