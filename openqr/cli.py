"""Shell commands for operators: `flask keys ...`, `flask users ...`, `flask codes ...`, `flask mcp`,
`flask db-copy`, `flask backup`."""

from __future__ import annotations

import os

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from .auth import accounts, roles, workspaces
from .auth import keys as api_keys
from .codes import core as codes
from .errors import DomainError
from .extensions import db
from .models import ROLES, Account, Code
from .ops import backup, dbcopy
from .text import iso_z

keys_cli = AppGroup("keys", help="Create, list and revoke API keys.")
users_cli = AppGroup("users", help="Manage accounts.")
codes_cli = AppGroup("codes", help="Operator controls for codes.")
DEFAULT_KEY_NAME = "cli"  # `keys create EMAIL` without --name, as the first round's scripts call it


def _account(email: str) -> Account:
    account = accounts.find_account(email)
    if account is None:
        raise click.ClickException(f"no account for {email}")
    return account


def _check_email(raw: str) -> str:
    email = accounts.clean_email(raw)
    if email is None:
        raise click.BadParameter(f"{raw!r} is not an email address", param_hint="EMAIL")
    return email


@keys_cli.command("create")
@click.argument("email")
@click.option(
    "--name",
    default=DEFAULT_KEY_NAME,
    show_default=True,
    help="A name to recognise the key by, e.g. the machine using it.",
)
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="admin",
    show_default=True,
    help="What the key may do (never more than the person's own role).",
)
@click.option(
    "--workspace", "workspace_id", type=int, help="The workspace's id (default: the person's first)."
)
def keys_create(email: str, name: str, role: str, workspace_id: int | None) -> None:
    """Create a key (and the account if needed); print the key alone on stdout."""
    try:
        name = api_keys.clean_key_name(name)
    except DomainError as err:
        raise click.BadParameter(err.message, param_hint="--name") from None
    account = accounts.get_or_create_account(_check_email(email))
    access = workspaces.member_access(account, workspace_id)
    if access is None or (workspace_id is not None and access.workspace_id != workspace_id):
        where = f"workspace {workspace_id}" if workspace_id is not None else "any workspace"
        raise click.ClickException(f"{account.email} is not a member of {where}")
    if not roles.at_least(access.role, role):
        raise click.BadParameter(
            f"{account.email} is {access.role} there: a key may not act above that", param_hint="--role"
        )
    _key, plain = api_keys.create_key(access.workspace, name, role=role, created_by=account)
    click.echo(plain)


@keys_cli.command("list")
@click.argument("email")
def keys_list(email: str) -> None:
    """List the keys of every workspace the person is in: prefix, name, created, last used, state."""
    for membership in workspaces.memberships_of(_account(email)):
        for key in api_keys.list_keys(membership.workspace):
            state = "revoked" if key.revoked_at else "active"
            last = iso_z(key.last_used_at) if key.last_used_at else "never"
            click.echo(f"{key.prefix}\t{key.name or '-'}\t{iso_z(key.created_at)}\t{last}\t{state}")


@keys_cli.command("revoke")
@click.argument("prefix")
def keys_revoke(prefix: str) -> None:
    """Revoke the key with this prefix (as `keys list` shows it)."""
    key = api_keys.find_by_prefix(prefix)
    if key is None:
        raise click.ClickException(f"no key with prefix {prefix}")
    api_keys.revoke_key(key)
    click.echo(f"revoked {prefix}", err=True)


@users_cli.command("create")
@click.argument("email")
def users_create(email: str) -> None:
    """Create an account that may sign in (needed when sign-ups are closed)."""
    account = accounts.create_account(_check_email(email))
    click.echo(f"account {account.email} ready", err=True)


def _code(slug: str) -> Code:
    try:
        return codes.find_by_slug(slug)
    except DomainError:
        raise click.ClickException(f"no code with slug {slug}") from None


def _set_status(slug: str, status: str) -> None:
    codes.set_status(_code(slug), status)
    click.echo(f"{slug} {status}", err=True)


@codes_cli.command("disable")
@click.argument("slug")
def codes_disable(slug: str) -> None:
    """Switch a code off: it answers 410 and counts nothing."""
    _set_status(slug, "disabled")


@codes_cli.command("enable")
@click.argument("slug")
def codes_enable(slug: str) -> None:
    """Switch a disabled code back on."""
    _set_status(slug, "active")


@codes_cli.command("set-destination")
@click.argument("slug")
@click.argument("url")
def codes_set_destination(slug: str, url: str) -> None:
    """Point a code at a new destination (checked like the API's; noted in its history as `cli`)."""
    try:
        codes.set_destination(_code(slug), url, source="cli")
    except DomainError as err:
        raise click.ClickException(err.message) from None
    click.echo(f"{slug} -> {url}", err=True)


scans_cli = AppGroup("scans", help="Scan data tools.")


@scans_cli.command("seed")
@click.option("--code", "slug", required=True, help="Slug of the code that gets the scans.")
@click.option("--count", default=100_000, show_default=True, type=click.IntRange(1, 100_000_000))
@click.option(
    "--days",
    default=400,
    show_default=True,
    type=click.IntRange(1, 5000),
    help="Spread over this many days, ending today.",
)
@click.option("--seed", "rng_seed", type=int, default=None, help="Random seed, for repeatable data.")
def scans_seed(slug: str, count: int, days: int, rng_seed: int | None) -> None:
    """Add realistic scans (countries, devices, referrers, daily and weekly rhythm) to a code."""
    from .scans.seed import seed_scans

    seconds = seed_scans(_code(slug).id, count, days, rng_seed=rng_seed)
    click.echo(f"seeded {count} scans of {slug} over {days} days in {seconds:.1f} s", err=True)


@click.command("mcp")
@with_appcontext
def mcp_stdio() -> None:
    """Serve the MCP tools on stdin/stdout as the API key in OPENQR_KEY acts (its workspace, its role)."""
    key = os.environ.get("OPENQR_KEY", "").strip()
    if not key:
        raise click.ClickException("set OPENQR_KEY to an API key (oqr_live_...) of the workspace to act in")
    if api_keys.authenticate(key) is None:
        raise click.ClickException("OPENQR_KEY is not a live API key (unknown or revoked)")
    db.session.remove()  # each tool call opens its own session in its own thread
    import anyio

    from .assistant.server import build_server, serve_stdio

    # The key is checked again on every call: revoking it stops a running assistant at once.
    server = build_server(current_app._get_current_object(), lambda _ctx: api_keys.authenticate(key))
    anyio.run(serve_stdio, server)


# Every operator command: `flask <command>` from a checkout, `openqr <command>` in the binary.
COMMANDS = (keys_cli, users_cli, codes_cli, scans_cli, mcp_stdio, dbcopy.db_copy, backup.backup_command)


def register(app: Flask) -> None:
    for each in COMMANDS:
        app.cli.add_command(each)
