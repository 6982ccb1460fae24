"""The published contract: served publicly, in step with the routes, rendered at /docs."""

from __future__ import annotations

import re

from jsonschema import Draft202012Validator

from openqr.api import PUBLIC_ENDPOINTS
from openqr.api.docs import SWAGGER_UI
from openqr.api.openapi import spec
from openqr.codes import core as codes
from openqr.extensions import db
from openqr.models import Code


def _operations(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/v1"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            found |= {(method.lower(), path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def test_the_document_is_public_json(client, app):
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    assert document == spec(app.config["OPENQR_BASE_URL"])
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": "http://qr.test"}]
    assert "api.openapi_document" in PUBLIC_ENDPOINTS


def test_every_route_is_documented_and_nothing_else(app):
    document = spec()
    documented = {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert documented == _operations(app)


def test_every_operation_documents_its_errors(app):
    for path, item in spec()["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            statuses = set(operation["responses"])
            assert "405" in statuses, (method, path)
            public = operation.get("security") == []
            assert ("401" in statuses) is not public, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= statuses, (method, path)
            if "{" in path:
                assert "404" in statuses, (method, path)
    creates = spec()["paths"]["/v1/dynamic"]["post"]["responses"]
    assert {"409", "429"} <= set(creates)
    rate_limited = spec()["components"]["responses"]["RateLimited"]
    assert {"Retry-After", "X-RateLimit-Limit"} <= set(rate_limited["headers"])
    assert "WWW-Authenticate" in spec()["components"]["responses"]["Unauthorized"]["headers"]


def test_bodies_refuse_unknown_fields_like_the_server(api):
    schemas = spec()["components"]["schemas"]
    for name in ("CodeCreate", "CodePatch", "BulkCreate", "FolderName", "StyleIn", "QrCreate"):
        assert schemas[name]["additionalProperties"] is False, name
    assert set(schemas["CodePatch"]["properties"]) == {
        "destination",
        "label",
        "slug",
        "tags",
        "folder_id",
        "style",
        *("rules", "split", "schedule", "expires_at", "max_scans", "fallback_url", "utm"),
    }
    assert set(schemas["CodePatch"]["properties"]) == set(codes.EDITABLE_FIELDS)
    response = api.post("/v1/dynamic", json={"destination": "https://example.com/", "colour": "red"})
    assert response.status_code == 400 and response.get_json()["error"] == "unknown_field"


def test_the_docs_page_renders_the_document_with_vendored_files(client):
    response = client.get("/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-spec-url="/v1/openapi.json"' in html
    assert f"/static/{SWAGGER_UI}/swagger-ui-bundle.js" in html and "/static/docs.js" in html
    assert "http://" not in html.replace('xmlns="http://', "") and "https://" not in html  # no CDN
    assert client.get(f"/static/{SWAGGER_UI}/LICENSE").status_code == 200


def test_the_code_schema_matches_code_json_field_by_field(app, api, runner):
    """Every field `codes.code_json` writes is documented, required, and valid against its schema."""
    folder = api.post("/v1/folders", json={"name": "Posters"}).get_json()
    styled = api.create(
        label="Spring — bus stops",
        tags=["menu", "print"],
        folder_id=folder["id"],
        style={"dark": "#123", "light": "transparent", "ecc": "h", "margin": 2},
        slug="spring-menu",
    )
    plain = api.create()
    assert runner.invoke(args=["codes", "disable", plain["slug"]]).exit_code == 0
    smart = api.create(
        rules=[{"when": {"os": ["ios"], "country": ["de"]}, "destination": "https://example.com/ios"}],
        split=[
            {"destination": "https://example.com/a", "weight": 1},
            {"destination": "https://b.com", "weight": 9},
        ],
        schedule=[{"at": "2099-01-01T00:00:00+01:00", "destination": "https://example.com/later"}],
        expires_at="2020-01-01T00:00:00Z",  # ended
        max_scans=5,
        fallback_url="https://example.com/over",
        utm={"source": "poster", "content": "a b"},
    )
    document = spec()
    schema = document["components"]["schemas"]["Code"]
    with app.app_context():
        bodies = [codes.code_json(db.session.get(Code, body["id"])) for body in (styled, plain, smart)]
    assert bodies[0] == api.get(f"/v1/dynamic/{styled['id']}").get_json()
    for body in bodies:
        assert list(body) == schema["required"] and set(body) == set(schema["properties"])
        for field, value in body.items():
            validator = Draft202012Validator(
                {**schema["properties"][field], "components": document["components"]}
            )
            assert not list(validator.iter_errors(value)), (field, value)
    assert {body["status"] for body in bodies} == set(schema["properties"]["status"]["enum"])
