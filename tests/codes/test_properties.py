"""Properties of the validators: slugs, tags, labels, styles, and the integer query parameters.

Each property runs a bounded number of generated examples, so the file takes a few seconds.
"""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from openqr.codes import core as codes
from openqr.errors import ValidationError
from openqr.images import render as qr
from openqr.scans import analytics

BOUNDED = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SLUG_RULE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


# --- slugs ---


@BOUNDED
@given(st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=0, max_size=60))
def test_a_slug_is_accepted_exactly_when_it_follows_the_rule(ctx, text):
    expected = 3 <= len(text) <= 48 and SLUG_RULE.fullmatch(text) and text not in codes.reserved_slugs()
    try:
        assert codes.clean_slug(text) == text
        assert expected
    except ValidationError as err:
        assert not expected and err.field == "slug" and err.code == "invalid_slug"


@BOUNDED
@given(st.text(max_size=60))
def test_any_text_slug_is_clean_or_refused_with_a_sentence(ctx, text):
    try:
        slug = codes.clean_slug(text)
    except ValidationError as err:
        assert err.message.endswith(".") and err.field == "slug"
    else:
        assert slug == text and text.isascii() and SLUG_RULE.fullmatch(text)


@BOUNDED
@given(st.sampled_from(sorted({"v1", "docs", "login", "static", "codes", "folders", "healthz", "keys"})))
def test_reserved_words_are_never_slugs(ctx, word):
    with pytest.raises(ValidationError):
        codes.clean_slug(word)


@BOUNDED
@given(st.one_of(st.none(), st.integers(), st.lists(st.text()), st.dictionaries(st.text(), st.text())))
def test_a_non_string_slug_is_refused(ctx, value):
    with pytest.raises(ValidationError):
        codes.clean_slug(value)


# --- tags ---

tag_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=50)


@BOUNDED
@given(st.lists(tag_text, max_size=15))
def test_tags_are_normalised_deduplicated_and_bounded(tags):
    try:
        clean = codes.clean_tags(tags)
    except ValidationError as err:
        assert err.field == "tags"
        return
    assert len(clean) == len(set(clean)) <= codes.MAX_TAGS
    for tag in clean:
        assert tag and tag == " ".join(tag.split()) and len(tag) <= codes.MAX_TAG_LENGTH
        assert "," not in tag and not re.search(r"[\x00-\x1f\x7f]", tag)
    # Normalising again changes nothing, and order follows first appearance.
    assert codes.clean_tags(clean) == clean
    firsts = []
    for raw in tags:
        norm = " ".join(raw.split()).lower()
        if norm not in firsts:
            firsts.append(norm)
    assert clean == firsts


@BOUNDED
@given(st.lists(st.sampled_from(["Sale", "SALE", " sale ", "sale", "s a l e", "S  A L E"]), min_size=1))
def test_spellings_of_one_tag_collapse_to_one(tags):
    assert set(codes.clean_tags(tags)) <= {"sale", "s a l e"}


@BOUNDED
@given(st.one_of(st.text(), st.integers(), st.lists(st.integers(), min_size=1), st.none()))
def test_tags_that_are_not_a_list_of_strings_are_refused(value):
    with pytest.raises(ValidationError):
        codes.clean_tags(value)


# --- labels ---


@BOUNDED
@given(st.one_of(st.none(), st.text(max_size=250)))
def test_labels_are_trimmed_bounded_and_free_of_control_characters(value):
    try:
        label = codes.clean_label(value)
    except ValidationError as err:
        assert err.field == "label"
        return
    if label is not None:
        assert label == label.strip() and 0 < len(label) <= codes.MAX_LABEL_LENGTH
        assert not re.search(r"[\x00-\x1f\x7f]", label)


# --- styles ---

colours = st.one_of(
    st.from_regex(r"\A#[0-9a-fA-F]{6}\Z"),
    st.from_regex(r"\A#[0-9a-fA-F]{3}\Z"),
    st.just("transparent"),
    st.text(max_size=8),
)
style_values = st.fixed_dictionaries(
    {},
    optional={
        "dark": colours,
        "light": colours,
        "ecc": st.one_of(st.sampled_from("LMQHlmqhX"), st.integers()),
        "margin": st.one_of(st.integers(-5, 30), st.from_regex(r"\A[+-]?[0-9]{1,3}\Z"), st.booleans()),
    },
)


@BOUNDED
@given(style_values)
def test_a_style_is_normalised_and_stable_or_refused_by_field(style):
    try:
        clean = qr.validate_style(style)
    except qr.QrParamError as err:
        assert err.field.startswith("style")
        return
    assert set(clean) == set(style)
    if "dark" in clean:
        assert re.fullmatch(r"#[0-9a-f]{6}", clean["dark"])
    if "light" in clean:
        assert re.fullmatch(r"#[0-9a-f]{6}|transparent", clean["light"])
    if "ecc" in clean:
        assert clean["ecc"] in qr.ECC_LEVELS
    if "margin" in clean:
        assert type(clean["margin"]) is int and qr.MARGIN_MIN <= clean["margin"] <= qr.MARGIN_MAX
    assert qr.validate_style(clean) == clean  # normalising twice changes nothing
    # A saved style always renders: the dashboard and the API can draw it.
    assert qr.QrParams(data="https://go.test/abc", **clean).size == 512


@BOUNDED
@given(st.dictionaries(st.text(max_size=10), st.integers(), min_size=1))
def test_unknown_style_keys_are_refused(style):
    assume(set(style) - set(qr.STYLE_KEYS))
    with pytest.raises(qr.QrParamError):
        qr.validate_style(style)


# --- integer query parameters (limit, offset, days) over HTTP ---

PARAMS = [
    ("/v1/dynamic?limit=", 1, codes.LIST_MAX),
    ("/v1/dynamic?offset=", 0, codes.OFFSET_MAX),
    ("/v1/dynamic/{id}/scans?days=", analytics.MIN_DAYS, analytics.MAX_DAYS),
]


@pytest.fixture
def code_id(api):
    return api.create()["id"]


@BOUNDED
@given(st.sampled_from(PARAMS), st.one_of(st.integers(-1000, 10_000_100), st.text(max_size=12)))
def test_integer_parameters_are_in_range_or_a_400(api, code_id, param, raw):
    path, low, high = param
    text = str(raw)
    assume("\x00" not in text)
    response = api.get(path.format(id=code_id) + _quote(text))
    assert response.status_code in (200, 400), response.get_data()
    if response.status_code == 400:
        body = response.get_json()
        assert body["error"] == "invalid_request" and body["field"] in path
        assert f"from {low} to {high}" in body["message"]
    else:
        value = int(text)
        assert low <= value <= high
        if "days" in path:
            assert response.get_json()["analytics"]["days_window"] == value
            assert len(response.get_json()["analytics"]["daily"]) == value
        if "limit" in path:
            assert len(response.get_json()["codes"]) <= value


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")
