"""What every SQL task shares: the configured contexts, a running statement's rows, the errors, and the one way
a task's statements are stopped.

Stopping: a task runs its statements inside `watch(token, sessions)`. The moment the token trips (a cancel,
the job's time limit, shutdown), a watcher thread interrupts whatever statement each session is running
(SQLite's `interrupt`, a PostgreSQL cancel request), and again every REPEAT_S in case a new one started just
after; `task_errors(token)` then turns the interrupted statement's error into TaskCancelled. The sql, extract
and upload tasks all stop this way. The sessions themselves live in sandbox.py (SQLite) and pgctx.py.

Rows are fetched in batches bounded in rows and in bytes (SqlLimits.batch_rows, batch_bytes); `row_bytes` is
the measure: text and blobs by length, any other value 8.
"""

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from sqlalchemy.engine import URL, make_url

from jobgate.domain.errors import TaskFailed
from jobgate.runner.cancel import CancelToken, TaskCancelled
from jobgate.runner.tasks.mydb import MYDB, Row

WATCH_POLL_S: Final = 0.01  # how long a finished statement may wait for its watcher to notice
REPEAT_S: Final = 0.1  # a statement that started just after the interrupt gets another one


class QueryError(Exception):
    """The database refused or aborted a statement; carries the message the client may see."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Context:
    name: str  # as configured, for messages
    url: URL


@dataclass(frozen=True, slots=True)
class Rows:
    """A running statement: its column names and type hints (None if it returns no rows) and a fetcher that
    returns the next rows, at most `rows` of them and stopping after the one that reaches `size` bytes."""

    columns: tuple[str, ...] | None
    hints: tuple[str | None, ...]
    fetch: Callable[[int, int], list[Row]]
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


def row_bytes(row: Row) -> int:
    return sum(len(v) if isinstance(v, str | bytes) else 8 for v in row)


def no_rows(_rows: int, _size: int) -> list[Row]:
    return []


def batches(rows: Rows, token: CancelToken, max_rows: int, max_bytes: int) -> Iterator[list[Row]]:
    """The rows in batches, each at most `max_rows` long and ending with the row that reaches `max_bytes`."""
    while True:
        token.check()
        batch = rows.fetch(max_rows, max_bytes)
        if not batch:
            return
        yield batch


@contextlib.contextmanager
def task_errors(token: CancelToken) -> Iterator[None]:
    """A statement the database refused fails the task with its message; one the token interrupted, or that
    failed because the token tripped meanwhile, cancels it."""
    try:
        yield
    except (QueryError, sqlite3.Error, MemoryError) as exc:
        if token.tripped:
            raise TaskCancelled(token.reason) from None
        raise TaskFailed(exc.message if isinstance(exc, QueryError) else _message(exc)) from None


def _message(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "Out of memory: the query needs more memory than the server allows."
    return str(exc)


class Watcher:
    """A thread that interrupts the sessions' statements the moment the token trips; joined on exit."""

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


def watch(token: CancelToken, *sessions: Session) -> Watcher:
    """The one way a task's statements stop: `with watch(token, session, …):` around everything they run."""
    return Watcher(token, [session.interrupt for session in sessions])
