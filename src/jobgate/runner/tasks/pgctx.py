"""PostgreSQL contexts: each query runs through a server-side cursor (SELECT only) inside a READ ONLY
transaction; give the context's URL a read-only role as well, since superusers can still read server files.

Rows come in batches sized from the rows seen so far (batch_bytes over their average size), so a batch stays
near the byte bound unless the rows grow; PostgreSQL bounds a single value at 1 GB, not jobgate.
"""

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Final

from jobgate.domain.errors import TaskFailed
from jobgate.runner.tasks.mydb import Row
from jobgate.runner.tasks.sqlctx import Context, QueryError, Rows, no_rows, row_bytes

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

PG_CONNECT_TIMEOUT_S: Final = 10
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


class PgSession:
    """One psycopg connection in a READ ONLY transaction; `interrupt` sends a cancel request."""

    def __init__(self, conn: "psycopg.Connection[Row]") -> None:
        self.conn = conn
        self._cursors: list[psycopg.ServerCursor[Row]] = []
        self._seen_rows, self._seen_bytes = 0, 0

    def run(self, sql: str) -> Rows:
        with self._pg_errors():
            self.conn.execute("SELECT 1").close()  # takes the snapshot: the query can no longer turn read-write
            cur = self.conn.cursor(name=f"jobgate_{len(self._cursors)}")
            self._cursors.append(cur)
            cur.execute(sql)
        description = cur.description or []
        names = tuple(d.name for d in description)
        hints = tuple(PG_TYPES.get(d.type_code, "string") for d in description)
        if not names:
            return Rows(None, (), no_rows, 0)
        return Rows(names, hints, lambda rows, size: self._fetch(cur, rows, size), 0)

    def _fetch(self, cur: "psycopg.ServerCursor[Row]", rows: int, size: int) -> list[Row]:
        average = self._seen_bytes // self._seen_rows if self._seen_rows else size
        with self._pg_errors():
            got = cur.fetchmany(max(1, min(rows, size // max(average, 1))))
        self._seen_rows += len(got)
        self._seen_bytes += sum(row_bytes(row) for row in got)
        return got

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
