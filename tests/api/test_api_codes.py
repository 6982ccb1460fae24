"""The /v1/dynamic endpoints: every status code and JSON shape a client relies on."""

from __future__ import annotations

import pytest

from openqr.codes import core as codes
from openqr.extensions import db
from openqr.models import Code

CODE_FIELDS = {
    "id",
    "slug",
    "short_url",
    "destination",
    "label",
    "tags",
    "folder_id",
    "style",
    "status",
    "created_at",
    "updated_at",
    # smart destinations (null when unused)
    "rules",
    "split",
    "schedule",
    "expires_at",
    "max_scans",
    "fallback_url",
    "utm",
}


def test_create_returns_201_with_the_guides_fields(api):
    response = api.post(
        "/v1/dynamic",
        json={"destination": "https://example.com/spring-launch", "label": "Spring poster — bus stops"},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == CODE_FIELDS
    assert body["destination"] == "https://example.com/spring-launch"
    assert body["label"] == "Spring poster — bus stops"
    assert len(body["slug"]) == 7 and body["slug"].isalnum()
    assert body["short_url"] == f"https://go.test/{body['slug']}"
    assert body["status"] == "active" and body["tags"] == [] and body["folder_id"] is None
    assert body["created_at"].endswith("Z")
    assert response.headers["Location"] == f"/v1/dynamic/{body['id']}"


def test_create_accepts_slug_tags_and_style(api):
    body = api.create(slug="spring-sale", tags=["Print", "print", " Bus  Stops "], style={"dark": "#112233"})
    assert body["slug"] == "spring-sale"
    assert body["tags"] == ["print", "bus stops"]
    assert body["style"]["dark"] == "#112233"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "destination"),
        ({"destination": "https://go.test/abc1234"}, "destination"),
        ({"destination": 42}, "destination"),
        ({"destination": "https://example.com", "label": 5}, "label"),
        ({"destination": "https://example.com", "slug": "Spring"}, "slug"),
        ({"destination": "https://example.com", "tags": "a,b"}, "tags"),
        ({"destination": "https://example.com", "folder_id": "nope"}, "folder_id"),
        ({"destination": "https://example.com", "style": {"dark": "red"}}, "style.dark"),
        ({"destination": "https://example.com", "colour": "red"}, "colour"),
    ],
)
def test_create_rejects_bad_input_with_a_json_400(api, body, field):
    """One refusal per field, for the API's error shape; the rules themselves are tested in
    test_destinations.py (the destination table) and test_properties.py (slugs, tags, labels)."""
    response = api.post("/v1/dynamic", json=body)
    assert response.status_code == 400
    error = response.get_json()
    assert error["field"] == field
    assert error["error"] and error["message"].endswith(".")


def test_create_rejects_non_json_with_415_and_bad_json_with_400(api):
    response = api.post(
        "/v1/dynamic",
        data="destination=https://example.com",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert response.get_json()["error"] == "unsupported_media_type"
    response = api.post("/v1/dynamic", data="{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_json"
    assert api.post("/v1/dynamic", json=["https://example.com"]).status_code == 400


def test_taken_custom_slug_is_409(api):
    api.create(slug="spring-sale")
    response = api.post("/v1/dynamic", json={"destination": "https://example.com", "slug": "spring-sale"})
    assert response.status_code == 409
    assert response.get_json()["error"] == "slug_taken"


def test_list_is_newest_first_with_limit_and_filters(api, app):
    first = api.create("https://example.com/1", label="Menu table 1", tags=["menu"])
    second = api.create("https://example.com/2", label="Poster", tags=["print"])
    third = api.create("https://shop.example.com/3", label="Menu table 2", tags=["menu"])
    listed = api.get("/v1/dynamic").get_json()["codes"]
    assert [c["id"] for c in listed] == [third["id"], second["id"], first["id"]]
    assert set(listed[0]) == CODE_FIELDS
    assert [c["id"] for c in api.get("/v1/dynamic?limit=2").get_json()["codes"]] == [
        third["id"],
        second["id"],
    ]
    assert [c["id"] for c in api.get("/v1/dynamic?limit=2&offset=2").get_json()["codes"]] == [first["id"]]
    assert [c["id"] for c in api.get("/v1/dynamic?tag=MENU").get_json()["codes"]] == [
        third["id"],
        first["id"],
    ]
    assert [c["id"] for c in api.get("/v1/dynamic?q=shop.").get_json()["codes"]] == [third["id"]]
    assert [c["id"] for c in api.get("/v1/dynamic?q=poster").get_json()["codes"]] == [second["id"]]
    assert api.get("/v1/dynamic?q=100%25").get_json()["codes"] == []


def test_list_filters_by_folder(api):
    folder = api.post("/v1/folders", json={"name": "Menus"}).get_json()
    filed = api.create(folder_id=folder["id"])
    api.create()
    listed = api.get(f"/v1/dynamic?folder_id={folder['id']}").get_json()["codes"]
    assert [c["id"] for c in listed] == [filed["id"]]


def test_limit_bounds_are_inclusive(api):
    """Inside and outside in general: tests/test_properties.py; here the edges themselves."""
    assert api.get("/v1/dynamic?limit=1").status_code == 200
    assert api.get(f"/v1/dynamic?limit={codes.LIST_MAX}").status_code == 200
    for limit in (0, codes.LIST_MAX + 1):
        response = api.get(f"/v1/dynamic?limit={limit}")
        assert response.status_code == 400 and response.get_json()["field"] == "limit"


def test_get_one_and_unknown_is_404(api):
    code = api.create()
    assert api.get(f"/v1/dynamic/{code['id']}").get_json() == code
    response = api.get("/v1/dynamic/doesnotexist")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_patch_changes_only_the_fields_sent(api):
    code = api.create("https://example.com/holding", label="Spring poster", tags=["print"])
    response = api.patch(f"/v1/dynamic/{code['id']}", json={"destination": "https://example.com/spring/live"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["destination"] == "https://example.com/spring/live"
    assert body["label"] == "Spring poster" and body["tags"] == ["print"] and body["slug"] == code["slug"]
    assert body["updated_at"] >= code["updated_at"]


def test_patch_every_editable_field(api):
    folder = api.post("/v1/folders", json={"name": "Events"}).get_json()
    code = api.create(label="Old")
    body = api.patch(
        f"/v1/dynamic/{code['id']}",
        json={
            "label": None,
            "slug": "spring-sale",
            "tags": ["A", "b", "a"],
            "folder_id": folder["id"],
            "style": {"dark": "#223344", "ecc": "H", "margin": 2},
        },
    ).get_json()
    assert body["label"] is None and body["slug"] == "spring-sale" and body["tags"] == ["a", "b"]
    assert body["folder_id"] == folder["id"]
    assert body["style"] == {"dark": "#223344", "ecc": "H", "margin": 2}
    body = api.patch(f"/v1/dynamic/{code['id']}", json={"folder_id": None, "tags": []}).get_json()
    assert body["folder_id"] is None and body["tags"] == []


def test_patch_with_the_codes_own_random_slug_is_no_change(api):
    """A client that sends back what it read must not trip over the custom-slug rule."""
    code = api.create(label="Poster")
    response = api.patch(f"/v1/dynamic/{code['id']}", json={"slug": code["slug"], "label": "Poster 2"})
    assert response.status_code == 200
    assert response.get_json()["slug"] == code["slug"] and response.get_json()["label"] == "Poster 2"


def test_patch_errors(api):
    code = api.create()
    other = api.create(slug="taken-slug")
    assert api.patch(f"/v1/dynamic/{code['id']}", json={"nickname": "x"}).status_code == 400
    assert (
        api.patch(f"/v1/dynamic/{code['id']}", json={"destination": "javascript:alert(1)"}).status_code == 400
    )
    response = api.patch(f"/v1/dynamic/{code['id']}", json={"slug": "taken-slug"})
    assert response.status_code == 409
    # Setting a code's own slug again is not a conflict.
    assert api.patch(f"/v1/dynamic/{other['id']}", json={"slug": "taken-slug"}).status_code == 200
    assert api.patch("/v1/dynamic/nope", json={"label": "x"}).status_code == 404
    assert (
        api.patch(f"/v1/dynamic/{code['id']}", data="x", headers={"Content-Type": "text/plain"}).status_code
        == 415
    )


def test_delete_answers_deleted_true_then_404(api, app):
    code = api.create()
    response = api.delete(f"/v1/dynamic/{code['id']}")
    assert response.status_code == 200
    assert response.get_json() == {"deleted": True}
    assert api.delete(f"/v1/dynamic/{code['id']}").status_code == 404
    assert api.get(f"/v1/dynamic/{code['id']}").status_code == 404
    with app.app_context():
        assert db.session.get(Code, code["id"]) is None


def test_unknown_path_and_wrong_method_are_json(api):
    response = api.get("/v1/nothing-here")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    response = api.client.put("/v1/dynamic", headers={"Authorization": f"Bearer {api.key}"})
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


class TestBulk:
    def test_creates_all_in_input_order(self, api):
        items = [{"destination": f"https://example.com/table/{i}", "label": f"Table {i}"} for i in range(200)]
        items[3]["slug"] = "table-three"
        items[4]["tags"] = ["Tables"]
        response = api.post("/v1/dynamic/bulk", json={"codes": items})
        assert response.status_code == 201
        created = response.get_json()["codes"]
        assert [c["label"] for c in created] == [f"Table {i}" for i in range(200)]
        assert created[3]["slug"] == "table-three" and created[4]["tags"] == ["tables"]
        assert len({c["slug"] for c in created}) == 200
        assert len(api.get("/v1/dynamic?limit=500").get_json()["codes"]) == 200

    def test_one_bad_item_rejects_all_with_details(self, api):
        api.create(slug="taken")
        items = [
            {"destination": "https://example.com/ok"},
            {"destination": "http://10.0.0.1/"},
            {"destination": "https://example.com/x", "slug": "taken"},
            {"label": "no destination"},
            {"destination": "https://example.com/y", "slug": "dup-slug"},
            {"destination": "https://example.com/z", "slug": "dup-slug"},
        ]
        response = api.post("/v1/dynamic/bulk", json={"codes": items})
        assert response.status_code == 400
        error = response.get_json()
        assert error["error"] == "invalid_items"
        assert [d["index"] for d in error["details"]] == [1, 2, 3, 5]
        assert error["details"][0]["field"] == "destination"
        assert error["details"][1]["error"] == "slug_taken"
        assert len(api.get("/v1/dynamic").get_json()["codes"]) == 1  # only the earlier one

    @pytest.mark.parametrize(
        "body",
        [
            {"codes": []},
            {"codes": [{"destination": "https://e.com/x"}] * 201},
            {"codes": "x"},
            [],
            {"items": []},
        ],
    )
    def test_bad_shapes_are_400(self, api, body):
        response = api.post("/v1/dynamic/bulk", json=body)
        assert response.status_code == 400

    def test_bulk_has_its_own_budget(self, app, api):
        app.config["OPENQR_BULK_LIMIT"] = 2
        app.config["OPENQR_CREATE_LIMIT"] = 1
        body = {"codes": [{"destination": "https://example.com/a"}]}
        assert api.post("/v1/dynamic/bulk", json=body).status_code == 201
        assert api.post("/v1/dynamic/bulk", json=body).status_code == 201
        response = api.post("/v1/dynamic/bulk", json=body)
        assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
        # ...and bulk never used the single-create budget.
        assert api.post("/v1/dynamic", json={"destination": "https://example.com/b"}).status_code == 201
