"""The SQLite sessions a user's SQL runs on, sandboxed: each user's MyDB (writable) and the read-only contexts.

The authorizer (Guard) refuses ATTACH, DETACH (so VACUUM INTO too), PRAGMA (but a few schema-reading ones),
transaction control, CREATE VIRTUAL TABLE (the shadow tables of FTS and R-Tree tables can be written
directly, and crafted ones are a known path to memory corruption in SQLite; the DEFENSIVE flag that stops
that is out of Python 3.11's reach), and the functions that load code or reveal or write memory (DENIED).
Extension loading stays disabled.

Each connection is limited: SQLITE_LIMIT_LENGTH (the largest string, blob or stored row a query can make),
attached databases, temp_store=MEMORY (sorts, DISTINCT, GROUP BY and temp tables never write temp files,
so no query fills the disk; they count against the heap limit instead), and MyDB's max_page_count (the
quota). Process-wide, `limit_heap` sets SQLite's hard heap limit, beyond which an allocation fails and the
query ends "out of memory", with a soft limit at half of it so that page caches shrink first. It covers
all SQLite work in the process, the job store's too when that is SQLite (its needs are small).

A SQLite context opens `file:…?mode=ro` and sees the owner's MyDB as schema `mydb` (writable, so
`INSERT INTO mydb.t SELECT … FROM <context table>` works as in CasJobs; the context itself never is).
"""

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final
from urllib.parse import quote

from jobgate.domain.errors import TaskFailed
from jobgate.runner.tasks import SqlLimits
from jobgate.runner.tasks.mydb import SQLITE_DECL, Row, find_table, quote_name
from jobgate.runner.tasks.sqlctx import Context, QueryError, Rows, no_rows, row_bytes

BUSY_TIMEOUT_S: Final = 5.0
SAFE_PRAGMAS: Final = frozenset(
    {"table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list"}
)
DENIED: Final = frozenset(
    {
        "load_extension",  # loads code
        "fts3_tokenizer",  # returns a libsqlite3 address (ASLR gone); its 2-argument form installs a pointer
        "fts5",  # hands out the FTS5 API pointer
        "rtreenode",  # R-Tree test functions that decode raw node blobs
        "rtreedepth",
    }
)


class Guard:
    """The authorizer of a user's SQLite connection: no files, no settings, no extensions, no BEGIN/COMMIT."""

    def __init__(self) -> None:
        self.own = False  # True while jobgate itself runs transaction control on the connection

    def __call__(self, action: int, arg1: str | None, arg2: str | None, db: str | None, src: str | None) -> int:
        if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH, sqlite3.SQLITE_CREATE_VTABLE):
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_PRAGMA:
            return sqlite3.SQLITE_OK if (arg1 or "").lower() in SAFE_PRAGMAS else sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in DENIED:
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
    """One guarded, limited SQLite connection in autocommit mode; `interrupt` may be called from another thread."""

    def __init__(self, conn: sqlite3.Connection, limits: SqlLimits, attached: int) -> None:
        self.conn, self.guard, self._limits = conn, Guard(), limits
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limits.value_bytes)
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, attached)
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.set_authorizer(self.guard)
        self._cursors: list[sqlite3.Cursor] = []

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            if code == sqlite3.SQLITE_TOOBIG:
                raise QueryError(
                    f"{exc}: a value or a row may hold at most {self._limits.value_bytes:,} bytes."
                ) from None
            if code == sqlite3.SQLITE_FULL:
                quota = self._limits.mydb_quota_bytes
                raise QueryError(f"MyDB is full: it may hold at most {quota:,} bytes.") from None
            raise QueryError(str(exc)) from None
        except MemoryError:
            raise QueryError("Out of memory: the query needs more memory than the server allows.") from None

    def run(self, sql: str) -> Rows:
        with self._errors():
            cur = self.conn.execute(sql)
        self._cursors.append(cur)
        if cur.description is None:
            return Rows(None, (), no_rows, max(cur.rowcount, 0))
        names = tuple(str(d[0]) for d in cur.description)
        return Rows(names, (None,) * len(names), lambda rows, size: self._fetch(cur, rows, size), 0)

    def _fetch(self, cur: sqlite3.Cursor, rows: int, size: int) -> list[Row]:
        """Row by row: a batch never holds more than `size` bytes plus its last row."""
        got: list[Row] = []
        total = 0
        with self._errors():
            while len(got) < rows and total < size and (row := cur.fetchone()) is not None:
                got.append(row)
                total += row_bytes(row)
        return got

    def begin(self) -> None:
        with self._errors(), self.guard.owning():
            self.conn.execute("BEGIN")

    def commit(self) -> None:
        with self._errors(), self.guard.owning():
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT, rolled back if the block fails: all or nothing."""
        with self._errors(), self.guard.owning():
            self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            with self._errors(), self.guard.owning():
                self.conn.execute("COMMIT")
        finally:
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error), self.guard.owning():
                    self.conn.execute("ROLLBACK")

    def exists(self, table: str) -> bool:
        """Any schema object of that name, in any case (SQL Server's 'There is already an object named')."""
        sql = "SELECT 1 FROM sqlite_schema WHERE name = ? COLLATE NOCASE"
        with self._errors():
            return self.conn.execute(sql, (table,)).fetchone() is not None

    def find(self, table: str) -> str | None:
        with self._errors():
            return find_table(self.conn, table)

    def create_table(self, table: str, columns: Sequence[str], types: Sequence[str]) -> None:
        cols = ", ".join(f"{quote_name(c)} {SQLITE_DECL[t]}" for c, t in zip(columns, types, strict=True))
        with self._errors():
            self.conn.execute(f"CREATE TABLE {quote_name(table)} ({cols})")

    def append(self, table: str, rows: Sequence[Row], columns: Sequence[str] | None = None) -> None:
        """Insert rows (by position, or into the named columns) in whatever transaction is open."""
        width = len(columns) if columns is not None else len(rows[0])
        names = f" ({', '.join(quote_name(c) for c in columns)})" if columns is not None else ""
        insert = f"INSERT INTO {quote_name(table)}{names} VALUES ({', '.join('?' * width)})"  # noqa: S608
        with self._errors():
            self.conn.executemany(insert, rows)

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


def limit_heap(hard_bytes: int) -> None:
    """SQLite's hard heap limit for this whole process (it can only be lowered), and a soft one at half."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(f"PRAGMA hard_heap_limit={int(hard_bytes)}")
        conn.execute(f"PRAGMA soft_heap_limit={int(hard_bytes) // 2}")
    finally:
        conn.close()


def _connect(target: str, uri: bool) -> sqlite3.Connection:
    return sqlite3.connect(target, timeout=BUSY_TIMEOUT_S, isolation_level=None, cached_statements=0, uri=uri)


def _set_quota(conn: sqlite3.Connection, schema: str, quota_bytes: int) -> None:
    page_size = int(conn.execute(f"PRAGMA {schema}.page_size").fetchone()[0])
    conn.execute(f"PRAGMA {schema}.max_page_count={max(quota_bytes // page_size, 1)}")


def open_mydb(path: Path, limits: SqlLimits) -> SqliteSession:
    """The owner's MyDB, created (in WAL mode, so jobs can read while another writes) on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = _connect(str(path), uri=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        _set_quota(conn, "main", limits.mydb_quota_bytes)
        return SqliteSession(conn, limits, attached=0)
    except sqlite3.Error:
        conn.close()
        raise TaskFailed("Cannot open MyDB.") from None


def _uri(path: str, mode: str) -> str:
    return f"file:{quote(path)}?mode={mode}"


def open_sqlite_context(ctx: Context, mydb: Path, limits: SqlLimits) -> SqliteSession:
    assert ctx.url.database is not None
    try:
        conn = _connect(_uri(ctx.url.database, "ro"), uri=True)
    except sqlite3.Error:
        raise TaskFailed(f"Cannot open context {ctx.name}.") from None
    try:
        conn.execute("ATTACH DATABASE ? AS mydb", (_uri(str(mydb), "rw"),))
        _set_quota(conn, "mydb", limits.mydb_quota_bytes)
        return SqliteSession(conn, limits, attached=1)
    except sqlite3.Error:
        conn.close()
        raise TaskFailed("Cannot open MyDB.") from None
