"""deploy/nginx.conf in front of a real app process: the visitor's address reaches the app.

A scan through nginx is counted with the country of the client nginx saw (its
X-Forwarded-For entry); the same forged header sent straight to the app, from an
address that is not the proxy, is not believed.
"""

from __future__ import annotations

import http.client
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from openqr.extensions import db
from openqr.models import Scan
from tests.conftest import Api, empty_database, make_app, new_key
from tests.support.servers import PHONE, AppProcess, free_port

NGINX = shutil.which("nginx") or next(
    (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(path).exists()), None
)
DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"
UK_ADDRESS = "81.2.69.160"  # GB in every IP-to-country table

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it with apt-get)"),
]


def render(tmp_path: Path, listen_port: int, app_port: int) -> Path:
    """deploy/nginx.conf with tmp ports and paths, wrapped in a minimal main config."""
    site = DEPLOY.read_text()
    site, listens = re.subn(r"listen 80;", f"listen 127.0.0.1:{listen_port};", site)
    site, upstreams = re.subn(
        r"(\n    server 127\.0\.0\.1:\d+;)+", f"\n    server 127.0.0.1:{app_port};", site
    )
    assert (listens, upstreams) == (1, 1), "deploy/nginx.conf changed shape: update render()"
    (tmp_path / "openqr.conf").write_text(site)
    main = tmp_path / "nginx.conf"
    main.write_text(f"""
daemon off;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {tmp_path}/access.log;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {tmp_path}/openqr.conf;
}}
""")
    return main


def start_nginx(folder: Path, config: Path) -> subprocess.Popen:
    """nginx in the foreground on `config` (from `render`), its files in `folder`."""
    command = [NGINX, "-p", str(folder), "-c", str(config), "-e", str(folder / "error.log")]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for_nginx(nginx: subprocess.Popen, base: str, **options) -> None:
    """Until `base`/healthz answers 200 through nginx, for at most 10 s (`options` go to
    requests.get, such as `verify=` for TLS)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            if requests.get(base + "/healthz", timeout=1, **options).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        assert nginx.poll() is None, nginx.stderr.read()
        assert time.monotonic() < deadline, "nginx did not answer"
        time.sleep(0.1)


@pytest.fixture
def proxied(tmp_path):
    """(nginx URL, app process, in-process app) on one migrated, empty database."""
    url = empty_database(tmp_path)
    app = make_app(tmp_path, OPENQR_DATABASE_URL=url)
    server = AppProcess(tmp_path, "app", url, OPENQR_TRUSTED_PROXIES="127.0.0.1")
    listen_port = free_port()
    (tmp_path / "nginx").mkdir()
    config = render(tmp_path / "nginx", listen_port, server.port)
    nginx = start_nginx(tmp_path / "nginx", config)
    try:
        server.wait_ready()
        base = f"http://127.0.0.1:{listen_port}"
        wait_for_nginx(nginx, base)
        yield base, server, app
    finally:
        nginx.terminate()
        nginx.wait(10)
        server.stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _countries(app, expected: int) -> list[str | None]:
    """The countries of the stored scans, once `expected` are stored (scans may be written in batches)."""
    deadline = time.monotonic() + 10
    with app.app_context():
        while True:
            countries = list(db.session.execute(select(Scan.country).order_by(Scan.id)).scalars())
            db.session.remove()
            if len(countries) >= expected or time.monotonic() > deadline:
                return countries
            time.sleep(0.05)


def _scan_through_nginx(base: str, slug: str) -> int:
    headers = {"User-Agent": PHONE, "X-Forwarded-For": UK_ADDRESS}
    return requests.get(f"{base}/{slug}", headers=headers, allow_redirects=False, timeout=10).status_code


def test_the_client_nginx_forwards_is_believed(proxied):
    base, _server, app = proxied
    code = Api(app.test_client(), new_key(app)).create()
    assert _scan_through_nginx(base, code["slug"]) == 302
    assert _countries(app, 1) == ["GB"]


def test_a_forged_header_sent_straight_to_the_app_is_not_believed(proxied):
    base, server, app = proxied
    code = Api(app.test_client(), new_key(app)).create()
    # From an address that is not the proxy (127.0.0.3), with the header a visitor could forge.
    direct = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10, source_address=("127.0.0.3", 0))
    direct.request("GET", f"/{code['slug']}", headers={"User-Agent": PHONE, "X-Forwarded-For": UK_ADDRESS})
    assert direct.getresponse().status == 302
    direct.close()
    assert _scan_through_nginx(base, code["slug"]) == 302  # a second scan, so the first is surely stored
    assert _countries(app, 2)[0] is None
