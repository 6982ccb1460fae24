"""`openqr`: serve with no arguments, or run an operator command; the single binary's entry point.

`python app.py` and `flask ...` reach the same two functions: `build_app` (a bad setting ends
with one line) and `serve` (waitress until SIGTERM or Ctrl-C, then every buffered scan written).
"""

from __future__ import annotations

import gc
import logging
import resource
import signal
import sys

import click
from flask import Flask
from flask.cli import ScriptInfo
from flask_migrate.cli import db as db_commands

from . import ConfigError, assistant, cli, create_app
from .extensions import db
from .models import utcnow
from .ops.health import VERSION
from .scans import classify, visitors
from .services import services

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def build_app() -> Flask:
    """The app from the environment's settings; a bad setting ends the process with one clear line."""
    try:
        return create_app()
    except ConfigError as err:
        sys.exit(f"openqr: configuration error: {err}")


def apply_migrations(app: Flask) -> None:
    """Bring the database to the newest schema (nothing to do when it is there already)."""
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


def _stop(signum, _frame):
    """SIGTERM stops like Ctrl-C: waitress leaves its loop, then the buffered scans are written."""
    # One SIGTERM is enough. A second must not cut the last write short; systemd sends one to the
    # one-file binary's loader and one to this process, and the loader passes its own on.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def connection_settings(config) -> dict:
    """Waitress's limits on client connections, from OPENQR_CONNECTION_LIMIT, _CHANNEL_TIMEOUT and
    _BACKLOG: idle or trickling clients hold a connection each, never a worker thread, so the limit
    is what they can exhaust (the reverse proxy in front takes the internet's slow clients)."""
    timeout = config["OPENQR_CHANNEL_TIMEOUT"]
    return {
        "connection_limit": config["OPENQR_CONNECTION_LIMIT"],
        "channel_timeout": timeout,
        # Silent connections are looked for this often: closed at most 1.5 timeouts after falling silent.
        "cleanup_interval": max(1, min(30, timeout // 2)),
        "backlog": config["OPENQR_BACKLOG"],
        # poll(), not select(): select() cannot watch a descriptor numbered 1024 or above.
        "asyncore_use_poll": True,
    }


def raise_open_files_limit(connections: int, log: logging.Logger) -> None:
    """Make room for `connections` client sockets (a body spilled to a file takes one more) plus the
    process's own files: raise the soft limit, which systemd and shells often leave at 1024."""
    needed = 2 * connections + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        log.warning(
            "open files limited to %s: OPENQR_CONNECTION_LIMIT=%s needs about %s (raise LimitNOFILE)",
            target,
            connections,
            needed,
        )


def serve(app: Flask | None = None) -> None:
    """Serve dashboard, API and redirects with waitress until SIGTERM or SIGINT."""
    app = app or build_app()
    logging.basicConfig(level=app.config["OPENQR_LOG_LEVEL"], format=LOG_FORMAT)
    from waitress import create_server

    apply_migrations(app)  # pending migrations first, so an upgrade keeps every row
    with app.app_context():
        assistant.warn_shadowed_slug(app)
        visitors.forget_ended_days(utcnow().date())  # keys of days that ended while we were stopped
        db.session.commit()
    host, port = app.config["OPENQR_HOST"], app.config["OPENQR_PORT"]
    log = logging.getLogger("openqr")
    raise_open_files_limit(app.config["OPENQR_CONNECTION_LIMIT"], log)
    server = create_server(
        app,
        host=host,
        port=port,
        threads=app.config["OPENQR_THREADS"],
        ident="OpenQR",
        # Waitress would strip X-Forwarded-For before the app sees it; OPENQR_TRUSTED_PROXIES
        # decides, hop by hop, whose forwarding header is believed (openqr.scans.classify).
        clear_untrusted_proxy_headers=False,
        **connection_settings(app.config),
    )
    log.info("OpenQR serving on http://%s:%s", host, port)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    # The scan flusher works in batches; hand the interpreter to waiting requests every
    # millisecond (not every 5) so a batch does not show up in the redirects' latency.
    sys.setswitchinterval(0.001)
    # Everything built so far (routes, models, parsers) lives as long as the process: move it out
    # of the collector's reach, so a full collection under load scans only new objects and does
    # not stall every request for tens of milliseconds.
    classify.warm_up()
    running = services(app)
    # The scan journal (and those of stopped processes), every link in memory before the first
    # scan, the schedule, webhook delivery.
    running.start()
    gc.collect()
    gc.freeze()
    gc.enable()  # `python -m openqr` and the binary load the app with it off (openqr/__main__.py)
    try:
        server.run()  # returns after closing its sockets and finishing the requests being answered
    except KeyboardInterrupt:
        server.close()
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # after Ctrl-C too: SIGTERM must not cut the write
        # Every answered scan is in the journal by now: the recorder, stopped last, stores what the
        # database takes; the rest waits in the journal for the next start.
        running.stop()
        log.info("OpenQR stopped")


def _command_app() -> Flask:
    """The app an operator command runs in, loaded when the command starts (never for `--help`):
    pending migrations first, except under `db`, which runs Alembic's own commands, and `backup`,
    which copies the database as the running server has it (an upgrade is what a backup precedes)."""
    gc.enable()  # off while the modules loaded (openqr/__main__.py)
    app = build_app()
    if click.get_current_context().find_root().invoked_subcommand not in ("db", "backup"):
        # Commands keep their output for what they were asked; only warnings reach stderr.
        level = max(logging.getLevelName(app.config["OPENQR_LOG_LEVEL"]), logging.WARNING)
        logging.basicConfig(level=level, format=LOG_FORMAT)
        apply_migrations(app)
    return app


@click.group(
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Settings are OPENQR_* environment variables; data lives in OPENQR_INSTANCE_PATH "
    "(default: ./instance).",
)
@click.version_option(VERSION, "-V", "--version", prog_name="openqr", message="%(prog)s %(version)s")
@click.pass_context
def command(ctx: click.Context) -> None:
    """OpenQR: editable QR codes with scan analytics.

    With no command: serve the dashboard, the API and the redirects (as `python app.py`).
    Every command but `db` and `backup` first applies pending migrations.
    """
    if ctx.invoked_subcommand is None:
        serve(build_app())


for each in (*cli.COMMANDS, db_commands):  # the same commands as `flask ...`, and Alembic's
    command.add_command(each)


def main(argv: list[str] | None = None) -> None:
    """`openqr [COMMAND ...]`; the exit status is the command's."""
    command.main(
        args=argv,
        prog_name="openqr",
        obj=ScriptInfo(create_app=_command_app, set_debug_flag=False, load_dotenv_defaults=False),
    )
