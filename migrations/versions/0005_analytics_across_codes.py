"""analytics across codes: hourly and per-account roll-ups, distinct visitors per day, time zone

Revision ID: 0005_analytics_across_codes
Revises: 0002_rate_limit_keys
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_analytics_across_codes"
down_revision = "0003_link_feed"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, referred: str):
    name = op.f(f"fk_{table}_{column}_{referred}")
    return sa.ForeignKeyConstraint([column], [f"{referred}.id"], name=name, ondelete="CASCADE")


def upgrade():
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"))
    with op.batch_alter_table("scan_days") as batch:
        batch.add_column(sa.Column("visitors", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("running", sa.BigInteger(), nullable=False, server_default="0"))
    # Existing days get their running totals, oldest first.
    op.execute(
        "UPDATE scan_days SET running = (SELECT sum(earlier.n) FROM scan_days AS earlier "
        "WHERE earlier.code_id = scan_days.code_id AND earlier.day <= scan_days.day)"
    )
    op.create_table(
        "scan_hours",
        sa.Column("code_id", sa.String(32), nullable=False),
        _fk("scan_hours", "code_id", "codes"),
        sa.Column("hour", sa.Integer(), autoincrement=False, nullable=False),  # hours since 1970 (UTC)
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code_id", "hour", name=op.f("pk_scan_hours")),
        sqlite_with_rowid=False,  # composite keys: the key is the row (smaller, faster)
    )
    op.create_table(
        "account_scan_days",
        sa.Column("account_id", sa.Integer(), nullable=False),
        _fk("account_scan_days", "account_id", "accounts"),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("visitors", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "day", name=op.f("pk_account_scan_days")),
        sqlite_with_rowid=False,  # composite keys: the key is the row (smaller, faster)
    )
    op.create_table(
        "account_scan_hours",
        sa.Column("account_id", sa.Integer(), nullable=False),
        _fk("account_scan_hours", "account_id", "accounts"),
        sa.Column("hour", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "hour", name=op.f("pk_account_scan_hours")),
        sqlite_with_rowid=False,  # composite keys: the key is the row (smaller, faster)
    )
    op.create_table(
        "account_scan_day_values",
        sa.Column("account_id", sa.Integer(), nullable=False),
        _fk("account_scan_day_values", "account_id", "accounts"),
        sa.Column("dimension", sa.String(8), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "account_id", "dimension", "value", "day", name=op.f("pk_account_scan_day_values")
        ),
        sqlite_with_rowid=False,  # composite keys: the key is the row (smaller, faster)
    )
    op.create_table(
        "visitor_keys",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_visitor_keys")),
        sqlite_with_rowid=False,  # composite keys: the key is the row (smaller, faster)
    )
    op.create_table(
        "visitor_hashes",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("digest", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("day", "digest", name=op.f("pk_visitor_hashes")),
        sqlite_with_rowid=False,  # composite keys: the key is the row (smaller, faster)
    )
    # Earlier scans: hours from the raw rows, account sums from the per-code roll-ups.
    hour = "CAST((julianday(scanned_at) - 2440587.5) * 24 AS INTEGER)"  # whole hours since 1970
    if op.get_bind().dialect.name == "postgresql":
        hour = "CAST(floor(extract(epoch FROM scanned_at) / 3600) AS INTEGER)"
    op.execute(
        f"INSERT INTO scan_hours (code_id, hour, n) SELECT code_id, {hour}, count(*) FROM scans GROUP BY 1, 2"
    )
    op.execute(
        "INSERT INTO account_scan_days (account_id, day, n, visitors) SELECT codes.account_id, scan_days.day, "
        "sum(scan_days.n), 0 FROM scan_days JOIN codes ON codes.id = scan_days.code_id GROUP BY 1, 2"
    )
    op.execute(
        "INSERT INTO account_scan_hours (account_id, hour, n) SELECT codes.account_id, scan_hours.hour, "
        "sum(scan_hours.n) FROM scan_hours JOIN codes ON codes.id = scan_hours.code_id GROUP BY 1, 2"
    )
    op.execute(
        "INSERT INTO account_scan_day_values (account_id, day, dimension, value, n) SELECT codes.account_id, "
        "v.day, v.dimension, v.value, sum(v.n) FROM scan_day_values AS v JOIN codes ON codes.id = v.code_id "
        "GROUP BY 1, 2, 3, 4"
    )


def downgrade():
    for table in (
        "visitor_hashes",
        "visitor_keys",
        "account_scan_day_values",
        "account_scan_hours",
        "account_scan_days",
        "scan_hours",
    ):
        op.drop_table(table)
    with op.batch_alter_table("scan_days") as batch:
        batch.drop_column("running")
        batch.drop_column("visitors")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("timezone")
