"""OpenQR: editable QR codes with scan analytics."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException

from . import api, assistant, auth, cli, dashboard, services
from .api import docs
from .codes import scheduler
from .config import ConfigError, load_settings, secret_key_from_instance
from .errors import is_api_request
from .extensions import csrf, db, login_manager, migrate
from .ops import health, metrics, outage, security
from .redirect import fastpath, links
from .redirect import views as redirect
from .scans import classify, recorder
from .webhooks import delivery

__all__ = ["ConfigError", "create_app"]

ROOT = Path(__file__).resolve().parent.parent


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """WAL lets readers and the one writer work at once; foreign keys make deletes cascade."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def _derive(app: Flask) -> None:
    """Settings computed from other settings."""
    config = app.config
    if not config.get("OPENQR_DATABASE_URL"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        config["OPENQR_DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'openqr.db'}"
    config["SQLALCHEMY_DATABASE_URI"] = config["OPENQR_DATABASE_URL"]
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    config["SECRET_KEY"] = config.get("OPENQR_SECRET_KEY") or secret_key_from_instance(app.instance_path)
    config["OPENQR_OWN_HOSTS"] = frozenset(
        urlsplit(config[name]).hostname.lower() for name in ("OPENQR_BASE_URL", "OPENQR_SHORT_BASE_URL")
    )
    secure = config["OPENQR_BASE_URL"].startswith("https://")
    config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
    )


def create_app(test_config: dict | None = None, *, instance_path: str | None = None) -> Flask:
    """Build the app: settings from the environment, then `test_config` overrides."""
    app = Flask(
        __name__,
        # Data lives where the operator runs the server, never beside the code: in the single
        # binary the code is unpacked into a temporary folder that goes away at exit.
        instance_path=os.path.abspath(instance_path or os.environ.get("OPENQR_INSTANCE_PATH") or "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(load_settings())
    app.config.update(test_config or {})
    _derive(app)
    security.init_app(app)  # body limit, blocklist, security headers
    app.json.sort_keys = False
    app.json.ensure_ascii = False  # labels such as "Spring poster — bus stops" stay readable

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)

    for blueprint in api.ALL_BLUEPRINTS:
        csrf.exempt(blueprint)  # the API authenticates with Bearer keys, not cookies
    for blueprint in (api.bp, docs.bp, health.bp, redirect.bp, auth.bp, dashboard.bp):
        app.register_blueprint(blueprint)
    app.register_error_handler(HTTPException, _http_error)
    outage.init_app(app)  # 503 while the database is unreachable, for every view
    cli.register(app)

    services.init_app(app, _make_services(app))  # started and stopped by openqr.main.serve
    metrics.init_app(app)  # GET /metrics, counters the redirect paths advance
    fastpath.init_app(app)  # known short links are answered before Flask's routing
    assistant.init_app(app)  # `/mcp` is answered in front of all of that
    return app


def _make_services(app: Flask) -> services.Services:
    """The parts that outlive a request, each made once and handed what it uses."""
    config = app.config
    classifier = classify.ScanClassifier(config["OPENQR_COUNTRY_HEADER"], config["OPENQR_TRUSTED_PROXIES"])
    scan_recorder = recorder.create(app, classifier)  # scans buffered, written in batches off the request
    table = links.create(config)  # every link in memory, following the database's change feed
    deliverer = delivery.Deliverer(app)  # webhook events, sent by a thread of each serving process
    return services.Services(
        classifier=classifier,
        recorder=scan_recorder,
        links=table,
        redirector=redirect.Redirector(table, classifier, scan_recorder),
        metrics=metrics.Metrics(app, scan_recorder, deliverer),
        scheduler=scheduler.ScheduleRunner(app),  # due schedule entries written every second
        deliverer=deliverer,
    )


def _http_error(err: HTTPException):
    """HTTP errors: JSON under /v1, Flask's own pages elsewhere."""
    if is_api_request():
        return api.http_error_as_json(err)
    return err
