"""The test PostgreSQL: a reachability check and throwaway schemas in database `test`."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

HOST, PORT, USER, DATABASE = "127.0.0.1", 5432, "postgres", "test"
DSN = f"host={HOST} port={PORT} user={USER} dbname={DATABASE} connect_timeout=5"


def unreachable_reason() -> str | None:
    """None when PostgreSQL answers a query, else why not (one line)."""
    try:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"
    return None


def schema_url(schema: str) -> str:
    """A SQLAlchemy URL whose connections see only `schema` (search_path set at connect)."""
    return f"postgresql+psycopg://{USER}@{HOST}:{PORT}/{DATABASE}?options=-csearch_path%3D{schema}"


def new_schema_name(prefix: str = "t") -> str:
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"


def create_schema(schema: str) -> None:
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')


def drop_schema(schema: str) -> None:
    """Drop the schema and everything in it; fails (rather than hangs) if a connection still holds it."""
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '15s'")
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def throwaway_schema(prefix: str = "t") -> Iterator[str]:
    """A fresh, empty schema for the block; yields its SQLAlchemy URL."""
    schema = new_schema_name(prefix)
    create_schema(schema)
    try:
        yield schema_url(schema)
    finally:
        drop_schema(schema)


def with_lock_timeout(url: str, ms: int = 5000) -> str:
    """`url` (a schema_url) whose connections give up waiting on a row lock after `ms`: a statement that
    should never wait fails loudly instead of hanging the test."""
    assert "options=" in url, url
    return f"{url}%20-clock_timeout%3D{ms}"


def blocked_by(pid: int) -> int:
    """How many backends wait on a lock that backend `pid` holds."""
    with psycopg.connect(DSN, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", (pid,))
        found = row.fetchone()
        return int(found[0]) if found else 0
