"""Real server processes for tests: `python app.py` (or the built `openqr` binary) on a free
port, stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
# A phone's browser: counted as a scan (the default python-requests agent is a bot).
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


# The environment the binary runs with: nothing of the checkout or a virtualenv, only a PATH
# and a HOME; each test adds its OPENQR_* settings.
BARE_PATH = "/usr/local/bin:/usr/bin:/bin"
NO_BINARY = (
    "no binary to test: `make binary` then OPENQR_BINARY=dist/openqr (make test does both),"
    " or OPENQR_BUILD_BINARY=1 to build it now"
)
_built: dict[str, Path] = {}


def binary() -> Path:
    """The `openqr` file under test: OPENQR_BINARY, or built now (OPENQR_BUILD_BINARY=1); else skip."""
    import pytest

    given = os.environ.get("OPENQR_BINARY", "").strip()
    if given:
        path = Path(given).resolve()
        assert path.is_file() and os.access(path, os.X_OK), f"OPENQR_BINARY={given} is not an executable file"
        return path
    if os.environ.get("OPENQR_BUILD_BINARY") != "1":
        pytest.skip(NO_BINARY)
    if "openqr" not in _built:
        _built["openqr"] = build_binary()
    return _built["openqr"]


def build_binary(onedir: bool = False) -> Path:
    """The binary of the checkout as it is now: `deploy/build.py` builds it, or copies it from its
    cache when nothing that goes into it has changed (a second)."""
    command = [sys.executable, "deploy/build.py", *(["--onedir"] if onedir else [])]
    subprocess.run(command, cwd=ROOT, check=True, timeout=900)
    return ROOT / "dist" / ("openqr-dir/openqr" if onedir else "openqr")


def bare_env(home: Path, **settings: str) -> dict[str, str]:
    """Only PATH, HOME and the given OPENQR_* settings: what a service manager would pass."""
    return {"PATH": BARE_PATH, "HOME": str(home), **settings}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AppProcess:
    """`python app.py` with its own port and log file; settings come from `env`.

    `kind="binary"` runs the built `openqr` instead, from an empty folder of its own, with a bare
    environment (`bare_env`): what it needs must be inside the file. Its data then lives in that
    folder's `instance/` unless `database_url` says otherwise; `prefix` runs it through another
    command (a sandbox).
    """

    def __init__(
        self,
        tmp_path: Path,
        name: str,
        database_url: str | None,
        *,
        kind: str = "source",
        port: int | None = None,
        prefix: tuple[str, ...] = (),
        **settings: str,
    ):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"{name}.log"
        own = {
            "OPENQR_PORT": str(self.port),
            "OPENQR_HOST": "127.0.0.1",
            "OPENQR_SECRET_KEY": "test-secret",
            "OPENQR_LOG_LEVEL": "WARNING",
        }
        if database_url:
            own["OPENQR_DATABASE_URL"] = database_url
        if kind == "binary":
            self.cwd = tmp_path / f"{name}-run"
            self.cwd.mkdir(exist_ok=True)
            command, env = [*prefix, str(binary())], bare_env(self.cwd, **own)
        else:
            self.cwd = ROOT
            command = [sys.executable, "app.py"]
            env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "OPENQR_"))}
            env.update(own, OPENQR_INSTANCE_PATH=str(tmp_path / f"{name}-instance"))
        env.update(settings)
        self._log = self.log_path.open("w")
        # A session of its own: a kill that a stop falls back to reaches the binary's child too
        # (a one-file binary is a small loader that unpacks Python and runs it as its child).
        self.process = subprocess.Popen(
            command, cwd=self.cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.log()}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or still starting (a busy machine): ask again
            time.sleep(0.1)
        raise AssertionError(f"server not ready after {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM to every process of the server, the way systemd stops a service (its whole
        control group: the binary's loader and its child both get it); returns the exit status."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()
