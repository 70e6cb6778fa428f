"""`sql`: run a CasJobs query in a context database; results land in the owner's MyDB (see sqlctx).

Params: `query` (one statement) and `context` (default `MyDB`; names are case-insensitive).

- `SELECT … INTO mydb.<t> FROM …` (also `mydb.dbo.<t>`, `mydb..<t>`, `[t]`, `"t"`, and a bare
  `INTO <t>` when the context is MyDB): the SELECT runs without the INTO clause in the context and its
  rows become the new MyDB table `<t>`; an existing `<t>` is an error, as in SQL Server.
- A submitted job whose query returns rows but names no INTO table stores them in MyDB table
  `<job name>_<job id>` (mydb.job_table), e.g. `my_query_42` or `job_42`.
- A statement that returns no rows (DDL, DML) runs in the context itself, so writes work only in MyDB;
  rows = the affected rows (0 for DDL).
- A quick (synchronous) job returns the rows themselves, at most `QUICK_ROW_CAP`; column types are
  portable names (int, float, string, datetime, bool, bytes): PostgreSQL's from the result's type OIDs,
  SQLite's from the values (it has no column types in results) by mydb's one rule.
- Elsewhere in a query `mydb.<t>` is the owner's MyDB table (SQLite contexts only: PostgreSQL cannot
  see MyDB), so `INSERT INTO mydb.t SELECT … FROM <context table>` appends to a MyDB table.

Cancel: a watcher thread interrupts the running statement (sqlite3 `interrupt`, a PostgreSQL cancel
request) the moment the token trips; the task then raises TaskCancelled and leaves no partial table.
"""

import contextlib
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from jobgate.domain.errors import TaskFailed
from jobgate.domain.model import Column, Job, Table, TaskResult
from jobgate.runner.cancel import CancelToken
from jobgate.runner.tasks import Task, TaskContext, param
from jobgate.runner.tasks.mydb import (
    MYDB,
    infer_types,
    job_table,
    mydb_path,
    portable,
    sqlite_value,
    table_name,
    unique_columns,
)
from jobgate.runner.tasks.sqlctx import (
    Context,
    QueryError,
    Rows,
    Session,
    SqliteSession,
    open_mydb,
    open_postgres,
    open_sqlite_context,
    parse_contexts,
)

QUICK_ROW_CAP: Final = 100_000
BATCH: Final = 1_000
WATCH_POLL_S: Final = 0.01  # how long a finished query may wait for its watcher to notice
REPEAT_S: Final = 0.1  # a statement that started just after the interrupt gets another one
_NO_ROWS: Final = Table((), ())
_VERBS: Final = frozenset(
    {"select", "insert", "update", "delete", "replace", "create", "drop", "alter", "values", "pragma"}
    | {"attach", "detach", "vacuum", "reindex", "analyze", "explain", "begin", "commit", "rollback"}
    | {"savepoint", "release"}
)
_TOKEN: Final = re.compile(
    r"""(?P<space>\s+|--[^\n]*|/\*.*?(?:\*/|\Z))
      |(?P<string>'(?:[^']|'')*'?)
      |(?P<ident>"(?:[^"]|"")*"?|\[[^\]]*\]?|`[^`]*`?)
      |(?P<word>[^\W\d]\w*)
      |(?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    start: int
    end: int

    @property
    def word(self) -> str:
        return self.text.lower() if self.kind == "word" else ""

    @property
    def is_name(self) -> bool:
        return self.kind in ("word", "ident")


_END: Final = _Token("end", "", -1, -1)


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str  # the query to run, without its INTO clause and with `mydb.` references resolved
    into: str | None  # the MyDB table a SELECT … INTO names
    verb: str  # the statement's first keyword outside parentheses (a CTE's body), lower case


def parse(query: str, schema: str | None, bare_into: bool) -> Statement:
    """Find a SELECT's `INTO mydb.<t>` (outside strings and comments), cut it out; map `mydb.` to `schema`."""
    tokens = [_Token(m.lastgroup or "", m.group(), m.start(), m.end()) for m in _TOKEN.finditer(query)]
    tokens = [t for t in tokens if t.kind != "space"]
    verb = _verb(tokens)
    selecting = verb == "select"
    edits: list[tuple[int, int, str]] = []
    into, depth, skip = None, 0, -1
    for i, tok in enumerate(tokens):
        depth += (tok.text == "(") - (tok.text == ")")
        if i <= skip:
            continue
        if selecting and depth == 0 and into is None and tok.word == "into":
            end = _mydb_name(tokens, i + 1)
            if end is None and bare_into and _at(tokens, i + 1).is_name:
                end = i + 1
            if end is not None:
                into, skip = _table_name(tokens[end]), end
                edits.append((tok.start, tokens[end].end, " "))
                continue
        end = _mydb_name(tokens, i)
        if end is not None and schema is not None:
            edits.append((tok.start, tokens[end].start, f"{schema}."))
            skip = end - 1
    for start, stop, text in reversed(edits):
        query = query[:start] + text + query[stop:]
    return Statement(query, into, verb)


def _at(tokens: Sequence[_Token], i: int) -> _Token:
    return tokens[i] if i < len(tokens) else _END


def _verb(tokens: Sequence[_Token]) -> str:
    depth = 0
    for tok in tokens:
        depth += (tok.text == "(") - (tok.text == ")")
        if depth == 0 and tok.word in _VERBS:
            return tok.word
    return ""


def _mydb_name(tokens: Sequence[_Token], i: int) -> int | None:
    """Index of the table name in `mydb.<t>`, `mydb..<t>` or `mydb.dbo.<t>` starting at i, if any."""
    if _at(tokens, i).word != MYDB or _at(tokens, i + 1).text != ".":
        return None
    at = i + 2
    if _at(tokens, at).text == ".":
        at += 1
    elif _at(tokens, at).word == "dbo" and _at(tokens, at + 1).text == ".":
        at += 2
    return at if _at(tokens, at).is_name else None


def _table_name(tok: _Token) -> str:
    name = tok.text
    if tok.kind == "ident":
        name = name[1:-1].replace('""', '"') if name[0] == '"' else name[1:-1]
    return table_name(name)


class Watcher:
    """A thread that interrupts the running statements the moment the token trips; joined on exit."""

    def __init__(self, token: CancelToken, stops: Sequence[Callable[[], None]]) -> None:
        self._token, self._stops = token, list(stops)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="jobgate-sql-cancel", daemon=True)

    def __enter__(self) -> "Watcher":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._token.wait(WATCH_POLL_S):
            if self._done.is_set():
                return
        while True:  # tripped
            for stop in self._stops:
                stop()
            if self._done.wait(REPEAT_S):
                return


def sql_task(contexts: Mapping[str, str], row_cap: int = QUICK_ROW_CAP) -> Task:
    """The `sql` task over the configured contexts (name → SQLAlchemy URL), checked here, at start."""
    known = parse_contexts(contexts)

    def run(job: Job, token: CancelToken, ctx: TaskContext) -> TaskResult:
        query, name = _params(job.params)
        target = None if name.casefold() == MYDB else known.get(name.casefold())
        if target is None and name.casefold() != MYDB:
            raise TaskFailed(f"Unknown context {name!r}.")
        return _run(job, token, query, target, mydb_path(ctx.data_dir, job.owner), row_cap)

    return run


def _params(params: Mapping[str, Any]) -> tuple[str, str]:
    query, context = param(params, "query"), params.get("context") or "MyDB"
    if not isinstance(query, str) or not query.strip():
        raise TaskFailed("parameter 'query' must be a non-empty string")
    if not isinstance(context, str):
        raise TaskFailed("parameter 'context' must be a string")
    return query, context.strip()


def _run(job: Job, token: CancelToken, query: str, target: Context | None, path: Path, cap: int) -> TaskResult:
    is_sqlite = target is None or target.url.get_backend_name() == "sqlite"
    schema = "main" if target is None else "mydb" if is_sqlite else None
    stmt = parse(query, schema, bare_into=target is None)
    if target is not None and not is_sqlite and stmt.verb not in ("select", "values"):
        raise TaskFailed(f"Context {target.name} is read-only: only SELECT queries run there.")
    try:
        with contextlib.ExitStack() as stack:
            source, sink = _open(stack, target, path, needs_sink=stmt.into is not None or not job.synchronous)
            created: list[str] = []
            if sink is not None:
                stack.push(_discarder(sink, created))  # runs after the watcher has stopped interrupting
            stack.enter_context(Watcher(token, [s.interrupt for s in (source, sink) if s is not None]))
            result = _execute(job, stmt, source, sink, token, cap, created)
            token.check()
            source.commit()
    except QueryError as exc:
        token.check()  # an interrupted statement says "interrupted": the cancel is the real reason
        raise TaskFailed(exc.message) from None
    return result


def _open(
    stack: contextlib.ExitStack, target: Context | None, path: Path, needs_sink: bool
) -> tuple[Session, SqliteSession | None]:
    """The session the query runs on, and a second MyDB connection if the rows are to be stored."""
    sink = stack.enter_context(contextlib.closing(open_mydb(path))) if needs_sink else None
    source: Session
    if target is None:
        source = open_mydb(path)
        stack.callback(source.close)
        source.begin()  # a cancelled DDL/DML statement leaves MyDB as it was
    elif target.url.get_backend_name() == "sqlite":
        if sink is None:
            open_mydb(path).close()  # the context attaches MyDB, which must exist by then
        source = stack.enter_context(contextlib.closing(open_sqlite_context(target, path)))
    else:
        source = stack.enter_context(contextlib.closing(open_postgres(target)))
    return source, sink


def _execute(
    job: Job,
    stmt: Statement,
    source: Session,
    sink: SqliteSession | None,
    token: CancelToken,
    cap: int,
    created: list[str],
) -> TaskResult:
    token.check()
    if stmt.into is not None and sink is not None:
        _refuse_existing(sink, stmt.into)  # before the query runs, not after
    rows = source.run(stmt.sql)
    quick_table = _NO_ROWS if job.synchronous else None
    if rows.columns is None:
        return TaskResult(rows=rows.affected, summary=f"{rows.affected} rows affected", table=quick_table)
    if sink is None:
        table = _collect(rows, cap)
        return TaskResult(rows=len(table.rows), table=table)
    name = stmt.into or job_table(job)
    count = _store(sink, name, rows, token, created)
    return TaskResult(
        rows=count, summary=f"{count} rows into MyDB.{name}", output_loc=f"MyDB.{name}", table=quick_table
    )


def _refuse_existing(sink: SqliteSession, name: str) -> None:
    if sink.exists(name):
        raise TaskFailed(f"There is already an object named '{name}' in MyDB.")


def _collect(rows: Rows, cap: int) -> Table:
    got: list[tuple[Any, ...]] = []
    while batch := rows.fetch(BATCH):
        got.extend(batch)
        if len(got) > cap:
            raise TaskFailed(
                f"The result has more than {cap} rows: select fewer, or submit the query as a job "
                "with SELECT … INTO mydb.<table>."
            )
    types = infer_types(got, rows.hints)
    assert rows.columns is not None
    columns = tuple(Column(n, t) for n, t in zip(rows.columns, types, strict=True))
    return Table(columns, tuple(tuple(portable(v, t) for v, t in zip(r, types, strict=True)) for r in got))


def _store(sink: SqliteSession, name: str, rows: Rows, token: CancelToken, created: list[str]) -> int:
    """Copy the rows into a new MyDB table in batches (noted in `created`, for the discarder)."""
    assert rows.columns is not None
    _refuse_existing(sink, name)
    batch = rows.fetch(BATCH)
    types = infer_types(batch, rows.hints)
    sink.create_table(name, unique_columns(rows.columns), types)
    created.append(name)
    count = 0
    while batch:
        token.check()
        sink.insert(name, [tuple(sqlite_value(v, t) for v, t in zip(r, types, strict=True)) for r in batch])
        count += len(batch)
        batch = rows.fetch(BATCH)
    return count


def _discarder(sink: SqliteSession, created: list[str]) -> Callable[..., bool]:
    """An exit callback that drops the tables a failed or cancelled job made: no partial results."""

    def discard(exc_type: type[BaseException] | None, *_: object) -> bool:
        if exc_type is not None:
            for name in created:
                sink.drop(name)
        return False  # never swallows the exception

    return discard
