"""`sql`: run a CasJobs query in a context database; results land in the owner's MyDB (see sqlctx).

Params: `query` (one statement) and `context` (default `MyDB`; names are case-insensitive).

- `SELECT … INTO mydb.<t> FROM …` (also `mydb.dbo.<t>`, `mydb..<t>`, `[t]`, `"t"`, and a bare
  `INTO <t>` when the context is MyDB): the SELECT runs without the INTO clause in the context and its
  rows become the new MyDB table `<t>`; an existing `<t>` is an error, as in SQL Server.
- A submitted job whose query returns rows but names no INTO table stores them in MyDB table
  `<job name>_<job id>` (mydb.job_table), e.g. `my_query_42` or `job_42`.
- A statement that returns no rows (DDL, DML) runs in the context itself, so writes work only in MyDB;
  rows = the affected rows (0 for DDL).
- A quick (synchronous) job returns the rows themselves, at most SqlLimits.quick_rows rows and quick_bytes
  bytes; column types are
  portable names (int, float, string, datetime, bool, bytes): PostgreSQL's from the result's type OIDs,
  SQLite's from the values (it has no column types in results) by mydb's one rule.
- Elsewhere in a query `mydb.<t>` is the owner's MyDB table (SQLite contexts only: PostgreSQL cannot
  see MyDB), so `INSERT INTO mydb.t SELECT … FROM <context table>` appends to a MyDB table.
- EXPLAIN is refused (its bytecode listing shows heap addresses); EXPLAIN QUERY PLAN is not.

Cancel and time limits: the statements stop the one way every SQL task's do (sqlctx.watch); the task then
raises TaskCancelled and leaves no partial table. Stored rows are copied in batches bounded in bytes.
"""

import contextlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from jobgate.domain.errors import TaskFailed
from jobgate.domain.model import Column, Job, Table, TaskResult
from jobgate.runner.cancel import CancelToken
from jobgate.runner.tasks import SqlLimits, Task, TaskContext, param
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
from jobgate.runner.tasks.pgctx import open_postgres
from jobgate.runner.tasks.sandbox import SqliteSession, open_mydb, open_sqlite_context
from jobgate.runner.tasks.sqlctx import Context, Rows, Session, batches, parse_contexts, row_bytes, task_errors, watch

_NO_ROWS: Final = Table((), ())
_INSTEAD: Final = "select less, or submit the query as a job with SELECT … INTO mydb.<table>."
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
    if verb == "explain" and _after_explain(tokens).word != "query":
        raise TaskFailed("EXPLAIN is not available; EXPLAIN QUERY PLAN is.")
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


def _after_explain(tokens: Sequence[_Token]) -> _Token:
    words = [i for i, tok in enumerate(tokens) if tok.word == "explain"]
    return _at(tokens, words[0] + 1) if words else _END


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


def sql_task(contexts: Mapping[str, str]) -> Task:
    """The `sql` task over the configured contexts (name → SQLAlchemy URL), checked here, at start."""
    known = parse_contexts(contexts)

    def run(job: Job, token: CancelToken, ctx: TaskContext) -> TaskResult:
        query, name = _params(job.params)
        target = None if name.casefold() == MYDB else known.get(name.casefold())
        if target is None and name.casefold() != MYDB:
            raise TaskFailed(f"Unknown context {name!r}.")
        return _run(job, token, query, target, mydb_path(ctx.data_dir, job.owner), ctx.limits)

    return run


def _params(params: Mapping[str, Any]) -> tuple[str, str]:
    query, context = param(params, "query"), params.get("context") or "MyDB"
    if not isinstance(query, str) or not query.strip():
        raise TaskFailed("parameter 'query' must be a non-empty string")
    if not isinstance(context, str):
        raise TaskFailed("parameter 'context' must be a string")
    return query, context.strip()


def _run(job: Job, token: CancelToken, query: str, target: Context | None, path: Path, limits: SqlLimits) -> TaskResult:
    is_sqlite = target is None or target.url.get_backend_name() == "sqlite"
    schema = "main" if target is None else "mydb" if is_sqlite else None
    stmt = parse(query, schema, bare_into=target is None)
    if target is not None and not is_sqlite and stmt.verb not in ("select", "values"):
        raise TaskFailed(f"Context {target.name} is read-only: only SELECT queries run there.")
    with task_errors(token), contextlib.ExitStack() as stack:
        needs_sink = stmt.into is not None or not job.synchronous
        source, sink = _open(stack, target, path, limits, needs_sink)
        created: list[str] = []
        if sink is not None:
            stack.push(_discarder(sink, created))  # runs after the watcher has stopped interrupting
        stack.enter_context(watch(token, *(s for s in (source, sink) if s is not None)))
        result = _execute(job, stmt, source, sink, token, limits, created)
        token.check()
        source.commit()
    return result


def _open(
    stack: contextlib.ExitStack, target: Context | None, path: Path, limits: SqlLimits, needs_sink: bool
) -> tuple[Session, SqliteSession | None]:
    """The session the query runs on, and a second MyDB connection if the rows are to be stored."""
    sink = stack.enter_context(contextlib.closing(open_mydb(path, limits))) if needs_sink else None
    source: Session
    if target is None:
        source = open_mydb(path, limits)
        stack.callback(source.close)
        source.begin()  # a cancelled DDL/DML statement leaves MyDB as it was
    elif target.url.get_backend_name() == "sqlite":
        if sink is None:
            open_mydb(path, limits).close()  # the context attaches MyDB, which must exist by then
        source = stack.enter_context(contextlib.closing(open_sqlite_context(target, path, limits)))
    else:
        source = stack.enter_context(contextlib.closing(open_postgres(target)))
    return source, sink


def _execute(
    job: Job,
    stmt: Statement,
    source: Session,
    sink: SqliteSession | None,
    token: CancelToken,
    limits: SqlLimits,
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
        table = _collect(rows, token, limits)
        return TaskResult(rows=len(table.rows), table=table)
    name = stmt.into or job_table(job)
    count = _store(sink, name, rows, token, limits, created)
    return TaskResult(
        rows=count, summary=f"{count} rows into MyDB.{name}", output_loc=f"MyDB.{name}", table=quick_table
    )


def _refuse_existing(sink: SqliteSession, name: str) -> None:
    if sink.exists(name):
        raise TaskFailed(f"There is already an object named '{name}' in MyDB.")


def _collect(rows: Rows, token: CancelToken, limits: SqlLimits) -> Table:
    """A quick job's rows, refused past the row and byte caps (checked batch by batch, as they arrive)."""
    got: list[tuple[Any, ...]] = []
    size = 0
    for batch in batches(rows, token, limits.batch_rows, limits.batch_bytes):
        got.extend(batch)
        size += sum(row_bytes(row) for row in batch)
        if len(got) > limits.quick_rows:
            raise TaskFailed(f"The result has more than {limits.quick_rows} rows: {_INSTEAD}")
        if size > limits.quick_bytes:
            raise TaskFailed(f"The result is larger than {limits.quick_bytes:,} bytes: {_INSTEAD}")
    types = infer_types(got, rows.hints)
    assert rows.columns is not None
    columns = tuple(Column(n, t) for n, t in zip(rows.columns, types, strict=True))
    return Table(columns, tuple(tuple(portable(v, t) for v, t in zip(r, types, strict=True)) for r in got))


def _store(
    sink: SqliteSession, name: str, rows: Rows, token: CancelToken, limits: SqlLimits, created: list[str]
) -> int:
    """Copy the rows into a new MyDB table (noted in `created`, for the discarder) in batches bounded in rows
    and bytes, each in its own short transaction, so other jobs of the owner are not locked out."""
    assert rows.columns is not None
    _refuse_existing(sink, name)
    fetched = batches(rows, token, limits.batch_rows, limits.batch_bytes)
    batch = next(fetched, [])
    types = infer_types(batch, rows.hints)
    sink.create_table(name, unique_columns(rows.columns), types)
    created.append(name)
    count = 0
    while batch:
        with sink.transaction():
            sink.append(name, [tuple(sqlite_value(v, t) for v, t in zip(r, types, strict=True)) for r in batch])
        count += len(batch)
        batch = next(fetched, [])
    return count


def _discarder(sink: SqliteSession, created: list[str]) -> Callable[..., bool]:
    """An exit callback that drops the tables a failed or cancelled job made: no partial results."""

    def discard(exc_type: type[BaseException] | None, *_: object) -> bool:
        if exc_type is not None:
            for name in created:
                sink.drop(name)
        return False  # never swallows the exception

    return discard
