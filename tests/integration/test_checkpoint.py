"""The server turns SQLite's auto-checkpoint off (it stalls a commit ~30 ms) and checkpoints in a thread."""

import os
import threading
import time
from pathlib import Path

import pytest

from jobgate.store import SqlUnitOfWorkFactory
from jobgate.store.engine import checkpoint, make_engine, start_checkpointer
from jobgate.store.migrate import upgrade

FILL = (
    "INSERT INTO filler SELECT hex(randomblob(500)) FROM "
    "(WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n < 2000) SELECT n FROM c)"
)


def test_background_checkpoint_moves_the_whole_wal_into_the_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}", background_checkpoint=True)
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE filler (x TEXT)")
        conn.exec_driver_sql(FILL)
    busy, wal_pages, moved = checkpoint(engine)
    engine.dispose()
    assert (busy, moved) == (0, wal_pages)
    assert wal_pages > 100  # nothing was checkpointed by the commits themselves


def test_under_unbroken_writes_the_checkpointer_starts_the_wal_over(tmp_path: Path) -> None:
    """A PASSIVE checkpoint cannot catch up with writers that never pause; past the limit the checkpointer
    escalates to RESTART, so the WAL file stops growing (without it: one page per write, forever)."""
    db = tmp_path / "busy.db"
    engine = make_engine(f"sqlite:///{db}", background_checkpoint=True)
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (n INTEGER)")
        conn.exec_driver_sql("INSERT INTO counter VALUES (0)")
    uow = SqlUnitOfWorkFactory(engine)
    stop = start_checkpointer(engine, every_s=0.01, restart_pages=200)
    wal = db.with_name(db.name + "-wal")
    sizes = []
    try:
        for start in range(0, 6000, 200):
            for _ in range(200):  # unbroken: each write begins as soon as the last one committed
                with uow() as tx:
                    tx.jobs._conn.exec_driver_sql("UPDATE counter SET n = n + 1")
                    tx.jobs._conn.exec_driver_sql("INSERT INTO counter VALUES (?)", (start,))
                    tx.commit()
            sizes.append(wal.stat().st_size)
    finally:
        stop()
        engine.dispose()
    pages = 4096
    grown_without_reset = 6000 * 2 * pages  # at least two pages per transaction had the WAL never restarted
    assert max(sizes) < grown_without_reset / 4, sizes
    assert sizes.index(max(sizes)) < len(sizes) - 1 or len(set(sizes)) == 1, sizes


def test_the_checkpointer_runs_at_the_lowest_cpu_priority(tmp_path: Path) -> None:
    """Its copying must not take the core from requests (the bench pins the server to one CPU)."""
    if not hasattr(os, "getpriority"):
        pytest.skip("no per-thread priorities on this platform")
    engine = make_engine(f"sqlite:///{tmp_path / 'nice.db'}", background_checkpoint=True)
    before = os.getpriority(os.PRIO_PROCESS, 0)
    stop = start_checkpointer(engine, every_s=0.01)
    try:
        thread = next(t for t in threading.enumerate() if t.name == "jobgate-wal-checkpoint")
        assert thread.native_id is not None
        deadline = time.monotonic() + 5
        while os.getpriority(os.PRIO_PROCESS, thread.native_id) != 19 and time.monotonic() < deadline:
            time.sleep(0.01)  # the thread lowers its own priority as it starts
        assert os.getpriority(os.PRIO_PROCESS, thread.native_id) == 19
        assert os.getpriority(os.PRIO_PROCESS, 0) == before  # the request path keeps its priority
    finally:
        stop()
        engine.dispose()
