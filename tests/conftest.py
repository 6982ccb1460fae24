"""Shared fixtures: an app with a fresh database per test, clients, keys.

The suite runs on SQLite, or on PostgreSQL with `OPENQR_TEST_DB=postgresql` (see
tests/databases.py). Either way the schema comes from the migrations, applied once per
run: SQLite tests each get a copy of a migrated file; PostgreSQL tests share the run's
own database and start from truncated tables.
"""

from __future__ import annotations

import shutil

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from openqr import create_app
from openqr.auth.accounts import get_or_create_account
from openqr.auth.keys import create_key
from openqr.auth.workspaces import first_workspace
from openqr.extensions import db
from openqr.services import services
from tests.support import databases, pgcluster
from tests.support.mailsink import Sink
from tests.support.servers import free_port

# Set once per run by the `migrated_database` fixture; `test_tmp` is the current test's tmp_path
# and `own` the PostgreSQL databases of apps made in other folders (module or session fixtures).
_run = {
    "postgresql_url": None,
    "postgresql_engine": None,
    "sqlite_template": None,
    "test_tmp": None,
    "own": {},
}


@pytest.fixture(scope="session", autouse=True)
def migrated_database(tmp_path_factory):
    """The run's migrated database: a PostgreSQL database of its own, or a SQLite file to copy."""
    tmp = tmp_path_factory.mktemp("migrated")
    if databases.ON_POSTGRESQL:
        url = databases.create_postgresql_database()
        _run["postgresql_url"] = url
        try:
            databases.upgrade(url, tmp)
            _run["postgresql_engine"] = create_engine(url, pool_size=1)
            yield url
        finally:
            if _run["postgresql_engine"] is not None:
                _run["postgresql_engine"].dispose()
            _run.update(postgresql_url=None, postgresql_engine=None)
            for own in [url, *_run["own"].values()]:
                databases.drop_postgresql_database(own)
    else:
        template = tmp / "template.db"
        databases.upgrade(f"sqlite:///{template}", tmp)
        _run["sqlite_template"] = template
        yield f"sqlite:///{template}"


@pytest.fixture(autouse=True)
def _empty_tables(migrated_database, request):
    """On PostgreSQL every test starts from empty tables, however it builds its app."""
    if databases.ON_POSTGRESQL:
        uses_tmp = "tmp_path" in request.fixturenames
        _run["test_tmp"] = request.getfixturevalue("tmp_path") if uses_tmp else None
        _truncate()
    yield
    _run["test_tmp"] = None


@pytest.fixture(scope="session")
def smtp():
    """A real SMTP server on a free local port: (sink with the messages received, port)."""
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield sink, controller.port
    controller.stop()


@pytest.fixture
def private_postgres():
    """A PostgreSQL cluster of the test's own (`initdb`), to stop and start at will; removed after."""
    if not pgcluster.available():
        pytest.skip(pgcluster.NOT_AVAILABLE)
    cluster = pgcluster.PrivatePostgres()
    yield cluster
    cluster.remove()


@pytest.fixture
def blank_database_url(tmp_path):
    """A second database with no tables at all, of the kind the run is on, removed afterwards."""
    if databases.ON_POSTGRESQL:
        url = databases.create_postgresql_database("blank")
        yield url
        databases.drop_postgresql_database(url)
    else:
        yield f"sqlite:///{tmp_path / 'blank.db'}"


def database_url(tmp_path) -> str:
    """The database of an app made in `tmp_path`, as SQLite's file in that folder would be.

    On PostgreSQL a test's own tmp_path maps to the run's database (emptied before each test);
    another folder (a module or session fixture's) gets a migrated database of its own, kept
    until the end of the run.
    """
    if not databases.ON_POSTGRESQL:
        return f"sqlite:///{tmp_path / 'test.db'}"
    if tmp_path == _run["test_tmp"]:
        return _run["postgresql_url"]
    if tmp_path not in _run["own"]:
        url = databases.create_postgresql_database("own")
        _run["own"][tmp_path] = url
        databases.upgrade(url, tmp_path)
    return _run["own"][tmp_path]


def empty_database(tmp_path) -> str:
    """`database_url(tmp_path)`, migrated and with no rows."""
    url = database_url(tmp_path)
    if url == _run["postgresql_url"]:
        _truncate()
    elif databases.ON_POSTGRESQL:
        engine = create_engine(url)
        try:
            _truncate(engine)
        finally:
            engine.dispose()
    else:
        shutil.copyfile(_run["sqlite_template"], tmp_path / "test.db")
    return url


def _tables() -> str:
    return ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)


def _truncate(engine=None) -> None:
    """Empty a PostgreSQL database: the run's own unless `engine` says otherwise."""
    engine = engine or _run["postgresql_engine"]
    tables = _tables()
    try:
        with engine.begin() as connection:
            connection.execute(text("SET LOCAL lock_timeout = '5s'"))
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    except OperationalError:
        # An earlier test left a transaction open (an app it never closed): end it, then retry.
        with engine.begin() as connection:
            connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ))  # fmt: skip
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def make_app(tmp_path, **overrides):
    config = {
        "TESTING": True,
        "OPENQR_DATABASE_URL": database_url(tmp_path),
        "OPENQR_SECRET_KEY": "test-secret",
        "OPENQR_BASE_URL": "http://qr.test",
        "OPENQR_SHORT_BASE_URL": "https://go.test",
        # Images are drawn in the test's own process: a worker process takes seconds to start.
        # tests/images/test_gate.py and every test of a real server process use the workers.
        "OPENQR_RENDER_PROCESSES": 0,
    }
    config.update(overrides)
    return create_app(config, instance_path=str(tmp_path / "instance"))


def fresh_app(tmp_path, **overrides):
    """An app on an empty, migrated database of its own (`make_app` alone keeps the rows there)."""
    empty_database(tmp_path)
    return make_app(tmp_path, **overrides)


def close_app(app) -> None:
    """Stop the app's services as the server does (threads ended, held scans written), then give
    back its database connections."""
    services(app).stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(tmp_path):
    app = fresh_app(tmp_path)
    yield app
    close_app(app)


@pytest.fixture
def web_app(tmp_path):
    """An app for posting dashboard forms from the test client (CSRF is tested on its own)."""
    app = fresh_app(tmp_path, WTF_CSRF_ENABLED=False)
    yield app
    close_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def sign_in(client, app, email="owner@example.com") -> int:
    """Sign `client` in as `email` (the account is made if needed); returns the account id."""
    with app.app_context():
        account = get_or_create_account(email)
        db.session.commit()
        account_id, version = account.id, account.session_version
    with client.session_transaction() as session:
        session["_user_id"] = f"{account_id}:{version}"
        session["_fresh"] = True
    return account_id


def new_key(app, email: str = "owner@example.com", name: str = "test") -> str:
    """A fresh API key (and account) for `email`."""
    with app.app_context():
        account = get_or_create_account(email)
        _key, plain = create_key(first_workspace(account), name, created_by=account)
        return plain


class Api:
    """A test client that sends one account's key with every call."""

    def __init__(self, client, key: str):
        self.client, self.key = client, key

    def _headers(self, headers):
        return {"Authorization": f"Bearer {self.key}", **(headers or {})}

    def get(self, path, headers=None, **kw):
        return self.client.get(path, headers=self._headers(headers), **kw)

    def head(self, path, headers=None, **kw):
        return self.client.head(path, headers=self._headers(headers), **kw)

    def delete(self, path, headers=None, **kw):
        return self.client.delete(path, headers=self._headers(headers), **kw)

    def post(self, path, json=None, headers=None, **kw):
        return self.client.post(path, json=json, headers=self._headers(headers), **kw)

    def patch(self, path, json=None, headers=None, **kw):
        return self.client.patch(path, json=json, headers=self._headers(headers), **kw)

    def create(self, destination="https://example.com/page", **fields) -> dict:
        response = self.post("/v1/dynamic", json={"destination": destination, **fields})
        assert response.status_code == 201, response.get_json()
        return response.get_json()


@pytest.fixture
def api(app, client):
    return Api(client, new_key(app, "owner@example.com"))


@pytest.fixture
def other_api(app):
    return Api(app.test_client(), new_key(app, "someone-else@example.org"))
