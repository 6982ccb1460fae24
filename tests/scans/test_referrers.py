"""Referrer hosts: a host name or address is kept, anything else a visitor types counts as `Unknown`."""

from __future__ import annotations

import csv
import io

import pytest

from openqr.scans.classify import UNKNOWN_REFERRER, referrer_host
from tests.conftest import sign_in
from tests.redirect.test_redirect import IPHONE, scan_rows


@pytest.mark.parametrize(
    "referer, host",
    [
        ("https://t.co/abc?x=1", "t.co"),
        ("https://News.Example.ORG./path", "news.example.org"),
        ("http://a_b.example.com/", "a_b.example.com"),
        ("android-app://com.google.android.gm/", "com.google.android.gm"),
        ("http://203.0.113.9:8080/", "203.0.113.9"),
        ("http://[2001:db8::1]/", "2001:db8::1"),
        ("http://xn--bcher-kva.example/", "xn--bcher-kva.example"),
        ("", None),
        ("about:blank", None),
        ("not a url", None),
        ("http://=1+2*cmd|'x'!a0/p", UNKNOWN_REFERRER),
        ("http://@SUM(1+1)*cmd/", UNKNOWN_REFERRER),
        ("http://-2+3.example/", UNKNOWN_REFERRER),
        ("http://ex%41mple.com/", UNKNOWN_REFERRER),
        ("http://bücher.example/", UNKNOWN_REFERRER),  # browsers send the punycode form
        ("http://a..b/", UNKNOWN_REFERRER),
        ("http://[not-v6]/", UNKNOWN_REFERRER),
        ("http://[2001:db8::1/", UNKNOWN_REFERRER),
        ("http://" + "a" * 64 + ".example/", UNKNOWN_REFERRER),
        ("http://" + "abc." * 70 + "example/", UNKNOWN_REFERRER),
    ],
)
def test_referrer_host(referer, host):
    assert referrer_host(referer) == host


def test_a_forged_referrer_is_stored_shown_and_downloaded_as_unknown(app, api):
    code = api.create()
    client = app.test_client()
    forged = "http://=1+2*cmd|'x'!a0/p"
    client.get(f"/{code['slug']}", headers={"User-Agent": IPHONE, "Referer": forged})
    client.get(f"/{code['slug']}", headers={"User-Agent": IPHONE, "Referer": "https://t.co/x"})
    assert sorted(row.referrer for row in scan_rows(app)) == ["Unknown", "t.co"]
    report = api.get(f"/v1/dynamic/{code['id']}/scans").get_json()
    assert sorted(item["value"] for item in report["analytics"]["by_referrer"]) == ["Unknown", "t.co"]
    sign_in(client, app)
    rows = list(csv.reader(io.StringIO(client.get(f"/codes/{code['id']}/scans.csv").text)))
    assert sorted(row[1] for row in rows if row[0] == "referrer") == ["Unknown", "t.co"]
