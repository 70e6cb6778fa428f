"""Alembic builds exactly the schema that jobgate.store.tables describes, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from jobgate.store import make_engine
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
