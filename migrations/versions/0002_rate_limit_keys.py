"""rate limits keyed by a string, shared by creates and sign-ins

Revision ID: 0002_rate_limit_keys
Revises: 0001

Rate events were per account (`account_id`, `action`) and serialised by writing the account
row (`accounts.lock_seq`). Sign-in limits have no account, so every limit now has a string
key and is serialised by an advisory lock (PostgreSQL) or the write lock (SQLite). The
events are at most an hour old and only count towards limits: they are dropped, not moved.
"""
from alembic import op
import sqlalchemy as sa


revision = "0002_rate_limit_keys"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table("rate_events")
    op.create_table(
        "rate_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_events")),
    )
    with op.batch_alter_table("rate_events", schema=None) as batch_op:
        batch_op.create_index("ix_rate_events_lookup", ["key", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_rate_events_created_at"), ["created_at"], unique=False)
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("lock_seq")


def downgrade():
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lock_seq", sa.Integer(), nullable=False, server_default="0"))
    op.drop_table("rate_events")
    op.create_table(
        "rate_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_rate_events_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_events")),
    )
    with op.batch_alter_table("rate_events", schema=None) as batch_op:
        batch_op.create_index("ix_rate_events_lookup", ["account_id", "action", "created_at"], unique=False)
