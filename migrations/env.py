import logging
from contextlib import contextmanager
from logging.config import fileConfig

from alembic import context
from flask import current_app
from sqlalchemy import text

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
# The server configures logging itself; only a bare `flask db` run needs alembic.ini's.
if not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")


def get_engine():
    return current_app.extensions["migrate"].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace("%", "%%")
    except AttributeError:
        return str(get_engine().url).replace("%", "%%")


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option("sqlalchemy.url", get_engine_url())
target_db = current_app.extensions["migrate"].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, "metadatas"):
        return target_db.metadatas[None]
    return target_db.metadata


# Any fixed 64-bit number: processes upgrading one PostgreSQL database take turns on it.
MIGRATION_LOCK_ID = 0x4F70656E5152  # "OpenQR"


@contextmanager
def migration_lock(connection):
    """Run one upgrade at a time per PostgreSQL database.

    Several app processes may start at once and each runs `upgrade()`: the first takes
    the lock and migrates; the others wait, then find the database at head and do nothing.
    SQLite needs nothing: a SQLite install is served by one process.
    """
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    connection.commit()  # a session-level lock: it outlives this transaction
    try:
        yield
    finally:
        if connection.in_transaction():
            connection.rollback()  # only left open when the upgrade failed
        connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()


@contextmanager
def sqlite_foreign_keys_off(connection):
    """Run SQLite migrations with foreign keys off, then check them.

    SQLite alters a table by copying it and dropping the old one (Alembic's batch mode); with
    foreign keys on, dropping `accounts` would cascade-delete every code, key and scan. SQLite's
    own advice: switch enforcement off for the rebuild (it cannot change inside a transaction),
    then `foreign_key_check` that every reference still holds before going on.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    try:
        yield
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.commit()
        if broken:
            raise RuntimeError(f"the migration left rows pointing at nothing: {broken[:5]}")
    finally:
        if connection.in_transaction():
            connection.rollback()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=get_metadata(), literal_binds=True)

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = current_app.extensions["migrate"].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    def run(connection):
        context.configure(connection=connection, target_metadata=get_metadata(), **conf_args)

        with migration_lock(connection), sqlite_foreign_keys_off(connection):
            with context.begin_transaction():
                context.run_migrations()

    # `flask db-copy` upgrades another database than the app's: it hands over a connection to it.
    given = config.attributes.get("connection")
    if given is not None:
        run(given)
    else:
        with get_engine().connect() as connection:
            run(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
