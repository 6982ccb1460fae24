"""Settings: defaults, validation, the instance secret key, and the README's table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openqr import create_app
from openqr.config import SETTINGS, ConfigError, load_settings, secret_key_from_instance

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_states_every_default_the_code_uses():
    """An operator reads the defaults in the README: each must be what the app really uses."""
    rows = dict(re.findall(r"^\| `(OPENQR_[A-Z0-9_]+)` \| ([^|]+) \|", README.read_text(), re.MULTILINE))
    for setting in SETTINGS:
        shown = rows[setting.name].strip()
        assert shown == (f"`{setting.default}`" if setting.default else "(none)"), setting.name


def test_webhook_allow_hosts_are_hosts_with_or_without_a_port():
    raw = "10.0.0.5, Hooks.Internal.,[::1], 127.0.0.1:8088, [0:0::1]:9000, hooks.internal:443"
    parsed = load_settings({"OPENQR_WEBHOOK_ALLOW_HOSTS": raw})
    assert parsed["OPENQR_WEBHOOK_ALLOW_HOSTS"] == {
        "10.0.0.5",
        "hooks.internal",
        "::1",
        "127.0.0.1:8088",
        "[::1]:9000",
        "hooks.internal:443",
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OPENQR_PORT", "0"),
        ("OPENQR_PORT", "http"),
        ("OPENQR_BASE_URL", "localhost:8080"),
        ("OPENQR_SHORT_BASE_URL", "ftp://x.example"),
        ("OPENQR_DATABASE_URL", "mysql://x"),
        ("OPENQR_CREATE_LIMIT", "-1"),
        ("OPENQR_TRUSTED_PROXIES", "10.0.0.0/33"),
        ("OPENQR_COUNTRY_HEADER", "CF IPCountry"),
        ("OPENQR_LOG_LEVEL", "loud"),
        ("OPENQR_WEBHOOK_ALLOW_HOSTS", "http://hooks.internal/"),
        ("OPENQR_WEBHOOK_ALLOW_HOSTS", "hooks.internal:0"),
        ("OPENQR_WEBHOOK_ALLOW_HOSTS", "[::1:8080"),
        ("OPENQR_WEBHOOK_ALLOW_HOSTS", "[hooks.internal]:80"),
        ("OPENQR_WEBHOOK_CA_FILE", "/nonexistent/ca.pem"),
        ("OPENQR_CONNECTION_LIMIT", "5"),
        ("OPENQR_CHANNEL_TIMEOUT", "0"),
        ("OPENQR_WEBHOOK_TIMEOUT", "0"),
    ],
)
def test_bad_values_raise_one_line_naming_the_setting(name, value):
    with pytest.raises(ConfigError) as caught:
        load_settings({name: value})
    assert str(caught.value).startswith(f"{name}=") and "\n" not in str(caught.value)


def test_secret_key_is_generated_once_and_kept(tmp_path):
    first = secret_key_from_instance(str(tmp_path))
    assert len(first) >= 32
    assert secret_key_from_instance(str(tmp_path)) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_every_setting_is_documented_in_the_readme():
    text = README.read_text()
    documented = set(re.findall(r"^\| `(OPENQR_[A-Z0-9_]+)`", text, re.MULTILINE))
    declared = {setting.name for setting in SETTINGS}
    assert declared - documented == set(), "settings missing from the README table"
    assert documented - declared == set(), "README documents settings that do not exist"


def test_data_lives_in_instance_of_the_working_directory_by_default(tmp_path, monkeypatch):
    """Not beside the code: the single binary's code is unpacked into a folder removed at exit."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENQR_INSTANCE_PATH", raising=False)
    monkeypatch.delenv("OPENQR_DATABASE_URL", raising=False)
    monkeypatch.delenv("OPENQR_SECRET_KEY", raising=False)
    app = create_app()
    assert app.instance_path == str(tmp_path / "instance")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'instance' / 'openqr.db'}"
    assert (tmp_path / "instance" / "secret_key").read_text().strip() == app.config["SECRET_KEY"]
    monkeypatch.setenv("OPENQR_INSTANCE_PATH", "elsewhere")  # relative to the working directory too
    assert create_app().instance_path == str(tmp_path / "elsewhere")
