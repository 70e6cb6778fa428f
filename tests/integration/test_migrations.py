"""Alembic builds exactly the schema that jobgate.store.tables describes, on SQLite and PostgreSQL."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from jobgate.store import SqlUnitOfWorkFactory, make_engine
from jobgate.store.migrate import current_revision, head_revision, upgrade
from jobgate.store.tables import metadata


class TestUpgrade:
    def test_upgrade_of_an_empty_database_reaches_head_and_matches_the_tables(self, empty_db_url) -> None:
        engine = make_engine(empty_db_url)
        try:
            upgrade(engine)
            assert current_revision(engine) == head_revision()
            with engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
                assert compare_metadata(context, metadata) == []
        finally:
            engine.dispose()

    def test_a_second_upgrade_changes_nothing(self, db_url) -> None:
        engine = make_engine(db_url)
        try:
            before = current_revision(engine)
            upgrade(engine)
            assert current_revision(engine) == before == head_revision()
        finally:
            engine.dispose()


class TestUserAliases:
    """0002: a user's wsid moves from the users table to user_aliases (kind "wsid"), on a database built at 0001."""

    def test_existing_wsids_become_aliases_and_still_log_in(self, empty_db_url: str) -> None:
        engine = make_engine(empty_db_url)
        try:
            upgrade(engine, "0001")
            with engine.begin() as conn:
                for name, wsid in (("alice", 1001), ("bob", 7)):
                    conn.exec_driver_sql(
                        "INSERT INTO users (name, wsid, password_hash, groups, created_at, password_changed_at)"
                        " VALUES (%(name)s, %(wsid)s, 'h', '[]', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                        if engine.dialect.name == "postgresql"
                        else "INSERT INTO users (name, wsid, password_hash, groups, created_at, password_changed_at)"
                        " VALUES (:name, :wsid, 'h', '[]', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
                        {"name": name, "wsid": wsid},
                    )
            upgrade(engine)
            with engine.connect() as conn:
                aliases = sorted(conn.exec_driver_sql("SELECT kind, value, user_name FROM user_aliases").all())
                columns = {column["name"] for column in inspect(conn).get_columns("users")}
            assert aliases == [("wsid", "1001", "alice"), ("wsid", "7", "bob")]
            assert "wsid" not in columns
            with SqlUnitOfWorkFactory(engine)(write=False) as uow:
                found = uow.users.by_alias("wsid", "1001")
                assert found is not None
                assert found.name == "alice"
                assert uow.users.highest_number_alias("wsid") == 1001
        finally:
            engine.dispose()


def test_after_an_upgrade_every_sqlite_connection_checks_foreign_keys(tmp_path: Path) -> None:
    """Migrations turn SQLite's foreign-key checks off on their connection; none of the store's keeps them off."""
    engine = make_engine(f"sqlite:///{tmp_path / 'fk.db'}")
    try:
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
