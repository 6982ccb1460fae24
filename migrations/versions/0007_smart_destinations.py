"""smart destinations: a code's rules/split/schedule/expiry/utm, each scan's destination, history

Revision ID: 0007_smart_destinations
Revises: 0006_webhooks
"""

from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0007_smart_destinations"
down_revision = "0006_webhooks"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("smart", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("next_change_at", sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_codes_next_change_at"), ["next_change_at"], unique=False)
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("destination", sa.Text(), nullable=True))
    # The roll-up's value now holds destination URLs too (up to 2048 characters).
    with op.batch_alter_table("scan_day_values", schema=None) as batch_op:
        batch_op.alter_column("value", existing_type=sa.String(length=255), type_=sa.String(length=2048))
    op.create_table(
        "destination_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["code_id"], ["codes.id"], name=op.f("fk_destination_changes_code_id_codes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_destination_changes")),
    )
    with op.batch_alter_table("destination_changes", schema=None) as batch_op:
        batch_op.create_index("ix_destination_changes_code_at", ["code_id", "at"], unique=False)
    # Every existing code's current destination is its first history entry.
    op.execute(
        "INSERT INTO destination_changes (code_id, at, destination, source)"
        " SELECT id, updated_at, destination, 'api' FROM codes"
    )


@contextmanager
def sqlite_triggers_kept(table):
    """SQLite drops a table's triggers with it, and batch mode rebuilds the table by copying:
    the link feed's triggers (0003) are put back afterwards."""
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


def downgrade():
    with op.batch_alter_table("destination_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_destination_changes_code_at")
    op.drop_table("destination_changes")
    op.execute("DELETE FROM scan_day_values WHERE dimension = 'dest'")
    with op.batch_alter_table("scan_day_values", schema=None) as batch_op:
        batch_op.alter_column("value", existing_type=sa.String(length=2048), type_=sa.String(length=255))
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.drop_column("destination")
    with sqlite_triggers_kept("codes"), op.batch_alter_table("codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_codes_next_change_at"))
        batch_op.drop_column("next_change_at")
        batch_op.drop_column("smart")
