"""A private PostgreSQL cluster for tests that must stop and restart the database itself.

Made with `initdb` in a temporary folder, served by `pg_ctl` on a free port, owned by the
test and removed afterwards. PostgreSQL refuses to run as root: under root the commands run
as the `postgres` system user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.servers import free_port

BIN = Path(os.environ.get("OPENQR_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
NOT_AVAILABLE = f"no PostgreSQL server binaries in {BIN} (set OPENQR_TEST_PG_BIN)"


def available() -> bool:
    if not (BIN / "initdb").exists():
        return False
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return False
    return True


class PrivatePostgres:
    """`initdb` + `pg_ctl start` on a free port; `stop()` and `start()` at will; `remove()` at the end."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="openqr-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._as = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self._as, str(BIN / tool), *args], check=True, capture_output=True, text=True, timeout=60
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start"
        )

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, as when a database server goes down."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.folder, ignore_errors=True)
