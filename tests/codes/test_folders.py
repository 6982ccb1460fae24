"""/v1/folders: create, list, rename, delete (which un-files codes)."""

import pytest


def test_folder_lifecycle(api):
    response = api.post("/v1/folders", json={"name": "  Table   menus "})
    assert response.status_code == 201
    folder = response.get_json()
    assert folder["name"] == "Table menus" and folder["id"]
    code = api.create(folder_id=folder["id"])
    listed = api.get("/v1/folders").get_json()["folders"]
    assert listed == [{**folder, "code_count": 1}]
    renamed = api.patch(f"/v1/folders/{folder['id']}", json={"name": "Menus"})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Menus"
    assert api.delete(f"/v1/folders/{folder['id']}").get_json() == {"deleted": True}
    assert api.get(f"/v1/dynamic/{code['id']}").get_json()["folder_id"] is None
    assert api.get("/v1/folders").get_json()["folders"] == []
    assert api.delete(f"/v1/folders/{folder['id']}").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": 3},
        {"name": "x" * 101},
        {"name": "ok", "colour": "red"},
        ["x"],
    ],
)
def test_bad_folder_bodies_are_400(api, body):
    response = api.post("/v1/folders", json=body)
    assert response.status_code == 400
    assert response.get_json()["field"] == "name"


def test_unknown_folder_is_404(api):
    assert api.patch("/v1/folders/nope", json={"name": "x"}).status_code == 404
    assert api.delete("/v1/folders/nope").status_code == 404
