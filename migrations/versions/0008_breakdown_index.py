"""breakdown index: a code's scans per value read from one covering index, already grouped

Revision ID: 0008_breakdown_index
Revises: 0007_smart_destinations
"""

from alembic import op

revision = "0008_breakdown_index"
down_revision = "0007_smart_destinations"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_scan_day_values_by_value", "scan_day_values", ["code_id", "dimension", "value", "day", "n"]
    )


def downgrade():
    op.drop_index("ix_scan_day_values_by_value", table_name="scan_day_values")
