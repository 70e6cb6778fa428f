"""Alembic environment: metadata from jobgate.store.tables; the connection comes from the caller."""

from typing import Any

from alembic import context
from sqlalchemy import text

from jobgate.store.tables import metadata

_LOCK_ID = 0x6A6F6267  # "jobg": parallel upgrades on PostgreSQL take turns


class _SqliteForeignKeys:
    """SQLite alters a table by rebuilding it (copy, drop, rename), which its foreign-key checks refuse while
    other tables refer to it: they are off during a migration (alembic's batch-mode recipe; the PRAGMA has no
    effect inside a transaction, so it goes to the driver before one begins), every reference is checked
    before the migration commits, and the caller throws the connection away afterwards (store/migrate.py)."""

    def __init__(self, connection: Any) -> None:
        self._driver = connection.connection.driver_connection if connection.dialect.name == "sqlite" else None
        self._connection = connection

    def off(self) -> None:
        if self._driver is not None and not self._driver.in_transaction:
            self._driver.execute("PRAGMA foreign_keys=OFF")

    def check(self) -> None:
        if self._driver is not None:
            broken = self._connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(f"the migration left rows that refer to nothing: {broken[:5]}")


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("jobgate runs migrations with a connection: use `jobgate db upgrade`")
    is_pg = connection.dialect.name == "postgresql"
    if is_pg:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _LOCK_ID})
    sqlite = _SqliteForeignKeys(connection)
    try:
        sqlite.off()
        context.configure(
            connection=connection,
            target_metadata=metadata,
            compare_type=True,
            compare_server_default=True,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
            sqlite.check()
    finally:
        if is_pg:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
            connection.commit()


run_migrations_online()
