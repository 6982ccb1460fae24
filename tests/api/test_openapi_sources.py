"""The OpenAPI document reads the rules: a bound, pattern or enum is typed once, where it is checked.

A constant changed in its rule module moves the check and the document together; every pattern
in the document is a regex a module compiles (and those a request is held to, a validator
uses); openapi.py itself types no number, pattern, enum or field list.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from openqr import destinations
from openqr.api import folders as folder_routes
from openqr.api import openapi
from openqr.codes import core as codes
from openqr.codes import folders, smart
from openqr.destinations import DestinationError
from openqr.errors import ValidationError
from openqr.images import params as image_rules
from openqr.images import payload_fields, payloads
from openqr.images import render as qr
from openqr.models import ID, new_id, utcnow
from openqr.scans import analytics
from openqr.text import ISO_Z, anchored, iso_z
from openqr.webhooks import outbox as webhooks

PACKAGE = Path(openapi.__file__).resolve().parents[1]
REFUSED = (ValidationError, qr.QrParamError, DestinationError)


def _url(value, _field):
    return value


def _component(where: str):
    """A reader of the document at `Component/key/0/key` under components.schemas."""

    def read(document):
        node = document["components"]["schemas"]
        for step in where.split("/"):
            node = node[int(step)] if step.isdigit() else node[step]
        return node

    return read


def _argument(path: str, name: str, key: str):
    """A reader of one key of a GET operation's query argument's schema."""

    def read(document):
        (schema,) = [p["schema"] for p in document["paths"][path]["get"]["parameters"] if p["name"] == name]
        return schema[key]

    return read


WHEN = "CodePatch/properties/rules/anyOf/0/items/properties/when/properties"
# (module, constant, new value, where the document shows it, a call the shipped value accepts)
CHANGES = [
    (
        codes,
        "MAX_TAGS",
        3,
        _component("CodePatch/properties/tags/maxItems"),
        lambda: codes.clean_tags(list("abcd")),
    ),
    (
        codes,
        "CUSTOM_SLUG",
        re.compile("[a-z]+"),
        _component("CodeCreate/properties/slug/anyOf/0/pattern"),
        lambda: codes.clean_slug("spring-menu"),
    ),
    (
        smart,
        "MAX_SPLIT",
        3,
        _component("CodePatch/properties/split/anyOf/0/maxItems"),
        lambda: smart.clean_split([{"destination": "https://example.com/", "weight": 1}] * 4, _url),
    ),
    (
        smart,
        "COUNTRY",
        re.compile("X[A-Z]"),
        _component(f"{WHEN}/country/items/pattern"),
        lambda: smart.clean_rules(
            [{"when": {"country": ["de"]}, "destination": "https://example.com/"}], _url
        ),
    ),
    (
        folders,
        "MAX_NAME_LENGTH",
        10,
        _component("FolderName/properties/name/maxLength"),
        lambda: folders.clean_name({"name": "Bus stops, spring"}),
    ),
    (
        image_rules,
        "MARGIN_MAX",
        8,
        _component("StyleIn/properties/margin/anyOf/0/maximum"),
        lambda: qr.validate_style({"margin": 9}),
    ),
    (
        image_rules,
        "SIZE_MAX",
        1024,
        _argument("/v1/qr", "size", "maximum"),
        lambda: qr.parse_query({"data": "x", "size": "2000"}),
    ),
    (
        payload_fields,
        "LATITUDE_LIMIT",
        60,
        _component("QrCreate/properties/lat/anyOf/0/maximum"),
        lambda: payloads.encoded_text({"type": "geo", "lat": 70, "lng": 0}),
    ),
    (
        analytics,
        "MAX_DAYS",
        90,
        _argument("/v1/dynamic/{code_id}/scans", "days", "maximum"),
        lambda: analytics.check_days(91),
    ),
    (
        destinations,
        "MAX_LENGTH",
        100,
        _component("CodeCreate/properties/destination/maxLength"),
        lambda: destinations.check_destination("https://example.com/" + "a" * 100),
    ),
    (
        webhooks,
        "EVENT_TYPES",
        ("scan",),
        _component("WebhookCreate/properties/events/items/enum"),
        lambda: webhooks.clean_events(["code.created"]),
    ),
]


def _shown(value):
    """How the document writes a constant."""
    if isinstance(value, re.Pattern):
        return anchored(value)
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize(
    ("module", "name", "value", "where", "call"), CHANGES, ids=[f"{m.__name__}.{n}" for m, n, *_ in CHANGES]
)
def test_a_constant_changed_in_its_rule_module_moves_the_check_and_the_document(
    app, monkeypatch, module, name, value, where, call
):
    with app.test_request_context():
        assert where(openapi.spec.__wrapped__()) == _shown(getattr(module, name))
        call()  # accepted under the shipped constant
        monkeypatch.setattr(module, name, value)
        with pytest.raises(REFUSED):
            call()
        assert where(openapi.spec.__wrapped__()) == _shown(value)


def _resolve(node, document):
    while isinstance(node, dict) and "$ref" in node:
        target = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _patterns(node, document, seen=None):
    """Every `pattern` under `node`, following `$ref`s."""
    seen = set() if seen is None else seen
    node = _resolve(node, document)
    if isinstance(node, dict):
        if id(node) in seen:
            return
        seen.add(id(node))
        for key, value in node.items():
            if key == "pattern":
                yield value
            else:
                yield from _patterns(value, document, seen)
    elif isinstance(node, list):
        for item in node:
            yield from _patterns(item, document, seen)


def _request_side(document):
    """What a request is held to: every parameter and request body."""
    for item in document["paths"].values():
        yield from item.get("parameters", [])
        for method, operation in item.items():
            if method != "parameters":
                yield from operation.get("parameters", [])
                if "requestBody" in operation:
                    yield operation["requestBody"]


def _compiled() -> dict[str, set[str]]:
    """Every regex a loaded openqr module holds at its top level, as patterns, by attribute name."""
    found: dict[str, set[str]] = {}
    for name, module in list(sys.modules.items()):
        if name == "openqr" or name.startswith("openqr."):
            for attribute, value in vars(module).items():
                if isinstance(value, re.Pattern):
                    found.setdefault(attribute, set()).update({value.pattern, anchored(value)})
    return found


def _matched_names() -> set[str]:
    """Names whose `.fullmatch(`, `.match(` or `.search(` some openqr module calls."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"fullmatch", "match", "search"}
            ):
                target = node.func.value
                if isinstance(target, ast.Name):
                    names.add(target.id)
                elif isinstance(target, ast.Attribute):
                    names.add(target.attr)
    return names


def test_every_pattern_in_the_document_is_a_regex_a_module_compiles(app):
    document = openapi.spec()
    compiled = _compiled()
    every = set(_patterns(document, document))
    assert every, "the walk found no pattern at all"
    for pattern in every:
        assert any(pattern in shown for shown in compiled.values()), f"{pattern!r} is compiled nowhere"
    used = _matched_names()
    asked = set(_patterns(list(_request_side(document)), document))
    assert len(asked) >= 6  # slugs, tags, labels, colours, margins, countries...
    for pattern in asked:
        names = {name for name, shown in compiled.items() if pattern in shown}
        assert names & used, f"a request is held to {pattern!r}, which no validator matches ({names})"


@pytest.mark.parametrize(
    ("made", "shape"),
    [
        (new_id, ID),
        (lambda: iso_z(utcnow()), ISO_Z),
        (lambda: qr.etag(qr.QrParams(data="https://example.com/")), qr.ETAG),
        (lambda: "s" * codes.SLUG_MAX_LENGTH, codes.ANY_SLUG),
    ],
    ids=["id", "timestamp", "etag", "slug"],
)
def test_an_answers_pattern_is_what_its_writer_makes(made, shape):
    assert shape.fullmatch(made())


def test_a_new_webhook_secret_has_the_documented_shape(api):
    answer = api.post("/v1/webhooks", json={"url": "https://example.com/hook", "events": ["scan"]})
    assert answer.status_code == 201
    schema = openapi.spec()["components"]["schemas"]["WebhookCreated"]["properties"]["secret"]
    assert re.search(schema["pattern"], answer.get_json()["secret"])


def _literals(tree: ast.Module):
    """Every constant of the module but its docstrings."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [node for node in ast.walk(tree) if isinstance(node, ast.Constant) and id(node) not in docstrings]


def test_openapi_py_types_no_number_pattern_enum_or_field_list():
    tree = ast.parse(Path(openapi.__file__).read_text())
    versions = {"3.1.0", "1.0.0"}  # of OpenAPI, and of this API
    statuses = re.compile(r"\b[1-5](?:[0-9]{2}|xx)\b")  # prose may name HTTP statuses
    for node in _literals(tree):
        value = node.value
        where = f"openapi.py:{node.lineno}: {value!r}"
        assert not (isinstance(value, int | float) and not isinstance(value, bool)), where
        if isinstance(value, str) and value not in versions:
            assert not re.search("[0-9]", statuses.sub("", value)), where
            assert not (value.startswith("^") or value.endswith("$") or "[" in value or "\\" in value), where
    for node in ast.walk(tree):
        if isinstance(node, ast.List):
            strings = [
                item for item in node.elts if isinstance(item, ast.Constant) and isinstance(item.value, str)
            ]
            assert len(strings) < 2, (
                f"openapi.py:{node.lineno}: an enum or field list belongs to a rule module"
            )


def test_a_route_without_its_operation_stops_the_document(monkeypatch):
    monkeypatch.delattr(folder_routes.list_, "operation")
    with pytest.raises(LookupError, match=r"api\.folders\.list_"):
        openapi.spec.__wrapped__()
