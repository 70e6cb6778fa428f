"""Alembic environment: metadata from jobgate.store.tables; the connection comes from the caller."""

from alembic import context
from sqlalchemy import text

from jobgate.store.tables import metadata

_LOCK_ID = 0x6A6F6267  # "jobg": parallel upgrades on PostgreSQL take turns


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("jobgate runs migrations with a connection: use `jobgate db upgrade`")
    is_pg = connection.dialect.name == "postgresql"
    if is_pg:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _LOCK_ID})
    try:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            compare_type=True,
            compare_server_default=True,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if is_pg:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
            connection.commit()


run_migrations_online()
