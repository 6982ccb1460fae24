"""deploy/openqr.service: systemd accepts it, and it runs the binary as the tests run it (its data
in the state directory, its unpacked self in a private /tmp, a user of its own, a read-only system)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from ..servers import ROOT, binary

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
