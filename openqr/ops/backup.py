"""`flask backup FILE` (`openqr backup FILE`): a consistent copy of the live database.

SQLite: SQLite's online backup copies every page inside one read transaction, so the copy is the
database as it stood at one instant, taken while the server goes on writing (in WAL mode a reader
never holds up the writer). The copy is made beside FILE under a temporary name, checked, and
linked into place only when complete: FILE is never half-written, and an existing file is never
replaced. PostgreSQL has its own tool: the command prints the `pg_dump` line for the configured
database and exits with status 2.
"""

from __future__ import annotations

import os
import secrets
import shlex
import sqlite3
import sys
import time
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy.engine import URL

from ..extensions import db

PG_DUMP_STATUS = 2  # "not done here": scripts can tell it from a failed copy (1)


def pg_dump_command(url: URL, target: str) -> str:
    """The pg_dump line that backs up the database at `url` into `target` (custom format, for
    pg_restore). The password is left out: pg_dump reads it from PGPASSWORD or ~/.pgpass."""
    libpq = URL.create(
        "postgresql",
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    ).render_as_string(hide_password=False)
    return shlex.join(["pg_dump", "--format=custom", f"--file={target}", f"--dbname={libpq}"])


def _check_target(target: Path) -> None:
    if target.exists() or target.is_symlink():
        raise click.ClickException(f"{target} already exists; a backup never replaces a file")
    if not target.parent.is_dir():
        raise click.ClickException(f"the folder {target.parent} does not exist")


def _place(partial: Path, target: Path) -> None:
    """Give the finished copy its name, failing rather than replacing a file made meanwhile."""
    try:
        os.link(partial, target)
    except FileExistsError:
        raise click.ClickException(f"{target} appeared during the backup; it was left as it is") from None
    except OSError:  # a file system without hard links: check, then rename
        if target.exists():
            raise click.ClickException(f"{target} appeared during the backup; it was left as it is") from None
        partial.rename(target)


def backup_sqlite(source: sqlite3.Connection, target: Path) -> int:
    """Copy the database of `source` into the new file `target`; returns its size in bytes.
    Raises click.ClickException with one line when it cannot."""
    _check_target(target)
    partial = target.parent / f".{target.name}.partial-{secrets.token_hex(4)}"
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # all pages in one step: one read transaction, one instant
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            verdict = copy.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            copy.close()
        if verdict != "ok":
            raise click.ClickException(f"the copy failed SQLite's check ({verdict}); nothing was written")
        _place(partial, target)
    except (OSError, sqlite3.Error) as err:
        raise click.ClickException(f"cannot write {target}: {err}") from None
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(file: Path) -> None:
    """Copy the live database into FILE, a new file (SQLite); on PostgreSQL, print the pg_dump command."""
    url = db.engine.url
    if url.get_backend_name() == "postgresql":
        click.echo(pg_dump_command(url, str(file)))
        click.echo(
            "openqr backup copies SQLite databases; for PostgreSQL run the pg_dump command above "
            "(restore with pg_restore).",
            err=True,
        )
        sys.exit(PG_DUMP_STATUS)
    if not url.database or url.database == ":memory:":
        raise click.ClickException("the database is in memory: there is no file to back up")
    started = time.monotonic()
    raw = db.engine.raw_connection()
    try:
        size = backup_sqlite(raw.driver_connection, file)
    finally:
        raw.close()
    seconds = time.monotonic() - started
    click.echo(f"backed up {url.database} to {file} ({size / 1e6:.1f} MB in {seconds:.1f} s)", err=True)
