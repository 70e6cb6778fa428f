"""Engines: SQLite in WAL mode, busy timeout, immediate write transactions; PostgreSQL via psycopg 3."""

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from typing import Any, Literal
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_BUSY_TIMEOUT_MS = 10_000
CHECKPOINT_EVERY_S = 0.5
# 1 GiB of 4 KiB pages: a smaller valve keeps the WAL small but its RESTART passes raise the p99 of every
# write several-fold (docs/PERFORMANCE.md); at 1 GiB no ordinary load reaches it (the WAL starts over
# whenever writes pause).
WAL_RESTART_PAGES = 262_144
WAL_KEEP_BYTES = 64 * 1024 * 1024  # what a reset WAL file is trimmed to

log = logging.getLogger(__name__)


def normalize_url(url: str) -> str:
    """Accept plain postgresql:// URLs and give them the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int | None = None,
    background_checkpoint: bool = False,
    transaction_pooler: bool = False,
) -> Engine:
    """An engine for `url`. With `background_checkpoint` (SQLite), commits never run a WAL checkpoint
    themselves; `start_checkpointer` must then run one off the request path. With `transaction_pooler`
    (PostgreSQL behind PgBouncer in transaction mode), psycopg never prepares statements on the server: the
    next transaction may run on another server connection, which does not know them (PgBouncer < 1.21).
    A process holds at most pool_size + max_overflow (default 2 × pool_size) connections of this engine."""
    url = normalize_url(url)
    overflow = pool_size * 2 if max_overflow is None else max_overflow
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, pool_size, background_checkpoint)
    connect_args: dict[str, Any] = {"prepare_threshold": None} if transaction_pooler else {}
    engine = create_engine(
        url, pool_size=pool_size, max_overflow=overflow, pool_pre_ping=True, hide_parameters=True,
        connect_args=connect_args,
    )  # fmt: skip

    @event.listens_for(engine, "checkin")
    def _transactions_again(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        if dbapi_conn is not None and not dbapi_conn.closed and dbapi_conn.autocommit:
            dbapi_conn.autocommit = False  # a read unit of work's setting (begin_transaction) never outlives it

    return engine


def pool_figures(engine: Engine) -> dict[str, float]:
    """The connections of this process's pool: in use, idle, and the pool's size and overflow limit."""
    pool: Any = engine.pool
    figures: dict[str, float] = {}
    for name, method in (("in_use", "checkedout"), ("idle", "checkedin"), ("overflow", "overflow"), ("size", "size")):
        if hasattr(pool, method):
            figures[name] = float(getattr(pool, method)())
    return figures


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def start_checkpointer(
    engine: Engine, every_s: float = CHECKPOINT_EVERY_S, restart_pages: int = WAL_RESTART_PAGES
) -> Callable[[], None]:
    """Checkpoint the SQLite WAL from a background thread (an auto-checkpoint inside a commit stalls that
    request once every few hundred writes). Returns the function that stops it.

    A PASSIVE checkpoint never waits for anyone, but under unbroken writes it never catches up either, so
    SQLite never starts the WAL over (measured: 300 MB after 5 s of CancelJob at 1,700/s). Once the WAL
    holds more than `restart_pages`, a RESTART checkpoint follows the PASSIVE one: writers wait for the
    few frames the PASSIVE pass left (a few ms), and the next write starts the WAL from its beginning;
    `journal_size_limit` then trims the file. SQLite's busy handler is not fair (a writer that begins
    again at once can starve the checkpoint for ever), so while it runs, this process's writers wait at
    a gate before they begin."""
    if not is_sqlite(engine):
        return lambda: None
    stop = threading.Event()

    def loop() -> None:
        _yield_cpu()
        failing = False
        while not stop.wait(every_s):
            try:
                _busy, wal_pages, _moved = checkpoint(engine)
                if wal_pages > restart_pages:
                    with _write_gate(engine):  # no new writer in this process may begin meanwhile
                        checkpoint(engine, "RESTART")
                failing = False
            except Exception as exc:
                if not failing:  # once per run of failures, not twice a second
                    log.warning("WAL checkpoint failed; retrying: %s", exc)
                failing = True

    thread = threading.Thread(target=loop, name="jobgate-wal-checkpoint", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(5)

    return halt


def _yield_cpu() -> None:
    """Run this thread at the lowest CPU priority (Linux: nice is per thread), so a checkpoint's copying
    never takes the core from a request in flight; it still runs whenever the request path waits."""
    with contextlib.suppress(AttributeError, OSError):  # elsewhere checkpoints keep the default priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def checkpoint(engine: Engine, mode: Literal["PASSIVE", "RESTART"] = "PASSIVE") -> tuple[int, int, int]:
    """One checkpoint, outside any transaction (inside one SQLite refuses it): (busy, log, done)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"PRAGMA wal_checkpoint({mode})")
        row = cursor.fetchone()
        cursor.close()
        assert row is not None
        busy, wal_pages, moved = row
        return int(busy), int(wal_pages), int(moved)
    finally:
        raw.close()


def _sqlite_engine(url: str, pool_size: int, background_checkpoint: bool) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        hide_parameters=True,  # error texts (and so logs) never carry bound values
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" event below issues BEGIN itself
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        if background_checkpoint:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.execute(f"PRAGMA journal_size_limit={WAL_KEEP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # For SQLAlchemy connections outside a unit of work (migrations): they write. A unit of work has
        # begun its transaction on the DBAPI connection already, and the Connection joins it.
        driver = conn.connection.driver_connection
        if not driver.in_transaction:
            begin_transaction(conn.engine, driver, write=True)

    return engine


def begin_transaction(engine: Engine, driver: Any, write: bool) -> None:
    """Begin a unit of work's transaction on its DBAPI connection. SQLite: a write transaction takes the
    write lock up front (BEGIN IMMEDIATE), so a read-then-write never fails with SQLITE_BUSY on lock
    upgrade; readers begin deferred and never block writers in WAL mode. PostgreSQL (psycopg): a write
    transaction begins on the first statement; a read unit of work runs in autocommit, each statement on its
    own snapshot, which saves the BEGIN and ROLLBACK round trips (half of a GetJobStatus's); the pool turns
    autocommit off again when the connection comes back."""
    if is_sqlite(engine):
        if write:
            with _write_gate(engine):  # closed only while the checkpointer restarts the WAL
                pass
        driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    elif driver.autocommit is write:
        driver.autocommit = not write


_gates: "WeakKeyDictionary[Engine, threading.Lock]" = WeakKeyDictionary()
_gates_lock = threading.Lock()


def _write_gate(engine: Engine) -> threading.Lock:
    gate = _gates.get(engine)
    if gate is None:
        with _gates_lock:
            gate = _gates.setdefault(engine, threading.Lock())
    return gate
