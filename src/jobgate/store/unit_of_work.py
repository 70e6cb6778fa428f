"""One transaction per unit of work; nothing is kept unless commit() is called."""

from types import TracebackType

from sqlalchemy import Connection, Engine

from jobgate.store.repository import SqlJobRepository, SqlTokenRepository, SqlUserRepository


class SqlUnitOfWork:
    jobs: SqlJobRepository
    users: SqlUserRepository
    tokens: SqlTokenRepository

    def __init__(self, engine: Engine, write: bool) -> None:
        self._engine, self._write = engine, write
        self._conn: Connection | None = None

    def __enter__(self) -> "SqlUnitOfWork":
        conn = self._engine.connect()
        if not self._write:
            conn = conn.execution_options(jobgate_write=False)
        conn.begin()
        self._conn = conn
        self.jobs = SqlJobRepository(conn)
        self.users = SqlUserRepository(conn)
        self.tokens = SqlTokenRepository(conn)
        return self

    def commit(self) -> None:
        assert self._conn is not None
        self._conn.commit()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._conn is not None
        try:
            self._conn.rollback()  # no-op after commit()
        finally:
            self._conn.close()
            self._conn = None


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, *, write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write)
