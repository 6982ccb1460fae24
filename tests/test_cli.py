"""`flask keys ...`, `flask users create`, `flask codes disable|enable`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from openqr.extensions import db
from openqr.models import Account, ApiKey

ROOT = Path(__file__).resolve().parent.parent


def test_keys_create_prints_only_the_key_and_it_works(runner, app, client):
    result = runner.invoke(args=["keys", "create", "Owner@Example.com", "--name", "ci"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert result.stdout == key + "\n" and key.startswith("oqr_live_") and len(key) >= 9 + 32
    assert client.get("/v1/dynamic", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    with app.app_context():
        stored = db.session.execute(select(ApiKey)).scalar_one()
        assert stored.key_hash != key and key not in (stored.prefix, stored.key_hash)
        assert key.startswith(stored.prefix) and stored.name == "ci"
        assert db.session.execute(select(Account.email)).scalar_one() == "owner@example.com"


def test_keys_list_and_revoke(runner, client):
    key = runner.invoke(args=["keys", "create", "a@example.com", "--name", "ci"]).stdout.strip()
    listing = runner.invoke(args=["keys", "list", "a@example.com"])
    assert listing.exit_code == 0
    prefix = listing.stdout.split("\t")[0]
    assert key.startswith(prefix) and "active" in listing.stdout
    revoked = runner.invoke(args=["keys", "revoke", prefix])
    assert revoked.exit_code == 0
    assert "revoked" in runner.invoke(args=["keys", "list", "a@example.com"]).stdout
    assert client.get("/v1/dynamic", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_cli_errors_are_one_line(runner):
    result = runner.invoke(args=["keys", "list", "nobody@example.com"])
    assert result.exit_code != 0 and "no account" in result.output
    assert runner.invoke(args=["keys", "revoke", "oqr_live_nope"]).exit_code != 0
    assert runner.invoke(args=["keys", "create", "not-an-email", "--name", "ci"]).exit_code != 0


def test_a_key_needs_a_name_as_on_the_dashboard(runner, app):
    """The CLI and the dashboard share one rule: a blank name is refused with the same words."""
    result = runner.invoke(args=["keys", "create", "a@example.com", "--name", "  "])
    assert result.exit_code != 0 and "Give the key a name" in result.output
    with app.app_context():
        assert db.session.execute(select(ApiKey)).first() is None


def test_keys_create_without_a_name_names_the_key_cli(runner, app, client):
    """`flask keys create EMAIL` as the first round pinned it: the key alone on stdout, named `cli`."""
    result = runner.invoke(args=["keys", "create", "a@example.com"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert result.stdout == key + "\n" and key.startswith("oqr_live_")
    assert client.get("/v1/dynamic", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    with app.app_context():
        assert db.session.execute(select(ApiKey.name)).scalar_one() == "cli"
    listed = runner.invoke(args=["keys", "list", "a@example.com"]).stdout
    assert listed.split("\t")[1] == "cli"


def test_users_create(runner, app):
    assert runner.invoke(args=["users", "create", "new@example.com"]).exit_code == 0
    with app.app_context():
        assert db.session.execute(select(Account.email)).scalar_one() == "new@example.com"


def test_codes_disable_answers_410_and_counts_nothing_then_enable(runner, api, client, app):
    code = api.create()
    assert runner.invoke(args=["codes", "disable", code["slug"]]).exit_code == 0
    response = client.get(f"/{code['slug']}")
    assert response.status_code == 410 and "disabled" in response.get_data(as_text=True)
    assert api.get(f"/v1/dynamic/{code['id']}/scans").get_json()["scans"]["total"] == 0
    assert runner.invoke(args=["codes", "enable", code["slug"]]).exit_code == 0
    assert client.get(f"/{code['slug']}").status_code == 302
    assert runner.invoke(args=["codes", "disable", "no-such-slug"]).exit_code != 0


def test_flask_finds_app_py_without_flask_app(tmp_path):
    """The real `flask` command, run from the project folder, with no FLASK_APP."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "OPENQR_"))}
    env.update(OPENQR_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}", OPENQR_INSTANCE_PATH=str(tmp_path))
    flask = [sys.executable, "-m", "flask"]
    upgrade = subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert upgrade.returncode == 0, upgrade.stderr
    created = subprocess.run(
        [*flask, "keys", "create", "shell@example.com", "--name", "shell"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("oqr_live_") and created.stdout.count("\n") == 1


def test_bad_setting_stops_start_up_with_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENQR_")}
    env.update(OPENQR_PORT="eighty", OPENQR_INSTANCE_PATH=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert (
        result.stderr.strip()
        == "openqr: configuration error: OPENQR_PORT='eighty' must be a whole number from 1 to 65535"
    )


def test_key_names_and_emails_with_control_characters_are_refused(runner):
    """A NUL would fail on PostgreSQL; a newline would forge a log line."""
    result = runner.invoke(args=["keys", "create", "a@example.com", "--name", "ci\x00"])
    assert result.exit_code != 0 and "control characters" in result.output
    assert runner.invoke(args=["keys", "create", "a\x00b@example.com", "--name", "ci"]).exit_code != 0
    assert runner.invoke(args=["users", "create", "a@exa\nmple.com"]).exit_code != 0
