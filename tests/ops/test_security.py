"""Hardening: security headers, cookies, body limit, hostile JSON, API keys, the domain blocklist."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from openqr import ConfigError
from openqr.auth.keys import find_by_prefix, revoke_key
from openqr.extensions import db
from openqr.models import ApiKey, Code, LoginToken
from openqr.ops.security import PAGE_CSP
from tests.conftest import Api, fresh_app, make_app, new_key, sign_in
from tests.support.htmlparse import Page

# --- headers ---


def test_pages_carry_a_strict_csp_and_no_framing(client):
    response = client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert csp == PAGE_CSP
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["script-src"] == "'self'" and "unsafe-inline" not in csp
    assert directives["frame-ancestors"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_the_login_page_is_covered_too(client):
    for path in ("/login", "/docs"):
        response = client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Content-Security-Policy"] == PAGE_CSP, path


def test_api_answers_are_nosniff_and_unframable(api, client):
    for response in (api.get("/v1/dynamic"), client.get("/v1/dynamic"), api.get("/v1/qr?data=x&format=svg")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"


def test_the_redirect_stays_minimal(api, client):
    code = api.create("https://example.com/landing")
    response = client.get(f"/{code['slug']}")
    assert response.status_code == 302
    assert response.headers["Location"] == "https://example.com/landing"
    assert "Content-Security-Policy" not in response.headers


@pytest.mark.parametrize(
    ("base_url", "secure"), [("https://qr.example.com", True), ("http://qr.test", False)]
)
def test_cookies_are_httponly_lax_and_secure_on_https(tmp_path, base_url, secure):
    """The session cookie the sign-in page sets (it holds the CSRF token), as the browser gets it."""
    app = fresh_app(tmp_path, OPENQR_BASE_URL=base_url)
    cookie = app.test_client().get("/login").headers["Set-Cookie"]
    assert cookie.startswith("session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("; Secure" in cookie) is secure
    assert ("Secure" in cookie) is secure


def test_the_docs_page_has_no_inline_script_and_its_files_exist(client):
    html = client.get("/docs").get_data(as_text=True)
    import re

    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert client.get(src).status_code == 200, src


# --- hostile bodies ---


def test_a_body_over_the_limit_is_a_413_json(tmp_path):
    app = fresh_app(tmp_path, OPENQR_MAX_BODY_BYTES=2048)
    api = Api(app.test_client(), new_key(app))
    response = api.post("/v1/dynamic", json={"destination": "https://example.com/", "label": "x" * 4096})
    assert response.status_code == 413
    assert response.get_json()["error"] == "body_too_large"
    assert api.post("/v1/dynamic", json={"destination": "https://example.com/"}).status_code == 201


def test_by_default_a_body_over_one_mebibyte_is_a_413(api):
    padding = 1024 * 1024 - len('{"destination": "https://example.com/", "label": ""}')
    response = api.post(
        "/v1/dynamic",
        data='{"destination": "https://example.com/", "label": "' + "x" * (padding + 1) + '"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413 and response.get_json()["error"] == "body_too_large"


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000,
        '{"a":' * 100_000,
        '{"destination": "https://example.com/", "label": "\\ud800"}',
        '{"destination": "https://example.com/", "tags": ["\\udfff"]}',
        b"\xff\xfe\x00",
        "",
        "null",
    ],
    ids=["deep-array", "deep-object", "surrogate-label", "surrogate-tag", "not-utf8", "empty", "null"],
)
def test_hostile_json_is_a_400_and_creates_nothing(app, api, body):
    response = api.post("/v1/dynamic", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"] in {"invalid_json", "invalid_request"}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Code)) == 0


def test_surrogates_and_control_characters_in_folder_names_are_refused(api):
    for name in ("\\ud800", "a\\u0000b", "tab\\u0007"):
        response = api.post(
            "/v1/folders", data=f'{{"name": "{name}"}}', headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, name


def test_nul_in_ids_and_filters_is_refused_not_a_crash(api):
    assert api.get("/v1/dynamic/%00").status_code == 404
    assert api.patch("/v1/folders/%00", json={"name": "x"}).status_code == 404
    assert api.get("/v1/dynamic?q=%00").status_code == 400
    response = api.post("/v1/dynamic", json={"destination": "https://example.com/", "folder_id": "\x00"})
    assert response.status_code == 400


def test_not_json_is_a_415(api):
    response = api.post("/v1/dynamic", data="destination=https://example.com", content_type="text/plain")
    assert response.status_code == 415 and response.get_json()["error"] == "unsupported_media_type"


# --- API keys ---


def test_keys_are_stored_only_as_hashes(app, api):
    with app.app_context():
        stored = db.session.scalars(select(ApiKey.key_hash)).all()
    assert api.key not in stored and all(len(h) == 64 for h in stored)


def test_last_used_time_is_tracked(app, api):
    with app.app_context():
        key = find_by_prefix(api.key[: len("oqr_live_") + 8])
        assert key.last_used_at is None
    assert api.get("/v1/dynamic").status_code == 200
    with app.app_context():
        used = find_by_prefix(api.key[: len("oqr_live_") + 8]).last_used_at
        assert used is not None and dt.datetime.now(dt.UTC).replace(tzinfo=None) - used < dt.timedelta(
            minutes=1
        )


def test_a_revoked_key_is_refused_at_once(app, api):
    assert api.get("/v1/dynamic").status_code == 200
    with app.app_context():
        revoke_key(find_by_prefix(api.key[: len("oqr_live_") + 8]))
    response = api.get("/v1/dynamic")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"] == "unauthorized"


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer ", "Basic b3FyOnBhc3M=", "Bearer oqr_live_short", "Bearer oqr_live_" + "A" * 43,
     "Bearer oqr_test_" + "A" * 43, "Bearer\toqr_live_" + "\x00" * 43, "oqr_live_" + "x" * 43],
)  # fmt: skip
def test_bad_credentials_are_a_401(client, header):
    response = client.get("/v1/dynamic", headers={"Authorization": header} if header else {})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"] == "unauthorized"


# --- the domain blocklist ---


@pytest.fixture
def blocklist(tmp_path):
    path = tmp_path / "blocklist.txt"
    path.write_text("# phishing kits\nevil.example\n  Bad.Example.  # trailing comment\n*.wild.example\n\n")
    return path


@pytest.fixture
def blocked_api(tmp_path, blocklist):
    app = fresh_app(tmp_path, OPENQR_BLOCKLIST_FILE=str(blocklist))
    return Api(app.test_client(), new_key(app))


def test_a_missing_blocklist_stops_start_up_with_one_line(tmp_path):
    with pytest.raises(ConfigError) as caught:
        make_app(tmp_path, OPENQR_BLOCKLIST_FILE=str(tmp_path / "nope.txt"))
    message = str(caught.value)
    assert message.startswith("OPENQR_BLOCKLIST_FILE=") and "\n" not in message


BLOCKED = [
    "https://evil.example/",
    "https://login.evil.example/x",
    "https://BAD.example./",
    "http://a.wild.example",
]


@pytest.mark.parametrize("destination", BLOCKED)
def test_blocked_domains_are_refused_on_create(blocked_api, destination):
    response = blocked_api.post("/v1/dynamic", json={"destination": destination})
    assert response.status_code == 400 and response.get_json()["field"] == "destination"
    assert "blocked" in response.get_json()["message"]


@pytest.mark.parametrize("destination", BLOCKED)
def test_blocked_domains_are_refused_on_patch(blocked_api, destination):
    code = blocked_api.create("https://fine.example/")
    response = blocked_api.patch(f"/v1/dynamic/{code['id']}", json={"destination": destination})
    assert response.status_code == 400 and "blocked" in response.get_json()["message"]
    assert blocked_api.get(f"/v1/dynamic/{code['id']}").get_json()["destination"] == "https://fine.example/"


def test_blocked_domains_are_refused_in_bulk_by_index(blocked_api):
    items = [{"destination": "https://fine.example/"}, *({"destination": d} for d in BLOCKED)]
    response = blocked_api.post("/v1/dynamic/bulk", json={"codes": items})
    assert response.status_code == 400
    assert [d["index"] for d in response.get_json()["details"]] == [1, 2, 3, 4]
    assert blocked_api.get("/v1/dynamic").get_json()["codes"] == []


def test_neighbours_of_blocked_domains_are_fine(blocked_api):
    for destination in ("https://notevil.example/", "https://evil.example.org/", "https://wild.example.net/"):
        assert blocked_api.post("/v1/dynamic", json={"destination": destination}).status_code == 201


# --- the opt-in resolving check ---


def _fake_dns(monkeypatch, address: str) -> list[str]:
    import socket

    asked = []

    def getaddrinfo(host, *args, **kwargs):
        asked.append(host)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_names_are_not_resolved_by_default(api, monkeypatch):
    asked = _fake_dns(monkeypatch, "10.0.0.1")
    assert api.post("/v1/dynamic", json={"destination": "https://rebind.example.com/"}).status_code == 201
    assert asked == []


@pytest.mark.parametrize("address", ["10.0.0.1", "127.0.0.1", "169.254.169.254", "::1", "::ffff:192.168.0.1"])
def test_the_resolving_check_refuses_names_of_private_addresses(tmp_path, monkeypatch, address):
    app = fresh_app(tmp_path, OPENQR_RESOLVE_DESTINATIONS=True)
    api = Api(app.test_client(), new_key(app))
    asked = _fake_dns(monkeypatch, address)
    response = api.post("/v1/dynamic", json={"destination": "https://rebind.example.com/"})
    assert response.status_code == 400 and "resolves to" in response.get_json()["message"]
    assert asked == ["rebind.example.com"]
    code = api.post("/v1/dynamic/bulk", json={"codes": [{"destination": "https://rebind.example.com/"}]})
    assert code.status_code == 400


def test_the_resolving_check_accepts_public_names(tmp_path, monkeypatch):
    app = fresh_app(tmp_path, OPENQR_RESOLVE_DESTINATIONS=True)
    api = Api(app.test_client(), new_key(app))
    _fake_dns(monkeypatch, "93.184.215.14")
    assert api.post("/v1/dynamic", json={"destination": "https://example.com/"}).status_code == 201


# --- web sessions: CSRF on every dashboard form, disabled codes ---


def test_every_form_post_without_a_csrf_token_is_refused(app, api):
    """Every POST outside /v1 (read from the url_map): a readable 400 that changes nothing."""
    folder = api.post("/v1/folders", json={"name": "Mine"}).get_json()
    code = api.create("https://example.com/mine", folder_id=folder["id"])
    before = (api.get("/v1/dynamic").get_json(), api.get("/v1/folders").get_json())
    client = app.test_client()
    sign_in(client, app)
    ids = {
        "code_id": code["id"],
        "folder_id": folder["id"],
        "key_id": "1",
        "token": "x" * 20,
        "webhook_id": "x",
    }
    posts = [r.rule for r in app.url_map.iter_rules() if "POST" in r.methods and not r.rule.startswith("/v1")]
    assert "/login" in posts and "/codes" in posts
    for rule in posts:
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: ids[m.group(1)], rule)
        response = client.post(
            url, data={"name": "Stolen", "destination": "https://evil.example/", "email": "a@b.c"}
        )
        assert response.status_code == 400, (url, response.status_code)
        assert "Please reload the page" in Page(response.text).text, url
        assert (api.get("/v1/dynamic").get_json(), api.get("/v1/folders").get_json()) == before, url
    with app.app_context():
        assert db.session.execute(select(LoginToken)).first() is None  # no sign-in link was made


def test_a_disabled_code_answers_410_plainly_and_counts_nothing(app, api, client, runner):
    code = api.create("https://example.com/landing")
    assert runner.invoke(args=["codes", "disable", code["slug"]]).exit_code == 0
    response = client.get(f"/{code['slug']}", headers={"User-Agent": "Mozilla/5.0 (iPhone) Mobile"})
    assert response.status_code == 410 and response.mimetype == "text/html"
    assert "Location" not in response.headers and "<script" not in response.get_data(as_text=True)
    assert api.get(f"/v1/dynamic/{code['id']}/scans").get_json()["scans"]["total"] == 0
