"""Alembic environment: the URL comes from Hotline's settings unless the caller passed one."""

from logging.config import fileConfig

from sqlalchemy import pool

from alembic import context
from callcenter.config import load_settings
from callcenter.db import DbTimeouts, make_engine
from callcenter.models import Base
from callcenter.models.search import include_name

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata
# A migration may rewrite a large table: no statement timeout.
MIGRATION_TIMEOUTS = DbTimeouts(statement=0)


def _url() -> str:
    return config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or load_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if _url().startswith("sqlite"):
        engine = make_engine(_url())
    else:
        engine = make_engine(_url(), poolclass=pool.NullPool, timeouts=MIGRATION_TIMEOUTS)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # noqa: ANN001
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
