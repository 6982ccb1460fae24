"""Account B sees none of account A's rows in lists, folders or slugs (404s: test_authz_matrix.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def owned(api):
    folder = api.post("/v1/folders", json={"name": "Mine"}).get_json()
    code = api.create("https://example.com/mine", label="Mine", folder_id=folder["id"])
    return code, folder


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
