"""Self-signed TLS certificates for tests (the `openssl` command makes them; tests skip without it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def self_signed(folder: Path, name: str, *addresses: str) -> tuple[str, str]:
    """A certificate for the host `name` (and IP `addresses`), its own authority; (cert, key) files."""
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    names = ",".join([f"DNS:{name}", *(f"IP:{address}" for address in addresses)])
    command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2".split()
    subject = ["-subj", f"/CN={name}", "-addext", f"subjectAltName={names}"]
    subprocess.run(
        [*command, "-keyout", key, "-out", cert, *subject],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return str(cert), str(key)
