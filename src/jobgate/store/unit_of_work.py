"""One transaction per unit of work; nothing is kept unless commit() is called.

A unit of work borrows one pooled DBAPI connection and begins its transaction there. The hot statements
run on it directly (prepared.py); a SQLAlchemy `Connection` over the same pooled connection is made only
when a repository runs any other statement, and joins the transaction already open: a read unit of work
through `engine.connect()` + `begin()` + rollback + close spends more in SQLAlchemy's machinery than the
primary-key read inside it costs.

On SQLite the factory also keeps the connections its units of work hand back (`Spares`) instead of
checking them into SQLAlchemy's pool each time: a pool checkout + reset + checkin is a noticeable share of a
GetJobStatus, a list pop + push next to nothing. PostgreSQL connections always go back to the
pool, which pings them before reuse (a server restart must not break the next request).
"""

from types import TracebackType
from typing import Any

from sqlalchemy import Engine, event

from jobgate.store.engine import begin_transaction, is_sqlite
from jobgate.store.prepared import Link
from jobgate.store.repository import SqlJobRepository, SqlTokenRepository, SqlUserRepository


class SqlUnitOfWork:
    jobs: SqlJobRepository
    users: SqlUserRepository
    tokens: SqlTokenRepository

    def __init__(self, engine: Engine, write: bool, source: "_Pool | None" = None) -> None:
        self._engine, self._write, self._sqlite = engine, write, is_sqlite(engine)
        self._source = source or _Pool(engine)
        self._link: Link | None = None

    def __enter__(self) -> "SqlUnitOfWork":
        raw = self._source.take()
        try:
            begin_transaction(self._engine, raw.driver_connection, self._write)
        except BaseException:
            raw.close()
            raise
        again = (lambda: begin_transaction(self._engine, raw.driver_connection, self._write)) if self._sqlite else None
        self._link = link = Link(self._engine, raw, self._source.give_back, again)
        self.jobs = SqlJobRepository(link)
        self.users = SqlUserRepository(link)
        self.tokens = SqlTokenRepository(link)
        return self

    def commit(self) -> None:
        assert self._link is not None
        self._link.commit()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._link is not None
        try:
            self._link.close()
        finally:
            self._link = None


SPARE_CONNECTIONS = 10  # the engine's pool size: more than the event loop plus the busiest thread pool use


def _file_sqlite(engine: Engine) -> bool:
    """A SQLite file (an in-memory database lives in one connection per thread: nothing to share)."""
    return is_sqlite(engine) and engine.url.database not in (None, "", ":memory:")


class _Pool:
    """Connections straight from SQLAlchemy's pool and back (PostgreSQL, in-memory SQLite)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def take(self) -> Any:
        return self._engine.raw_connection()

    def give_back(self, raw: Any) -> None:
        raw.close()


class Spares(_Pool):
    """Pooled SQLite connections kept checked out for reuse, last in first out, at most `keep` of them.
    Only connections that are idle (no transaction open) come back here; `Engine.dispose()` closes them."""

    def __init__(self, engine: Engine, keep: int) -> None:
        super().__init__(engine)
        self._keep = keep
        self._idle: list[Any] = []
        event.listen(engine, "engine_disposed", self._drop)

    def take(self) -> Any:
        try:
            return self._idle.pop()  # atomic under the GIL
        except IndexError:
            return super().take()

    def give_back(self, raw: Any) -> None:
        if len(self._idle) < self._keep and not raw.driver_connection.in_transaction:
            self._idle.append(raw)
        else:
            super().give_back(raw)

    def _drop(self, _engine: Engine) -> None:
        idle, self._idle = self._idle, []
        for raw in idle:
            raw.invalidate()  # closes the DBAPI connection; the disposed pool never sees it again


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._source = Spares(engine, SPARE_CONNECTIONS) if _file_sqlite(engine) else _Pool(engine)

    def __call__(self, *, write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write, self._source)
