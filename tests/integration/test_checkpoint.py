"""The server turns SQLite's auto-checkpoint off (it stalls a commit ~30 ms) and checkpoints in a thread."""

import logging
import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event

from jobgate.store import SqlUnitOfWorkFactory
from jobgate.store.engine import checkpoint, make_engine, start_checkpointer
from jobgate.store.migrate import upgrade
from support.wait import wait_until

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


def wal_generation(wal: Path) -> int | None:
    """The checkpoint sequence number in the WAL file's header (bytes 12-15, big-endian): SQLite counts it
    up each time a writer starts the WAL over from its beginning. Reading it disturbs nothing."""
    try:
        with wal.open("rb") as file:
            header = file.read(16)
    except FileNotFoundError:
        return None
    return int.from_bytes(header[12:16], "big") if len(header) == 16 else None


def test_under_unbroken_writes_the_checkpointer_starts_the_wal_over(tmp_path: Path) -> None:
    """A PASSIVE checkpoint cannot catch up with writers that never pause, so SQLite never starts the WAL
    over (without the escalation: one WAL generation, one page per write, forever); past the limit the
    checkpointer escalates to RESTART and the WAL starts over again and again.

    The test writes without pause until it has seen the WAL start over three times; when that happens
    depends on when the checkpointer thread (nice 19) gets the CPU, so the test waits for it against a
    deadline, and asserts nothing about timing. (It used to sample the file size after each of 30 batches
    and require the largest size not to be the last: the file only grows, as a restarted WAL is
    overwritten from its start, so that asked whether the last batch happened to hold the longest stretch
    between two restarts — on a busy machine, about one run in fifteen.)"""
    db = tmp_path / "busy.db"
    engine = make_engine(f"sqlite:///{db}", background_checkpoint=True)
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (n INTEGER)")
        conn.exec_driver_sql("INSERT INTO counter VALUES (0)")
    uow = SqlUnitOfWorkFactory(engine)
    stop = start_checkpointer(engine, every_s=0.01, restart_pages=200)
    wal = db.with_name(db.name + "-wal")
    generations: set[int] = set()
    writes, deadline = 0, time.monotonic() + 60
    try:
        while len(generations) < 4 and time.monotonic() < deadline:
            for _ in range(50):  # unbroken: each write begins as soon as the last one committed
                with uow() as tx:
                    tx.jobs._conn.exec_driver_sql("UPDATE counter SET n = n + 1")
                    tx.jobs._conn.exec_driver_sql("INSERT INTO counter VALUES (?)", (writes,))
                    tx.commit()
                writes += 1
            generation = wal_generation(wal)
            if generation is not None:
                generations.add(generation)
    finally:
        stop()
        engine.dispose()
    assert len(generations) >= 4, f"the WAL started over {len(generations) - 1} times in {writes} writes"


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


def test_the_checkpointer_is_a_daemon_and_stops_when_told(tmp_path: Path) -> None:
    """It never keeps a process alive that forgot to stop it, and its stopper ends it."""
    engine = make_engine(f"sqlite:///{tmp_path / 'daemon.db'}", background_checkpoint=True)
    stop = start_checkpointer(engine, every_s=0.01)
    thread = next(t for t in threading.enumerate() if t.name == "jobgate-wal-checkpoint")
    try:
        assert thread.daemon
    finally:
        stop()
        engine.dispose()
    assert not thread.is_alive()


def test_a_failing_checkpoint_is_logged_once_per_run_of_failures(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Twice a second for as long as the database is unreachable would flood the log: one line when
    checkpoints start failing, and one again only after one has succeeded in between."""
    place, away = tmp_path / "db", tmp_path / "away"
    place.mkdir()
    engine = make_engine(f"sqlite:///{place / 'x.db'}", background_checkpoint=True)
    attempts, connected = [0], [0]
    event.listen(engine, "do_connect", lambda *_: attempts.__setitem__(0, attempts[0] + 1))
    event.listen(engine, "connect", lambda *_: connected.__setitem__(0, connected[0] + 1))

    def unreachable_for(tries: int) -> None:
        engine.dispose()
        place.rename(away)  # new connections cannot open the file
        start = attempts[0]
        wait_until(lambda: attempts[0] >= start + tries, 10, message="the checkpointer to try again and again")
        away.rename(place)

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "jobgate.store.engine"]

    caplog.set_level(logging.WARNING, "jobgate.store.engine")
    stop = start_checkpointer(engine, every_s=0.001)
    try:
        wait_until(lambda: connected[0] >= 1, 10, message="a first checkpoint")
        unreachable_for(5)
        ok = connected[0]
        wait_until(lambda: connected[0] > ok, 10, message="a checkpoint after the database came back")
        unreachable_for(5)
    finally:
        stop()
        engine.dispose()
    assert len(warnings()) == 2, warnings()
    prefix = "WAL checkpoint failed; retrying: "
    assert all(w.startswith(prefix) and w[len(prefix) :] not in ("", "None") for w in warnings()), warnings()
