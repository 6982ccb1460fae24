"""Build the single binary, or take it from the cache: `python3 deploy/build.py [--onedir]`.

`make binary` runs this. The result is `dist/openqr` (one file) or `dist/openqr-dir/` (one
folder, `--onedir`: starts faster, nothing to unpack). A build takes a minute or two on two
cores, so each result is kept under OPENQR_BINARY_CACHE (default /var/cache/openqr-binary, or
.cache/binary in the checkout when that is not writable), named by a hash of everything that
goes into it: the app's files, the spec, the pinned requirements and the Python version.
`--no-cache` always builds.

A build runs in a virtualenv of its own, `.venv-build`, made from requirements-build.txt alone
(the pinned runtime requirements and PyInstaller): what the test tools would add never reaches
the binary. It is made only when a build is needed; this script itself needs only Python.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INPUTS = ("openqr", "templates", "static", "migrations")
FILES = ("deploy/openqr.spec", "deploy/build.py", "requirements.txt", "requirements-build.txt")


def inputs_hash() -> str:
    """A hash of every file the build reads from the checkout, and of the interpreter."""
    digest = hashlib.sha256(f"{sys.version} {platform.machine()}".encode())
    paths = [ROOT / name for name in FILES]
    for folder in INPUTS:
        paths += (p for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in sorted(paths):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def cache_root() -> Path:
    configured = os.environ.get("OPENQR_BINARY_CACHE")
    if configured:
        return Path(configured)
    system = Path("/var/cache/openqr-binary")
    try:
        system.mkdir(parents=True, exist_ok=True)
        if os.access(system, os.W_OK):
            return system
    except OSError:
        pass
    return ROOT / ".cache" / "binary"


def _copy(source: Path, target: Path) -> None:
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target)


def build_python() -> Path:
    """The build virtualenv's interpreter, made or brought up to date from requirements-build.txt."""
    venv = ROOT / ".venv-build"
    python = venv / "bin" / "python"
    wanted = hashlib.sha256(b"".join((ROOT / name).read_bytes() for name in FILES[2:])).hexdigest()
    marker = venv / ".requirements"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if not marker.exists() or marker.read_text() != wanted:
        pip = [str(python), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "-r", "requirements-build.txt"], cwd=ROOT, check=True)
        marker.write_text(wanted)
    return python


def _prune(root: Path, keep: int = 4) -> None:
    """Keep the newest few builds only: each is 40 MB or more."""
    builds = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in builds[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--onedir", action="store_true", help="build dist/openqr-dir/ instead of dist/openqr")
    parser.add_argument("--no-cache", action="store_true", help="build even when the cache has this build")
    args = parser.parse_args()
    name = "openqr-dir" if args.onedir else "openqr"
    result = ROOT / "dist" / name
    cached = cache_root() / inputs_hash() / name
    if cached.exists() and not args.no_cache:
        _copy(cached, result)
        print(f"{result.relative_to(ROOT)}: from the cache ({cached})", flush=True)
        return 0
    command = [str(build_python()), "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN"]
    env = {**os.environ, "ONEDIR": "1" if args.onedir else "0"}
    subprocess.run([*command, "deploy/openqr.spec"], cwd=ROOT, env=env, check=True)
    try:
        _copy(result, cached)
        _prune(cached.parent.parent)
    except OSError as err:  # a full or read-only cache costs the next build time, nothing else
        print(f"not cached: {err}", file=sys.stderr)
    size = sum(p.stat().st_size for p in ([result] if result.is_file() else result.rglob("*")) if p.is_file())
    print(f"{result.relative_to(ROOT)}: built, {size / 1e6:.1f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
