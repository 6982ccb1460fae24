"""One filter rule for every list: GET /v1/dynamic and GET /v1/scans answer a filter alike."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select

from openqr.assistant.tools import BY_NAME
from openqr.codes import filters
from openqr.errors import ValidationError
from openqr.extensions import db
from openqr.models import Account, utcnow
from openqr.scans.classify import ScanEvent
from openqr.scans.store import store_scans

# Each list and the filters it takes.
LISTS = {"/v1/dynamic": ("tag", "folder_id", "q"), "/v1/scans": ("folder_id", "tag")}
EVERY_FILTER = [(path, name) for path, names in LISTS.items() for name in names]


def _get(api, path: str, **params):
    return api.get(path + "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items()))


def test_a_hundred_character_tag_gets_the_same_400_from_both_lists(api):
    answers = [_get(api, path, tag="t" * 100) for path in LISTS]
    assert [response.status_code for response in answers] == [400, 400]
    bodies = [response.get_json() for response in answers]
    assert bodies[0] == bodies[1]
    assert bodies[0]["field"] == "tag" and bodies[0]["error"] == "invalid_request"
    assert f"at most {filters.MAX_TAG_LENGTH} characters" in bodies[0]["message"]


@pytest.mark.parametrize(("path", "name"), EVERY_FILTER)
def test_each_filter_is_taken_up_to_its_limit_and_refused_beyond(api, path, name):
    limit = filters.MAX_LENGTHS[name]
    assert _get(api, path, **{name: "a" * limit}).status_code in (200, 404)  # 404: no such folder
    refused = _get(api, path, **{name: "a" * (limit + 1)})
    assert refused.status_code == 400, refused.get_json()
    assert refused.get_json()["field"] == name and f"at most {limit}" in refused.get_json()["message"]


@pytest.mark.parametrize(("path", "name"), EVERY_FILTER)
@pytest.mark.parametrize("text", ["a\x00b", "\x01", "a\x7f"])
def test_control_characters_in_any_filter_are_a_400_naming_it(api, path, name, text):
    response = _get(api, path, **{name: text})
    assert response.status_code == 400
    assert response.get_json()["field"] == name and "control characters" in response.get_json()["message"]


def test_a_tag_filter_is_folded_as_stored_tags_are_in_both_lists(app, api):
    """Tags are stored with white space folded and lower-cased; the filter gets the same folding."""
    tagged = api.create(tags=["Spring   Menu"])
    other = api.create(tags=["other"])
    assert tagged["tags"] == ["spring menu"]
    with app.app_context():
        store_scans([ScanEvent(code["id"], utcnow(), "GB", "mobile", None) for code in (tagged, other)])
    typed = "  SPRING \t menu "
    listed = _get(api, "/v1/dynamic", tag=typed).get_json()["codes"]
    assert [code["id"] for code in listed] == [tagged["id"]]
    summary = _get(api, "/v1/scans", tag=typed).get_json()
    assert summary["tag"] == "spring menu" and summary["total"] == 1
    assert [row["id"] for row in summary["by_code"]] == [tagged["id"]]


def test_the_longest_stored_tag_is_found_by_both_lists(api):
    tag = "x" * filters.MAX_TAG_LENGTH
    code = api.create(tags=[tag])
    assert [c["id"] for c in _get(api, "/v1/dynamic", tag=tag.upper()).get_json()["codes"]] == [code["id"]]
    assert _get(api, "/v1/scans", tag=tag).status_code == 200


def test_blank_filters_filter_nothing(api):
    made = api.create(tags=["menu"])
    for path in LISTS:
        assert _get(api, path, tag="   ", folder_id=" ").status_code == 200
    assert [c["id"] for c in _get(api, "/v1/dynamic", q="  ").get_json()["codes"]] == [made["id"]]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({}, filters.Filters()),
        ({"tag": " A  b ", "folder_id": " f1 ", "q": " Menu  2 "}, filters.Filters("a b", "f1", "Menu  2")),
        ({"tag": "", "q": None}, filters.Filters()),
    ],
)
def test_read_filters_cleans_each_value(args, expected):
    assert filters.read_filters(args) == expected


def test_read_filters_reads_a_renamed_parameter_and_refuses_other_types():
    assert (
        filters.read_filters({"folder": "f1"}, ("folder_id",), params={"folder_id": "folder"}).folder_id
        == "f1"
    )
    with pytest.raises(ValidationError) as refused:
        filters.read_filters({"tag": 5})
    assert refused.value.field == "tag" and "must be a string" in refused.value.message


def test_a_filter_refusal_is_the_same_error_through_the_assistant_tools(app, api):
    """list_codes and get_account_scans read their arguments with the same rule."""
    with app.app_context():
        account = db.session.execute(select(Account).where(Account.email == "owner@example.com")).scalar_one()
        for tool in ("list_codes", "get_account_scans"):
            with pytest.raises(ValidationError) as refused:
                BY_NAME[tool].run(account, {"tag": "t" * 100})
            assert refused.value.to_json() == _get(api, "/v1/scans", tag="t" * 100).get_json()


@pytest.mark.parametrize(("path", "name"), EVERY_FILTER)
def test_the_published_document_states_the_filter_rule(client, path, name):
    """The OpenAPI document reads each filter's bound from codes/filters.py, as the check does."""
    document = client.get("/v1/openapi.json").get_json()
    parameters = document["paths"][path]["get"]["parameters"]
    found = [p for p in parameters if p.get("name") == name]
    assert found and found[0]["schema"]["maxLength"] == filters.MAX_LENGTHS[name]
