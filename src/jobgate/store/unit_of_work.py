"""One transaction per unit of work; nothing is kept unless commit() is called.

A unit of work borrows one pooled DBAPI connection and begins its transaction there. The hot statements
run on it directly (prepared.py); a SQLAlchemy `Connection` over the same pooled connection is made only
when a repository runs any other statement, and joins the transaction already open. Measured: a read unit
of work through `engine.connect()` + `begin()` + rollback + close cost ~35 µs of SQLAlchemy machinery, more
than the primary-key read inside it.
"""

from types import TracebackType

from sqlalchemy import Engine

from jobgate.store.engine import begin_transaction
from jobgate.store.prepared import Link
from jobgate.store.repository import SqlJobRepository, SqlTokenRepository, SqlUserRepository


class SqlUnitOfWork:
    jobs: SqlJobRepository
    users: SqlUserRepository
    tokens: SqlTokenRepository

    def __init__(self, engine: Engine, write: bool) -> None:
        self._engine, self._write = engine, write
        self._link: Link | None = None

    def __enter__(self) -> "SqlUnitOfWork":
        raw = self._engine.raw_connection()
        try:
            begin_transaction(self._engine, raw.driver_connection, self._write)
        except BaseException:
            raw.close()
            raise
        self._link = link = Link(self._engine, raw)
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


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, *, write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write)
