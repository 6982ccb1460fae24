"""Fuzz every /v1 operation against the published OpenAPI document, in-process.

No input may cause a 5xx, and every answer (status, content type, headers, body) must be
one the document promises. Bounded: 25 examples per operation, no deadline.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from openqr.api import openapi
from tests.conftest import Api, close_app, fresh_app, new_key

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
_counter = itertools.count()
SEEN: Counter[str] = Counter()


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    # Limits raised so that 429 does not drown every other answer.
    app = fresh_app(
        tmp_path_factory.mktemp("fuzz"), OPENQR_CREATE_LIMIT=1_000_000, OPENQR_BULK_LIMIT=1_000_000
    )
    yield app
    close_app(app)


@pytest.fixture(scope="module")
def fuzz_api(fuzz_app):
    """A fresh key; one code and one folder so some ids in paths are real."""
    api = Api(fuzz_app.test_client(), new_key(fuzz_app, "fuzz@example.com"))
    return api


# The document as served (tests/test_openapi.py checks /v1/openapi.json serves this same one).
schema = schemathesis.openapi.from_dict(openapi.spec("http://qr.test"))


def _real_ids(api: Api) -> dict[str, str]:
    """A fresh code and folder of the fuzzing account (deletes may have taken the last ones)."""
    folder = api.post("/v1/folders", json={"name": f"fuzz {next(_counter)}"}).get_json()
    code = api.create(f"https://example.com/fuzz/{next(_counter)}", folder_id=folder["id"])
    return {"code_id": code["id"], "folder_id": folder["id"]}


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_api_conforms_to_its_openapi_document(case, fuzz_app, fuzz_api):
    # Half the cases aim at resources that exist, so the 200 paths are fuzzed too.
    if case.path_parameters and next(_counter) % 2 == 0:
        ids = _real_ids(fuzz_api)
        case.path_parameters = {name: ids.get(name, value) for name, value in case.path_parameters.items()}
    response = case.call_and_validate(
        app=fuzz_app, headers={"Authorization": f"Bearer {fuzz_api.key}"}, checks=CHECKS
    )
    mode = case.meta.generation.mode.value if case.meta else "explicit"
    SEEN[f"{case.method} {case.operation.path} {response.status_code} {mode}"] += 1


def teardown_module():
    """`FUZZ_LOG=path` writes how many examples each operation got, by status (for reports)."""
    if os.environ.get("FUZZ_LOG"):
        lines = [f"{n:5} {key}" for key, n in sorted(SEEN.items())]
        Path(os.environ["FUZZ_LOG"]).write_text("\n".join(lines) + f"\ntotal {sum(SEEN.values())}\n")
