"""Databases the tasks talk to: each user's MyDB (SQLite, writable; see mydb for its naming and typing) and the
read-only contexts.

Every SQLite connection a query runs on gets a
`Guard` authorizer that refuses ATTACH, DETACH (so VACUUM INTO too), PRAGMA (but a few schema-reading
ones), load_extension and transaction control, and an attach limit; load_extension stays disabled.
A SQLite context opens `file:…?mode=ro` and sees the owner's MyDB as schema `mydb` (writable, so
`INSERT INTO mydb.t SELECT … FROM <context table>` works as in CasJobs; the context itself never is).
A PostgreSQL context runs each query through a server-side cursor (SELECT only) inside a READ ONLY
transaction; give its URL a read-only role as well, since superusers can still read server files.
"""

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol
from urllib.parse import quote

from sqlalchemy.engine import URL, make_url

from jobgate.domain.errors import TaskFailed
from jobgate.runner.tasks.mydb import MYDB, SQLITE_DECL, Row, quote_name

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S: Final = 5.0
PG_CONNECT_TIMEOUT_S: Final = 10
SAFE_PRAGMAS: Final = frozenset(
    {"table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list"}
)
# PostgreSQL type OIDs → portable column types; anything else is a string
PG_TYPES: Final[Mapping[int, str]] = {
    16: "bool",
    17: "bytes",
    20: "int",
    21: "int",
    23: "int",
    26: "int",
    700: "float",
    701: "float",
    1700: "float",
    1082: "datetime",
    1114: "datetime",
    1184: "datetime",
}


class QueryError(Exception):
    """The database refused or aborted a statement; carries the database's own message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Context:
    name: str  # as configured, for messages
    url: URL


@dataclass(frozen=True, slots=True)
class Rows:
    """A running statement: its column names and type hints (None if it returns no rows) and a fetcher."""

    columns: tuple[str, ...] | None
    hints: tuple[str | None, ...]
    fetch: Callable[[int], list[Row]]
    affected: int


class Session(Protocol):
    def run(self, sql: str) -> Rows: ...
    def commit(self) -> None: ...
    def interrupt(self) -> None: ...
    def close(self) -> None: ...


def parse_contexts(contexts: Mapping[str, str]) -> dict[str, Context]:
    """Check the configured contexts once, at start: names are case-insensitive and MyDB is reserved."""
    known: dict[str, Context] = {}
    for name, raw in contexts.items():
        key = name.casefold()
        if key == MYDB or key in known:
            raise ValueError(f"context {name!r} is reserved or configured twice")
        url = make_url(raw)
        backend = url.get_backend_name()
        if backend == "sqlite" and (not url.database or url.database == ":memory:"):
            raise ValueError(f"context {name!r} needs a SQLite database file")
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"context {name!r}: only sqlite and postgresql URLs are supported")
        known[key] = Context(name, url)
    return known


@contextlib.contextmanager
def task_errors() -> Iterator[None]:
    """A statement the database refused or aborted fails the task with the database's own message."""
    try:
        yield
    except QueryError as exc:
        raise TaskFailed(exc.message) from None
    except sqlite3.Error as exc:
        raise TaskFailed(str(exc)) from None


@contextlib.contextmanager
def _sqlite_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise QueryError(str(exc)) from None


class Guard:
    """The authorizer of a user's SQLite connection: no files, no settings, no extensions, no BEGIN/COMMIT."""

    def __init__(self) -> None:
        self.own = False  # True while jobgate itself runs transaction control on the connection

    def __call__(self, action: int, arg1: str | None, arg2: str | None, db: str | None, src: str | None) -> int:
        if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_PRAGMA:
            return sqlite3.SQLITE_OK if (arg1 or "").lower() in SAFE_PRAGMAS else sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() == "load_extension":
            return sqlite3.SQLITE_DENY
        if action in (sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT) and not self.own:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    @contextlib.contextmanager
    def owning(self) -> Iterator[None]:
        self.own = True
        try:
            yield
        finally:
            self.own = False


class SqliteSession:
    """One guarded SQLite connection in autocommit mode; `interrupt` may be called from another thread."""

    def __init__(self, conn: sqlite3.Connection, attached: int) -> None:
        self.conn, self.guard = conn, Guard()
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, attached)
        conn.set_authorizer(self.guard)
        self._cursors: list[sqlite3.Cursor] = []

    def run(self, sql: str) -> Rows:
        with _sqlite_errors():
            cur = self.conn.execute(sql)
        self._cursors.append(cur)
        if cur.description is None:
            return Rows(None, (), lambda _n: [], max(cur.rowcount, 0))
        names = tuple(str(d[0]) for d in cur.description)
        return Rows(names, (None,) * len(names), lambda n: self._fetch(cur, n), 0)

    @staticmethod
    def _fetch(cur: sqlite3.Cursor, n: int) -> list[Row]:
        with _sqlite_errors():
            return cur.fetchmany(n)

    def begin(self) -> None:
        with _sqlite_errors(), self.guard.owning():
            self.conn.execute("BEGIN")

    def commit(self) -> None:
        with _sqlite_errors(), self.guard.owning():
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")

    def exists(self, table: str) -> bool:
        sql = "SELECT 1 FROM sqlite_schema WHERE name = ? COLLATE NOCASE"
        with _sqlite_errors():
            return self.conn.execute(sql, (table,)).fetchone() is not None

    def create_table(self, table: str, columns: Sequence[str], types: Sequence[str]) -> None:
        cols = ", ".join(f"{quote_name(c)} {SQLITE_DECL[t]}" for c, t in zip(columns, types, strict=True))
        with _sqlite_errors():
            self.conn.execute(f"CREATE TABLE {quote_name(table)} ({cols})")

    def insert(self, table: str, rows: Sequence[Row]) -> None:
        """Append one batch in its own short transaction, so other jobs of the owner are not locked out."""
        marks = ", ".join("?" * len(rows[0]))
        with _sqlite_errors(), self.guard.owning():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.executemany(f"INSERT INTO {quote_name(table)} VALUES ({marks})", rows)  # noqa: S608
                self.conn.execute("COMMIT")
            finally:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")

    def drop(self, table: str) -> None:
        with contextlib.suppress(sqlite3.Error), self.guard.owning():
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self.conn.execute(f"DROP TABLE IF EXISTS {quote_name(table)}")

    def interrupt(self) -> None:
        with contextlib.suppress(sqlite3.ProgrammingError):  # already closed
            self.conn.interrupt()

    def close(self) -> None:
        for cur in self._cursors:
            with contextlib.suppress(sqlite3.Error):
                cur.close()
        self.conn.close()


def _sqlite_connect(target: str, uri: bool) -> sqlite3.Connection:
    return sqlite3.connect(target, timeout=BUSY_TIMEOUT_S, isolation_level=None, cached_statements=0, uri=uri)


def open_mydb(path: Path) -> SqliteSession:
    """The owner's MyDB, created (in WAL mode, so jobs can read while another writes) on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = _sqlite_connect(str(path), uri=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error:
        conn.close()
        raise TaskFailed("Cannot open MyDB.") from None
    return SqliteSession(conn, attached=0)


def _uri(path: str, mode: str) -> str:
    return f"file:{quote(path)}?mode={mode}"


def open_sqlite_context(ctx: Context, mydb: Path) -> SqliteSession:
    assert ctx.url.database is not None
    try:
        conn = _sqlite_connect(_uri(ctx.url.database, "ro"), uri=True)
    except sqlite3.Error:
        raise TaskFailed(f"Cannot open context {ctx.name}.") from None
    try:
        conn.execute("ATTACH DATABASE ? AS mydb", (_uri(str(mydb), "rw"),))
    except sqlite3.Error:
        conn.close()
        raise TaskFailed("Cannot open MyDB.") from None
    return SqliteSession(conn, attached=1)


class PgSession:
    """One psycopg connection in a READ ONLY transaction; `interrupt` sends a cancel request."""

    def __init__(self, conn: "psycopg.Connection[Row]") -> None:
        self.conn = conn
        self._cursors: list[psycopg.ServerCursor[Row]] = []

    def run(self, sql: str) -> Rows:

        with self._pg_errors():
            self.conn.execute("SELECT 1").close()  # takes the snapshot: the query can no longer turn read-write
            cur = self.conn.cursor(name=f"jobgate_{len(self._cursors)}")
            self._cursors.append(cur)
            cur.execute(sql)
        description = cur.description or []
        names = tuple(d.name for d in description)
        hints = tuple(PG_TYPES.get(d.type_code, "string") for d in description)
        return Rows(names, hints, lambda n: self._fetch(cur, n), 0) if names else Rows(None, (), _none, 0)

    def _fetch(self, cur: "psycopg.ServerCursor[Row]", n: int) -> list[Row]:
        with self._pg_errors():
            return cur.fetchmany(n)

    @staticmethod
    @contextlib.contextmanager
    def _pg_errors() -> Iterator[None]:
        import psycopg

        try:
            yield
        except psycopg.Error as exc:
            primary = exc.diag.message_primary if exc.diag else None
            raise QueryError(primary or str(exc).splitlines()[0]) from None

    def commit(self) -> None:
        with self._pg_errors():
            self.conn.rollback()  # read only: there is nothing to keep

    def interrupt(self) -> None:
        import psycopg

        cancel = getattr(self.conn, "cancel_safe", self.conn.cancel)  # cancel_safe is psycopg ≥ 3.2
        with contextlib.suppress(psycopg.Error):
            cancel()

    def close(self) -> None:
        import psycopg

        for cur in self._cursors:
            with contextlib.suppress(psycopg.Error):
                cur.close()
        self.conn.close()


def _none(_n: int) -> list[Row]:
    return []


def open_postgres(ctx: Context) -> PgSession:
    try:
        import psycopg
    except ImportError:
        raise TaskFailed(f"Context {ctx.name} needs psycopg: install jobgate[postgres].") from None
    url = ctx.url.set(drivername="postgresql")
    if "application_name" not in url.query:
        url = url.update_query_dict({"application_name": "jobgate-sql"})  # for pg_stat_activity
    try:
        conn = psycopg.connect(
            url.render_as_string(hide_password=False), autocommit=False, connect_timeout=PG_CONNECT_TIMEOUT_S
        )
    except psycopg.Error as exc:
        log.warning("cannot connect to context %s: %s", ctx.name, exc)
        raise TaskFailed(f"Cannot connect to context {ctx.name}.") from None
    conn.read_only = True
    return PgSession(conn)
