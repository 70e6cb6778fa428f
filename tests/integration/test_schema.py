"""The schema Alembic builds is the one store/tables.py describes, constraints included, and every
constraint refuses what it should.

Alembic's compare_metadata (test_migrations.py) ignores CHECK constraints, so here the database's own
catalog is compared: SQLite's CREATE statements in sqlite_master, PostgreSQL's pg_constraint,
pg_indexes and information_schema.columns. A migration whose CHECK lost a value, gained an OR or went
missing differs from metadata.create_all in that catalog."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, insert, text
from sqlalchemy.exc import IntegrityError

from jobgate.store import make_engine
from jobgate.store.migrate import upgrade
from jobgate.store.tables import job_events, jobs, metadata, tokens, user_aliases, users
from support import postgres
from support.fakes import EPOCH

Catalog = dict[str, list[tuple[Any, ...]]]


def catalog(engine: Engine) -> Catalog:
    """Every table's columns, constraints and indexes as the database itself reports them."""
    with engine.connect() as conn:
        return _sqlite_catalog(conn) if engine.dialect.name == "sqlite" else _postgres_catalog(conn)


def _sqlite_catalog(conn: Connection) -> Catalog:
    found: Catalog = {}
    query = "SELECT type, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL AND tbl_name != 'alembic_version'"
    for kind, table, sql in conn.execute(text(query)):
        if kind == "table":  # one entry per column or constraint clause, in any order
            head, _, body = sql.partition("(")
            clauses = [line.strip().rstrip(",") for line in body.rstrip(")").split("\n") if line.strip()]
            found.setdefault(table, []).extend(sorted(("clause", clause) for clause in clauses))
            # a table SQLite's ALTER (alembic's batch mode) rebuilt keeps its name quoted: the same table
            found[table].append(("head", head.strip().replace(f'"{table}"', table)))
        else:
            found.setdefault(table, []).append((kind, sql))
    return {table: sorted(rows) for table, rows in found.items()}


def _postgres_catalog(conn: Connection) -> Catalog:
    schema = conn.execute(text("SELECT current_schema()")).scalar()
    queries = {
        "column": "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, column_default,"
        " is_identity FROM information_schema.columns WHERE table_schema = current_schema()",
        "constraint": "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE connamespace = current_schema()::regnamespace",
        "index": "SELECT tablename, indexname, replace(indexdef, :schema || '.', '') FROM pg_indexes"
        " WHERE schemaname = current_schema()",
    }
    found: Catalog = {}
    for kind, query in queries.items():
        for table, *rest in conn.execute(text(query), {"schema": schema}):
            if table != "alembic_version":
                found.setdefault(table, []).append((kind, *rest))
    return {table: sorted(rows, key=repr) for table, rows in found.items()}


@pytest.fixture
def second_url(empty_db_url: str, tmp_path: Path) -> Iterator[str]:
    """Another empty database on the same backend as empty_db_url."""
    if empty_db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'create_all.db'}"
        return
    with postgres.throwaway_schema("c") as url:
        yield url


def built(url: str, build: Callable[[Engine], None]) -> Catalog:
    engine = make_engine(url)
    try:
        build(engine)
        return catalog(engine)
    finally:
        engine.dispose()


def test_the_migrated_catalog_equals_create_all_constraint_for_constraint(empty_db_url: str, second_url: str) -> None:
    migrated = built(empty_db_url, upgrade)
    described = built(second_url, metadata.create_all)
    assert set(migrated) == {"jobs", "job_events", "users", "user_aliases", "tokens"}
    for table in described:
        assert migrated[table] == described[table], table


def test_the_catalog_holds_every_check_constraint_of_the_tables(empty_db_url: str) -> None:
    """Guards the comparison itself: the catalog would miss a CHECK only if it missed them all."""
    migrated = repr(built(empty_db_url, upgrade))
    for name in ("ck_jobs_state", "ck_job_events_to_state", "ck_job_events_protocol"):
        assert name in migrated


# -- every constraint refuses a row ---------------------------------------------------------------------
JOB = {
    "id": 1, "key": "a" * 32, "owner": "alice", "project": "p", "task": "sleep", "name": "n", "params": {},
    "state": "Submitted", "submitted_at": EPOCH, "state_changed_at": EPOCH,
}  # fmt: skip
EVENT = {
    "job_id": 1, "seq": 1, "stage": "submit", "status": "ok", "to_state": "Submitted", "at": EPOCH,
    "actor": "alice", "protocol": "cli",
}  # fmt: skip
USER = {
    "name": "alice",
    "password_hash": "h",
    "groups": [],
    "created_at": EPOCH,
    "password_changed_at": EPOCH,
}
TOKEN = {"token_hash": "d1", "owner": "alice", "kind": "arcgis", "created_at": EPOCH, "expires_at": EPOCH}
ALIAS = {"kind": "wsid", "value": "1", "user_name": "alice"}
BOB = USER | {"name": "bob"}  # a second user, with no alias

# constraint → (table, the row that breaks it); each row differs from a valid one in that one respect
REFUSED: dict[str, tuple[Any, dict[str, Any]]] = {
    "ck_jobs_state": (jobs, JOB | {"id": 2, "key": "b" * 32, "state": "Paused"}),
    "ck_job_events_to_state": (job_events, EVENT | {"seq": 2, "to_state": "Paused"}),
    "ck_job_events_protocol": (job_events, EVENT | {"seq": 2, "protocol": "smtp"}),
    "pk_jobs": (jobs, JOB | {"key": "b" * 32}),
    "uq_jobs_key": (jobs, JOB | {"id": 2}),
    "pk_job_events": (job_events, EVENT | {"id": 1, "seq": 2}),
    "uq_job_events_job_id_seq": (job_events, EVENT),
    "fk_job_events_job_id_jobs": (job_events, EVENT | {"job_id": 99}),
    "pk_users": (users, USER),
    "pk_user_aliases": (user_aliases, ALIAS | {"user_name": "bob"}),
    "uq_user_aliases_user_name_kind": (user_aliases, ALIAS | {"value": "2"}),
    "fk_user_aliases_user_name_users": (user_aliases, ALIAS | {"value": "3", "user_name": "nobody"}),
    "pk_tokens": (tokens, TOKEN),
    "fk_tokens_owner_users": (tokens, TOKEN | {"token_hash": "d2", "owner": "nobody"}),
}


@pytest.fixture
def seeded(db_url: str) -> Iterator[Engine]:
    """The migrated schema holding one valid row per table (the event gets id 1)."""
    engine = make_engine(db_url)
    with engine.begin() as conn:
        seed = ((jobs, JOB), (job_events, EVENT), (users, USER), (users, BOB), (tokens, TOKEN), (user_aliases, ALIAS))
        for table, row in seed:
            conn.execute(insert(table).values(row))
    yield engine
    engine.dispose()


def test_every_constraint_in_the_catalog_has_a_refused_row(empty_db_url: str) -> None:
    names = set()
    for rows in built(empty_db_url, upgrade).values():
        for kind, *rest in rows:
            if kind == "constraint":  # PostgreSQL: (table, name, type, definition)
                names.add(rest[0])
            elif kind == "clause" and rest[0].startswith("CONSTRAINT "):  # SQLite: a CREATE TABLE clause
                names.add(rest[0].split()[1])
    assert names == set(REFUSED)


@pytest.mark.parametrize("constraint", sorted(REFUSED))
def test_the_database_refuses_a_row_that_breaks_the_constraint(seeded: Engine, constraint: str) -> None:
    table, row = REFUSED[constraint]
    with pytest.raises(IntegrityError) as refused, seeded.begin() as conn:
        conn.execute(insert(table).values(row))
    orig = refused.value.orig
    named = getattr(getattr(orig, "diag", None), "constraint_name", None) or str(orig)
    if seeded.dialect.name == "postgresql" or constraint.startswith("ck_"):
        assert constraint in named  # SQLite names only CHECK constraints in its errors
    with seeded.connect() as conn:
        seeded_rows = 2 if table is users else 1
        assert conn.execute(text(f"SELECT count(*) FROM {table.name}")).scalar() == seeded_rows
