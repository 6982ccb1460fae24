"""deploy/openqr.service: systemd accepts it, and it runs the binary as the tests run it (its data
in the state directory, its unpacked self in a private /tmp, a user of its own, a read-only system)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import requests

from tests.support.servers import ROOT, AppProcess, bare_env, binary

UNIT = ROOT / "deploy" / "openqr.service"


def _service() -> dict[str, list[str]]:
    section = UNIT.read_text().split("[Service]", 1)[1].split("\n[", 1)[0]
    settings: dict[str, list[str]] = {}
    for key, value in re.findall(r"^([A-Za-z]+)=(.*)$", section, re.MULTILINE):
        settings.setdefault(key, []).append(value)
    return settings


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_accepts_the_unit(tmp_path):
    unit = tmp_path / "openqr.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/openqr", str(binary())))
    verify = ["systemd-analyze", "verify", str(unit)]
    done = subprocess.run(verify, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_the_unit_keeps_data_in_the_state_directory_and_the_rest_read_only():
    service = _service()
    assert service["ExecStart"] == ["/usr/local/bin/openqr"]  # serving: no arguments
    assert service["EnvironmentFile"] == ["-/etc/openqr/openqr.env"]
    assert service["StateDirectory"] == ["openqr"] and service["WorkingDirectory"] == ["%S/openqr"]
    assert "OPENQR_INSTANCE_PATH=%S/openqr/instance" in service["Environment"]
    assert service["ReadWritePaths"] == ["%S/openqr"] and service["ProtectSystem"] == ["strict"]
    assert service["PrivateTmp"] == ["yes"] and "TMPDIR=/tmp" in service["Environment"]
    assert service["User"] == ["openqr"] and service["NoNewPrivileges"] == ["yes"]
    assert service["KillSignal"] == ["SIGTERM"]


# ProtectSystem=strict, ReadWritePaths= and PrivateTmp=, as a mount namespace makes them: the
# state directory and a private TMPDIR stay writable, the rest of the system is read-only.
SANDBOX = (
    'mount --bind "$1" "$1" && mount --bind "$2" "$2" && mount -o remount,ro,bind / && shift 2 && exec "$@"'
)


def _can_sandbox() -> bool:
    try:
        return subprocess.run(["unshare", "--mount", "true"], capture_output=True, timeout=10).returncode == 0
    except FileNotFoundError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not _can_sandbox(), reason="needs root for a mount namespace (unshare --mount)")
def test_the_binary_serves_on_a_read_only_system_as_the_unit_runs_it(tmp_path):
    state, private_tmp = tmp_path / "server-run", tmp_path / "tmp"  # AppProcess runs it in server-run
    state.mkdir()
    private_tmp.mkdir()
    sandbox = ("unshare", "--mount", "--propagation", "private", "sh", "-c", SANDBOX, "sandbox")
    prefix = (*sandbox, str(state), str(private_tmp))
    outside = subprocess.run([*prefix, "touch", str(tmp_path / "outside")], capture_output=True, timeout=10)
    assert outside.returncode != 0 and b"Read-only file system" in outside.stderr  # the sandbox holds
    settings = {"OPENQR_INSTANCE_PATH": str(state / "instance"), "TMPDIR": str(private_tmp)}
    made = subprocess.run(
        [*prefix, str(binary()), "keys", "create", "ops@example.com", "--name", "ops"],
        cwd=state,
        env=bare_env(state, **settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0 and made.stdout.startswith("oqr_live_"), made.stderr
    server = AppProcess(tmp_path, "server", None, kind="binary", prefix=prefix, **settings)
    try:
        server.wait_ready()
        key = made.stdout.strip()
        created = requests.post(
            server.url + "/v1/dynamic",
            json={"destination": "https://example.com/"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
    finally:
        assert server.stop() == 0, server.log()
    assert list(private_tmp.iterdir()) == []
    assert sorted(p.name for p in state.iterdir()) == ["instance"]
