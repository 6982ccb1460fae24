"""workspaces and roles: each account becomes the owner of a workspace holding its data

Codes, folders, webhooks, API keys and the account-wide roll-ups move from `account_id` to
`workspace_id`. Each existing account gets a workspace with the same id (so every row keeps its
number and moves by a rename alone), its keys become `admin` keys of it made by the account, and
a code's earlier history entries get the actor they can be known by.

Revision ID: 0010_workspaces
Revises: 0009_scan_streams
"""

from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0010_workspaces"
down_revision = "0009_scan_streams"
branch_labels = None
depends_on = None

# Tables whose rows an account owned: (table, index on account_id to rename or None).
OWNED = (
    ("api_keys", "ix_api_keys_account_id"),
    ("folders", "ix_folders_account_id"),
    ("webhooks", "ix_webhooks_account_id"),
    ("codes", None),
)
ROLLUPS = {
    "account_scan_days": ("workspace_scan_days", ("day",), ("n", "visitors")),
    "account_scan_hours": ("workspace_scan_hours", ("hour",), ("n",)),
    "account_scan_day_values": ("workspace_scan_day_values", ("dimension", "value", "day"), ("n",)),
}


@contextmanager
def sqlite_triggers_kept(table):
    """SQLite drops a table's triggers when batch mode rebuilds it: put the link feed's back."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    triggers = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
    ).fetchall()
    yield
    for (sql,) in triggers:
        op.execute(sql)


def _rollup_columns(keys):
    types = {"day": sa.Date(), "hour": sa.Integer(), "dimension": sa.String(8), "value": sa.String(255)}
    return [sa.Column(key, types[key], nullable=False, autoincrement=False) for key in keys]


def upgrade():
    op.create_table(
        "workspaces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("joined_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_memberships_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_memberships_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint("workspace_id", "account_id", name="uq_memberships_workspace_account"),
    )
    op.create_index("ix_memberships_workspace_id", "memberships", ["workspace_id"])
    op.create_index("ix_memberships_account_id", "memberships", ["account_id"])
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("invited_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_invitations_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"], ["accounts.id"], name=op.f("fk_invitations_invited_by_accounts"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
    )
    op.create_index("ix_invitations_workspace_id", "invitations", ["workspace_id"])
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_audit_entries_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    op.create_index("ix_audit_entries_workspace", "audit_entries", ["workspace_id", "id"])

    # Every account owns a workspace of the same id, named by its address.
    op.execute("INSERT INTO workspaces (id, name, created_at) SELECT id, email, created_at FROM accounts")
    op.execute(
        "INSERT INTO memberships (workspace_id, account_id, role, joined_at)"
        " SELECT id, id, 'owner', created_at FROM accounts"
    )
    if op.get_bind().dialect.name == "postgresql":  # new workspaces number on from the copied ids
        op.execute(
            "SELECT setval(pg_get_serial_sequence('workspaces', 'id'), COALESCE((SELECT max(id) FROM workspaces), 0) + 1, false)"
        )

    for table, index in OWNED:
        op.drop_index(index or "ix_codes_account_created", table)
        with sqlite_triggers_kept(table), op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_account_id_accounts", type_="foreignkey")
            batch.alter_column(
                "account_id", new_column_name="workspace_id", existing_type=sa.Integer(), existing_nullable=False
            )
            if table == "api_keys":
                batch.add_column(sa.Column("created_by", sa.Integer(), nullable=True))
                batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="admin"))
        # A second pass: batch mode cannot point a constraint or an index at a column it renames.
        with sqlite_triggers_kept(table), op.batch_alter_table(table) as batch:
            batch.create_foreign_key(
                f"fk_{table}_workspace_id_workspaces", "workspaces", ["workspace_id"], ["id"], ondelete="CASCADE"
            )
            if table == "api_keys":
                batch.create_foreign_key(
                    "fk_api_keys_created_by_accounts", "accounts", ["created_by"], ["id"], ondelete="SET NULL"
                )
        if table == "codes":
            op.create_index("ix_codes_workspace_created", "codes", ["workspace_id", "created_at"])
        else:
            op.create_index(f"ix_{table}_workspace_id", table, ["workspace_id"])
        if table == "api_keys":
            op.create_index("ix_api_keys_created_by", "api_keys", ["created_by"])
    op.execute("UPDATE api_keys SET created_by = workspace_id, role = 'admin'")

    # The account-wide roll-ups become the workspace's: same rows, new table and key name.
    for old, (new, keys, counts) in ROLLUPS.items():
        op.create_table(
            new,
            sa.Column("workspace_id", sa.Integer(), nullable=False),
            *_rollup_columns(keys),
            *[sa.Column(name, sa.Integer(), nullable=False) for name in counts],
            sa.ForeignKeyConstraint(
                ["workspace_id"], ["workspaces.id"], name=op.f(f"fk_{new}_workspace_id_workspaces"), ondelete="CASCADE"
            ),
            sa.PrimaryKeyConstraint("workspace_id", *keys, name=op.f(f"pk_{new}")),
            sqlite_with_rowid=False,
        )
        columns = ", ".join(("workspace_id", *keys, *counts))
        source = ", ".join(("account_id", *keys, *counts))
        op.execute(f"INSERT INTO {new} ({columns}) SELECT {source} FROM {old}")
        op.drop_table(old)

    with op.batch_alter_table("destination_changes") as batch:
        batch.add_column(sa.Column("actor", sa.JSON(), nullable=True))
    # What earlier entries can say of who made them: the schedule, the command line, or the owner
    # (the dashboard was only ever the owner; a key's prefix was not kept, so API entries stay null).
    op.execute("UPDATE destination_changes SET actor = '{\"type\": \"schedule\"}' WHERE source = 'schedule'")
    op.execute("UPDATE destination_changes SET actor = '{\"type\": \"cli\"}' WHERE source = 'cli'")
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT dc.id, a.email FROM destination_changes dc JOIN codes c ON c.id = dc.code_id"
            " JOIN accounts a ON a.id = c.workspace_id WHERE dc.source = 'dashboard'"
        )
    ).all()
    table = sa.table("destination_changes", sa.column("id"), sa.column("actor", sa.JSON()))
    for change_id, email in rows:
        bind.execute(
            table.update().where(table.c.id == change_id).values(actor={"type": "member", "email": email})
        )


def downgrade():
    with op.batch_alter_table("destination_changes") as batch:
        batch.drop_column("actor")
    for old, (new, keys, counts) in ROLLUPS.items():
        op.create_table(
            old,
            sa.Column("account_id", sa.Integer(), nullable=False),
            *_rollup_columns(keys),
            *[sa.Column(name, sa.Integer(), nullable=False) for name in counts],
            sa.ForeignKeyConstraint(
                ["account_id"], ["accounts.id"], name=op.f(f"fk_{old}_account_id_accounts"), ondelete="CASCADE"
            ),
            sa.PrimaryKeyConstraint("account_id", *keys, name=op.f(f"pk_{old}")),
            sqlite_with_rowid=False,
        )
        columns = ", ".join(("account_id", *keys, *counts))
        source = ", ".join(("workspace_id", *keys, *counts))
        # Only what a single-owner install can hold: a workspace's sums go to its first owner.
        op.execute(
            f"INSERT INTO {old} ({columns}) SELECT {source} FROM {new}"
            " WHERE workspace_id IN (SELECT id FROM accounts)"
        )
        op.drop_table(new)
    for table, index in OWNED:
        if table == "api_keys":
            op.drop_index("ix_api_keys_created_by", "api_keys")
        op.drop_index("ix_codes_workspace_created" if table == "codes" else f"ix_{table}_workspace_id", table)
        with sqlite_triggers_kept(table), op.batch_alter_table(table) as batch:
            if table == "api_keys":
                batch.drop_constraint("fk_api_keys_created_by_accounts", type_="foreignkey")
                batch.drop_column("role")
                batch.drop_column("created_by")
            batch.drop_constraint(f"fk_{table}_workspace_id_workspaces", type_="foreignkey")
            batch.alter_column(
                "workspace_id", new_column_name="account_id", existing_type=sa.Integer(), existing_nullable=False
            )
        with sqlite_triggers_kept(table), op.batch_alter_table(table) as batch:
            batch.create_foreign_key(
                f"fk_{table}_account_id_accounts", "accounts", ["account_id"], ["id"], ondelete="CASCADE"
            )
        op.create_index(
            index or "ix_codes_account_created", table, ["account_id"] if index else ["account_id", "created_at"]
        )
    op.drop_table("audit_entries")
    op.drop_table("invitations")
    op.drop_table("memberships")
    op.drop_table("workspaces")
