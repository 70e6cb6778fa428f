"""Hot statements run lean: a Core statement compiled once per dialect, executed on the DBAPI cursor of the
unit of work's own connection (same transaction), with SQLAlchemy's own SQL text and type processors.

Why: a pre-built Core statement still spends more time per execution in SQLAlchemy's execution context, event
dispatch and result machinery than SQLite spends on a primary-key read, and the hot operations (GetJobStatus:
one read; CancelJob: read, compare-and-set, history row) are nothing but such statements. Only fixed-shape
statements qualify (no expanding IN lists); everything else goes through `Connection.execute` as usual.
Integration tests run every repository method on SQLite and PostgreSQL.

It leans on SQLAlchemy internals (`TypeEngine._cached_bind_processor`, `_cached_result_processor`,
`SQLCompiler.positiontup`, `bind_names`): pyproject.toml pins the minor series the tests prove, and
tests/integration/test_prepared.py fails, naming the missing piece, when an upgrade changes them.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Dialect, Engine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Bind:
    name: str  # the name in the SQL text (and in a named paramstyle's dict)
    key: str | None  # the caller's key for it, or None for a literal the statement carries (`version + 1`)
    default: Any
    process: Processor


@dataclass(frozen=True, slots=True)
class Prepared:
    sql: str
    positional: bool
    binds: tuple[_Bind, ...]
    columns: tuple[str, ...]  # result column keys, in order (empty: the statement returns no rows)
    processed: tuple[tuple[str, Callable[[Any], Any]], ...]  # the columns whose values SQLAlchemy converts

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        out = []
        for bind in self.binds:
            value = bind.default if bind.key is None else values[bind.key]
            out.append(value if bind.process is None or value is None else bind.process(value))
        return out if self.positional else {bind.name: value for bind, value in zip(self.binds, out, strict=True)}

    def row(self, raw: Sequence[Any]) -> dict[str, Any]:
        out = dict(zip(self.columns, raw, strict=True))
        for name, process in self.processed:
            value = out[name]
            if value is not None:
                out[name] = process(value)
        return out


@lru_cache(maxsize=256)
def prepare(statement: ClauseElement, dialect: Dialect, column_keys: tuple[str, ...] | None = None) -> Prepared:
    """Compile `statement` for `dialect` once (`column_keys`: the columns an INSERT sets)."""
    compiled = statement.compile(dialect=dialect, column_keys=list(column_keys) if column_keys else None)
    assert isinstance(compiled, SQLCompiler)
    by_name = {}
    for param, name in compiled.bind_names.items():
        if param.expanding:
            raise ValueError(f"{name}: expanding parameters cannot be prepared")
        key = None if not param.required and param.unique else param.key
        by_name[name] = _Bind(name, key, param.effective_value, param.type._cached_bind_processor(dialect))
    order = compiled.positiontup if compiled.positional else list(by_name)
    assert order is not None
    exported = getattr(statement, "exported_columns", ())
    columns = tuple(column.key for column in exported)
    results = ((column.key, column.type._cached_result_processor(dialect, None)) for column in exported)
    processed = tuple((key, process) for key, process in results if process is not None)
    return Prepared(str(compiled), compiled.positional, tuple(by_name[name] for name in order), columns, processed)


class Lean:
    """Prepared statements on one DBAPI connection, inside whatever transaction it has open. `begin` (SQLite)
    opens the next one for a statement that comes after a commit, as psycopg does by itself: without it,
    SQLite would run that statement in autocommit mode and keep a write the unit of work never committed."""

    def __init__(self, driver: Any, dialect: Dialect, begin: Callable[[], None] | None = None) -> None:
        self._driver, self._dialect, self._begin = driver, dialect, begin

    @property
    def dialect_name(self) -> str:
        return str(self._dialect.name)

    def first(
        self, statement: ClauseElement, values: Mapping[str, Any], column_keys: tuple[str, ...] | None = None
    ) -> dict[str, Any] | None:
        prepared, raw = self._execute(statement, values, column_keys, fetch=True)
        return None if raw is None else prepared.row(raw)

    def all(self, statement: ClauseElement, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row of a fixed-shape query (a job's history: a handful of rows)."""
        prepared = prepare(statement, self._dialect, None)
        cursor = self._driver.cursor()
        try:
            cursor.execute(prepared.sql, prepared.parameters(values))
            return [prepared.row(raw) for raw in cursor.fetchall()]
        finally:
            cursor.close()

    def run(
        self, statement: ClauseElement, values: Mapping[str, Any], column_keys: tuple[str, ...] | None = None
    ) -> None:
        self._execute(statement, values, column_keys, fetch=False)

    def _execute(
        self, statement: ClauseElement, values: Mapping[str, Any], column_keys: tuple[str, ...] | None, fetch: bool
    ) -> tuple[Prepared, Sequence[Any] | None]:
        prepared = prepare(statement, self._dialect, column_keys)
        if self._begin is not None and not self._driver.in_transaction:
            self._begin()
        cursor = self._driver.cursor()
        try:
            cursor.execute(prepared.sql, prepared.parameters(values))
            return prepared, cursor.fetchone() if fetch else None
        finally:
            cursor.close()


class Link:
    """What repositories run statements on: `lean` (prepared, DBAPI) and `core` (SQLAlchemy, made lazily)."""

    def __init__(
        self, engine: Engine, raw: Any, give_back: Callable[[Any], None], begin: Callable[[], None] | None = None
    ) -> None:
        self._engine, self._raw, self._give_back = engine, raw, give_back
        self._core: Connection | None = None
        self.lean = Lean(raw.driver_connection, engine.dialect, begin)

    @property
    def core(self) -> Connection:
        if self._core is None:
            self._core = Connection(self._engine, connection=self._raw)
        return self._core

    def commit(self) -> None:
        if self._core is not None:
            self._core.commit()
        else:
            self._raw.commit()

    def close(self) -> None:
        """Roll back whatever was not committed and hand the connection back."""
        if self._core is not None:
            self._core.close()  # rolls back its transaction and returns the pooled connection
            return
        try:
            self._raw.rollback()  # a no-op after commit()
        except BaseException:
            self._raw.close()
            raise
        self._give_back(self._raw)
