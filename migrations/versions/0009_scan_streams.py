"""scan streams: how far each process's scan journal is stored, so a replayed scan is stored once

Revision ID: 0009_scan_streams
Revises: 0008_breakdown_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_scan_streams"
down_revision = "0008_breakdown_index"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "scan_streams",
        sa.Column("stream", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("stream"),
    )


def downgrade():
    op.drop_table("scan_streams")
