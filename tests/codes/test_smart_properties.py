"""Property tests of the smart-destination validators and decision (rules, weights, times, UTM)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openqr.codes import smart
from openqr.destinations import DestinationError, check_destination
from openqr.errors import ValidationError
from openqr.scans.classify import Visitor
from openqr.text import iso_z

NOW = dt.datetime(2026, 6, 1, 12, 0, 0)
URLS = st.sampled_from(["https://example.com/", "https://shop.example.org/a?b=1", "http://example.net/x#y"])


def guard(value, field):
    """The real destination guard, its error named as the validators name theirs."""
    try:
        return check_destination(value, own_hosts=frozenset({"go.test"}))
    except (DestinationError, TypeError):
        raise ValidationError("bad URL", field=field) from None


countries = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=2, max_size=2)
languages = st.text("abcdefghijklmnopqrstuvwxyzABC", min_size=2, max_size=8)
when = st.fixed_dictionaries(
    {},
    optional={
        "device": st.lists(st.sampled_from(smart.DEVICES), min_size=1, max_size=3),
        "os": st.lists(st.sampled_from(smart.OSES), min_size=1, max_size=5),
        "country": st.lists(countries, min_size=1, max_size=4),
        "language": st.lists(languages, min_size=1, max_size=4),
    },
).filter(bool)
rules = st.lists(
    st.fixed_dictionaries({"when": when, "destination": URLS}), min_size=1, max_size=smart.MAX_RULES
)


@given(rules)
def test_valid_rules_are_kept_in_order_with_normalised_values(value):
    clean = smart.clean_rules(value, guard)
    assert [rule["destination"] for rule in clean] == [guard(rule["destination"], "rules") for rule in value]
    for given_rule, kept in zip(value, clean, strict=True):
        assert set(kept["when"]) == set(given_rule["when"])
        for key, values in kept["when"].items():
            assert values and len(values) == len(set(values))
            if key == "country":
                assert all(v.isupper() and len(v) == 2 for v in values)
            if key == "language":
                assert all(v.islower() for v in values)


@given(rules, st.text(min_size=1, max_size=12).filter(lambda key: key not in smart.WHEN_KEYS))
def test_an_unknown_condition_is_refused_naming_rules(value, key):
    value[0] = {"when": {**value[0]["when"], key: ["x"]}, "destination": value[0]["destination"]}
    with pytest.raises(ValidationError) as err:
        smart.clean_rules(value, guard)
    assert err.value.field == "rules"


@given(rules, st.sampled_from(smart.WHEN_KEYS))
def test_an_empty_condition_is_refused(value, key):
    value[-1] = {"when": {key: []}, "destination": "https://example.com/"}
    with pytest.raises(ValidationError, match="non-empty"):
        smart.clean_rules(value, guard)


@given(rules)
def test_a_visitor_matching_a_rule_goes_to_the_first_matching_rule(value):
    clean = smart.clean_rules(value, guard)
    plan = smart.compile_plan({"rules": clean})
    target = clean[-1]
    visitor = Visitor(**{key: values[0] for key, values in target["when"].items()})
    first = next(
        rule for rule in clean if all(getattr(visitor, key) in values for key, values in rule["when"].items())
    )
    assert smart.decide(plan, "https://example.com/home", visitor, 0.0).destination == first["destination"]


weights = st.integers(smart.MIN_WEIGHT, smart.MAX_WEIGHT)
split = st.lists(st.fixed_dictionaries({"destination": URLS, "weight": weights}), min_size=2, max_size=5)


@given(split, st.floats(0, 1, exclude_max=True))
def test_any_valid_split_is_accepted_and_every_draw_lands_on_one_of_its_destinations(value, draw):
    clean = smart.clean_split(value, guard)
    assert [part["weight"] for part in clean] == [part["weight"] for part in value]
    plan = smart.compile_plan({"split": clean})
    chosen = smart.decide(plan, "https://example.com/home", Visitor(), 0.0, rng=lambda: draw)
    assert chosen.destination in {part["destination"] for part in clean}


@given(
    split,
    st.one_of(st.integers(max_value=0), st.integers(min_value=101), st.floats(), st.booleans(), st.text()),
)
def test_a_weight_outside_1_to_100_is_refused(value, weight):
    value[0] = {**value[0], "weight": weight}
    with pytest.raises(ValidationError) as err:
        smart.clean_split(value, guard)
    assert err.value.field == "split"


@given(
    st.lists(st.fixed_dictionaries({"destination": URLS, "weight": weights}), max_size=9).filter(
        lambda parts: not 2 <= len(parts) <= 5
    )
)
def test_a_split_of_other_than_2_to_5_is_refused(value):
    with pytest.raises(ValidationError):
        smart.clean_split(value, guard)


aware = st.datetimes(
    min_value=dt.datetime(1971, 1, 2), max_value=dt.datetime(9998, 12, 30), timezones=st.timezones()
).filter(lambda moment: moment.utcoffset() is not None)


@given(aware)
def test_times_with_a_zone_come_back_as_utc_seconds(moment):
    text = smart.clean_expires_at(moment.isoformat())
    assert text.endswith("Z") and len(text) == 20
    back = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert back == moment.replace(microsecond=0) or abs((back - moment).total_seconds()) < 1


@given(st.datetimes(min_value=dt.datetime(1971, 1, 2), max_value=dt.datetime(9998, 12, 30)))
def test_times_without_a_zone_are_refused(moment):
    with pytest.raises(ValidationError) as err:
        smart.clean_expires_at(moment.isoformat())
    assert err.value.field == "expires_at"


@given(st.lists(aware, min_size=1, max_size=smart.MAX_SCHEDULE))
def test_a_schedule_is_accepted_only_when_every_entry_is_in_the_future(moments):
    entries = [{"at": m.isoformat(), "destination": "https://example.com/"} for m in moments]
    utc = [m.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0) for m in moments]
    if all(moment > NOW for moment in utc):
        clean = smart.clean_schedule(entries, guard, NOW)
        assert [entry["at"] for entry in clean] == sorted(iso_z(moment) for moment in utc)
    else:
        with pytest.raises(ValidationError, match="future"):
            smart.clean_schedule(entries, guard, NOW)


utm_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=smart.MAX_UTM_LENGTH
)
utm = st.dictionaries(st.sampled_from(smart.UTM_KEYS), utm_text, min_size=1)


@settings(max_examples=200)
@given(utm, st.sampled_from(["https://example.com/", "https://example.com/p?utm_source=print&x=1#frag"]))
def test_utm_is_appended_once_and_reads_back_exactly(value, url):
    clean = smart.clean_utm(value)
    plan = smart.compile_plan({"utm": clean})
    location = smart.decide(plan, url, Visitor(), 0.0).location
    parts = urlsplit(location)
    params = parse_qsl(parts.query, keep_blank_values=True)
    names = [name for name, _ in params]
    assert len(names) == len(set(names))  # never a parameter twice
    had = dict(parse_qsl(urlsplit(url).query))
    for key, text in clean.items():
        assert dict(params)[f"utm_{key}"] == had.get(f"utm_{key}", text)
    assert parts.fragment == urlsplit(url).fragment


@given(
    st.one_of(
        st.just(""), st.text(min_size=101, max_size=120), st.integers(), st.text("\x00\x01\x1f", min_size=1)
    )
)
def test_bad_utm_values_are_refused(value):
    with pytest.raises(ValidationError) as err:
        smart.clean_utm({"source": value})
    assert err.value.field == "utm"
