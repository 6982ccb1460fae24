"""GET /<slug>: the redirect every scan goes through, and /healthz."""

from __future__ import annotations

from sqlalchemy import select

from openqr.extensions import db
from openqr.models import Scan
from openqr.services import services

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)
SLACKBOT = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def scan_rows(app):

    services(app).recorder.flush()  # what the recorder holds, when it buffers
    with app.app_context():
        return db.session.execute(select(Scan.country, Scan.device, Scan.referrer)).all()


def scan_count(app) -> int:
    return len(scan_rows(app))


def test_redirects_with_302_and_no_store(client, api, app):
    code = api.create("https://example.com/spring-launch")
    response = client.get(f"/{code['slug']}", headers={"User-Agent": IPHONE})
    assert response.status_code == 302
    assert response.headers["Location"] == "https://example.com/spring-launch"
    assert response.headers["Cache-Control"] == "no-store"
    assert scan_count(app) == 1


def test_scan_records_country_device_and_referrer_host_only(client, api, app):
    code = api.create()
    client.get(
        f"/{code['slug']}",
        headers={"User-Agent": IPHONE, "CF-IPCountry": "gb", "Referer": "https://t.co/abc?x=1"},
    )
    client.get(f"/{code['slug']}", headers={"User-Agent": IPAD})
    client.get(f"/{code['slug']}", headers={"User-Agent": ANDROID_TABLET, "CF-IPCountry": "XX"})
    client.get(f"/{code['slug']}", headers={"User-Agent": DESKTOP}, environ_base={"REMOTE_ADDR": "8.8.8.8"})
    client.get(f"/{code['slug']}")
    assert sorted(scan_rows(app), key=str) == sorted(
        [
            ("GB", "mobile", "t.co"),
            (None, "tablet", None),
            (None, "tablet", None),
            ("US", "desktop", None),
            (None, None, None),
        ],
        key=str,
    )


def test_repoint_slug_change_and_delete_take_effect_on_the_next_scan(client, api):
    code = api.create("https://example.com/holding")
    slug = code["slug"]
    assert client.get(f"/{slug}").headers["Location"] == "https://example.com/holding"
    api.patch(f"/v1/dynamic/{code['id']}", json={"destination": "https://example.com/live"})
    assert client.get(f"/{slug}").headers["Location"] == "https://example.com/live"
    api.patch(f"/v1/dynamic/{code['id']}", json={"slug": "spring-sale"})
    assert client.get(f"/{slug}").status_code == 404
    assert client.get("/spring-sale").headers["Location"] == "https://example.com/live"
    api.delete(f"/v1/dynamic/{code['id']}")
    assert client.get("/spring-sale").status_code == 404


def test_head_is_answered_but_not_counted(client, api, app):
    code = api.create()
    response = client.head(f"/{code['slug']}")
    assert response.status_code == 302 and response.headers["Location"] == code["destination"]
    assert scan_count(app) == 0


def test_crawlers_and_preview_bots_are_redirected_not_counted(client, api, app):
    code = api.create()
    for agent in (SLACKBOT, GOOGLEBOT, "facebookexternalhit/1.1", "WhatsApp/2.23.20.0", "curl/8.5.0"):
        response = client.get(f"/{code['slug']}", headers={"User-Agent": agent})
        assert response.status_code == 302
    assert scan_count(app) == 0


def test_unknown_slug_is_a_friendly_404_page(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "doesn't go anywhere" in response.get_data(as_text=True)


def test_database_error_while_recording_never_fails_the_redirect(client, api, app, monkeypatch):
    from openqr.scans import store as scans

    code = api.create()

    def broken(*_args, **_kwargs):
        raise RuntimeError("database is gone")

    monkeypatch.setattr(scans, "store_scans", broken)
    response = client.get(f"/{code['slug']}", headers={"User-Agent": IPHONE})
    assert response.status_code == 302 and response.headers["Location"] == code["destination"]


def test_forwarded_for_is_believed_only_from_trusted_proxies(tmp_path):

    import ipaddress

    from openqr.scans.classify import ScanClassifier

    trusting = ScanClassifier("", (ipaddress.ip_network("10.0.0.0/8"),))
    environ = {"REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_FOR": "81.2.69.160, 10.9.9.9"}
    assert trusting.country(environ) == "GB"
    # From an untrusted peer the header is ignored: the peer's own address decides.
    environ = {"REMOTE_ADDR": "8.8.8.8", "HTTP_X_FORWARDED_FOR": "81.2.69.160"}
    assert trusting.country(environ) == "US"
    assert (
        ScanClassifier("", ()).country({"REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_FOR": "81.2.69.160"})
        is None
    )


def test_healthz_reports_database_and_version(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["database"] is True and body["version"]
