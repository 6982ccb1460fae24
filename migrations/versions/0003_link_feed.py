"""link change feed: codes.version, link_tombstones, and the triggers that keep them

Every insert, update or delete of a code gets a new, higher `version` from the database
itself (triggers), and a delete or a slug change leaves a tombstone for the slug that went
away. Server processes poll `version > cursor` to keep their in-memory link tables exact
(openqr.redirect.links). Triggers rather than application code: a change made by any writer (the
API, the CLI, a migration, an operator's SQL) reaches every process.

Revision ID: 0003_link_feed
Revises: 0002_rate_limit_keys
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_link_feed"
down_revision = "0002_rate_limit_keys"
branch_labels = None
depends_on = None

# PostgreSQL: versions come from a sequence, handed out under a transaction-level advisory
# lock, so versions commit in the order they are given and a poller never skips one.
PG_LOCK_ID = 0x0C0DE5
PG_UPGRADE = [
    "CREATE SEQUENCE link_version_seq",
    f"""
    CREATE FUNCTION link_feed_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock({PG_LOCK_ID});
        NEW.version := nextval('link_version_seq');
        IF TG_OP = 'UPDATE' AND NEW.slug <> OLD.slug THEN
            INSERT INTO link_tombstones (version, slug) VALUES (NEW.version, OLD.slug);
        END IF;
        RETURN NEW;
    END $$
    """,
    f"""
    CREATE FUNCTION link_feed_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock({PG_LOCK_ID});
        INSERT INTO link_tombstones (version, slug) VALUES (nextval('link_version_seq'), OLD.slug);
        RETURN OLD;
    END $$
    """,
    "CREATE TRIGGER codes_link_feed_write BEFORE INSERT OR UPDATE ON codes "
    "FOR EACH ROW EXECUTE FUNCTION link_feed_write()",
    "CREATE TRIGGER codes_link_feed_delete AFTER DELETE ON codes "
    "FOR EACH ROW EXECUTE FUNCTION link_feed_delete()",
]
PG_DOWNGRADE = [
    "DROP TRIGGER codes_link_feed_delete ON codes",
    "DROP TRIGGER codes_link_feed_write ON codes",
    "DROP FUNCTION link_feed_delete()",
    "DROP FUNCTION link_feed_write()",
    "DROP SEQUENCE link_version_seq",
]

# SQLite has one writer at a time: the next version is simply one more than the highest given.
SQLITE_NEXT = (
    "(SELECT coalesce(max(v), 0) + 1 FROM (SELECT max(version) AS v FROM codes "
    "UNION ALL SELECT max(version) FROM link_tombstones))"
)
SQLITE_UPGRADE = [
    f"""
    CREATE TRIGGER codes_link_feed_insert AFTER INSERT ON codes BEGIN
        UPDATE codes SET version = {SQLITE_NEXT} WHERE rowid = NEW.rowid;
    END
    """,
    f"""
    CREATE TRIGGER codes_link_feed_update AFTER UPDATE ON codes WHEN NEW.version = OLD.version BEGIN
        UPDATE codes SET version = {SQLITE_NEXT} WHERE rowid = NEW.rowid;
        INSERT INTO link_tombstones (version, slug)
            SELECT version, OLD.slug FROM codes WHERE rowid = NEW.rowid AND OLD.slug <> NEW.slug;
    END
    """,
    f"""
    CREATE TRIGGER codes_link_feed_delete AFTER DELETE ON codes BEGIN
        -- The deleted row may have held the highest version: the tombstone must still be higher.
        INSERT INTO link_tombstones (version, slug) VALUES (max(OLD.version + 1, {SQLITE_NEXT}), OLD.slug);
    END
    """,
]
SQLITE_DOWNGRADE = [
    "DROP TRIGGER codes_link_feed_delete",
    "DROP TRIGGER codes_link_feed_update",
    "DROP TRIGGER codes_link_feed_insert",
]


def upgrade():
    op.create_table(
        "link_tombstones",
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("slug", sa.String(length=48), nullable=False),
        sa.PrimaryKeyConstraint("version", "slug", name=op.f("pk_link_tombstones")),
    )
    with op.batch_alter_table("codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.create_index(batch_op.f("ix_codes_version"), ["version"], unique=False)
    statements = PG_UPGRADE if op.get_bind().dialect.name == "postgresql" else SQLITE_UPGRADE
    for statement in statements:
        op.execute(statement)


def downgrade():
    statements = PG_DOWNGRADE if op.get_bind().dialect.name == "postgresql" else SQLITE_DOWNGRADE
    for statement in statements:
        op.execute(statement)
    with op.batch_alter_table("codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_codes_version"))
        batch_op.drop_column("version")
    op.drop_table("link_tombstones")
