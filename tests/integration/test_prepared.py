"""The lean statements (store/prepared.py) read and write exactly what SQLAlchemy's own execution does,
on SQLite and PostgreSQL: same rows, same types (aware datetimes, JSON, booleans), same history."""

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from jobgate.app import Components
from jobgate.domain.model import Actor, Change, Channel, Job, JobFilter, JobSpec, TaskResult, Transition
from jobgate.domain.states import Action, JobState
from jobgate.store import SqlUnitOfWorkFactory
from jobgate.store.engine import make_engine
from jobgate.store.migrate import upgrade
from jobgate.store.prepared import prepare
from jobgate.store.repository import _GET, _job
from jobgate.store.tables import job_events, jobs
from jobgate.store.unit_of_work import Spares, SqlUnitOfWork

SPEC = JobSpec("sleep", {"seconds": 1.5, "tags": ["é", "b"], "nested": {"k": None}}, project="p", name="n")


def _core_job(parts: Components, job_id: int) -> Job:
    with parts.engine.connect() as conn:
        return _job(conn.execute(_GET, {"b_id": job_id}).one())


def _core_events(parts: Components, job_id: int) -> list[tuple[object, ...]]:
    with parts.engine.connect() as conn:
        query = select(job_events).where(job_events.c.job_id == job_id).order_by(job_events.c.seq)
        return [tuple(row) for row in conn.execute(query)]


def test_a_prepared_read_equals_sqlalchemys(parts: Components, alice: Actor) -> None:
    job = parts.jobs.submit(alice, SPEC)
    parts.jobs.claim_next("r1", {"sleep"})
    parts.jobs.finish(parts.jobs.get(alice, job.id), TaskResult(rows=3, summary="done", output_loc="o.csv"))
    uow = SqlUnitOfWorkFactory(parts.engine)
    with uow(write=False) as tx:
        lean = tx.jobs.get(job.id)
        by_key = tx.jobs.get_by_key(job.key)
    assert lean == by_key == _core_job(parts, job.id)
    assert lean is not None
    assert lean.params == SPEC.params
    assert lean.synchronous is False
    assert lean.started_at is not None
    assert lean.started_at.tzinfo is UTC
    assert lean.ended_at is not None


def test_a_prepared_transition_writes_what_sqlalchemy_reads_back(parts: Components, alice: Actor) -> None:
    job = parts.jobs.submit(alice, SPEC)
    now = datetime(2026, 12, 4, 18, 30, 1, 123456, tzinfo=UTC)
    move = Transition(job.id, Action.CANCEL, JobState.SUBMITTED, JobState.CANCELLED, "alice", Channel.CASJOBS,
                      "why", change=Change(ended=True, error="stopped"))  # fmt: skip
    with SqlUnitOfWorkFactory(parts.engine)() as tx:
        moved = tx.jobs.transition(move, now)
        tx.commit()
    stored = _core_job(parts, job.id)
    assert moved == stored
    assert (stored.state, stored.version, stored.ended_at, stored.error) == (JobState.CANCELLED, 2, now, "stopped")
    last = _core_events(parts, job.id)[-1]
    assert last[1:] == (job.id, 2, "cancel", "ok", "Submitted", "Cancelled", now, "alice", "casjobs", "why")


def test_a_lost_prepared_compare_and_set_writes_nothing(parts: Components, alice: Actor) -> None:
    job = parts.jobs.submit(alice, SPEC)
    move = Transition(job.id, Action.START, JobState.EXECUTING, JobState.FINISHED, "x", Channel.RUNNER)
    with SqlUnitOfWorkFactory(parts.engine)() as tx:
        assert tx.jobs.transition(move, datetime.now(UTC)) is None
        tx.commit()
    assert len(_core_events(parts, job.id)) == 1


def test_an_uncommitted_unit_of_work_leaves_no_trace(parts: Components, alice: Actor) -> None:
    job = parts.jobs.submit(alice, SPEC)
    move = Transition(job.id, Action.CANCEL, JobState.SUBMITTED, JobState.CANCELLED, "alice", Channel.CASJOBS)
    with SqlUnitOfWorkFactory(parts.engine)() as tx:
        assert tx.jobs.transition(move, datetime.now(UTC)) is not None
        # a Core statement joins the same transaction and sees the uncommitted move
        assert [j.state for j in tx.jobs.list_jobs(JobFilter(ids=frozenset({job.id})))] == [JobState.CANCELLED]
    assert _core_job(parts, job.id).state is JobState.SUBMITTED
    assert len(_core_events(parts, job.id)) == 1


def test_statements_with_expanding_lists_are_refused(parts: Components) -> None:
    with pytest.raises(ValueError, match="expanding"):
        prepare(select(jobs).where(jobs.c.id.in_([1, 2])), parts.engine.dialect)


def _driver_of(tx: SqlUnitOfWork) -> Any:
    assert tx._link is not None
    return tx._link.lean._driver


def test_a_sqlite_unit_of_work_reuses_an_idle_connection_and_leaves_it_clean(parts: Components, alice: Actor) -> None:
    job = parts.jobs.submit(alice, SPEC)
    uow = SqlUnitOfWorkFactory(parts.engine)
    move = Transition(job.id, Action.CANCEL, JobState.SUBMITTED, JobState.CANCELLED, "alice", Channel.CASJOBS)
    failed = uow()
    with failed:
        first = _driver_of(failed)
        assert failed.jobs.transition(move, datetime.now(UTC)) is not None
        # no commit: the request broke off mid-write
    with uow(write=False) as tx:
        again = _driver_of(tx)
        assert tx.jobs.get(job.id) == _core_job(parts, job.id)
    assert _core_job(parts, job.id).state is JobState.SUBMITTED  # the broken-off write left no trace
    if parts.engine.dialect.name == "sqlite":
        assert again is first  # the spare, not a fresh pool checkout
        assert not again.in_transaction
    else:
        assert not isinstance(uow._source, Spares)  # PostgreSQL connections go back to the pool, which pings them


def test_dispose_closes_the_spare_sqlite_connections(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'spares.db'}")
    upgrade(engine)
    uow = SqlUnitOfWorkFactory(engine)
    with uow(write=False) as tx:
        driver = _driver_of(tx)
    engine.dispose()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        driver.execute("SELECT 1")
    with uow(write=False) as tx:  # a fresh connection from the new pool
        assert _driver_of(tx) is not driver
        assert tx.jobs.get(1) is None
    engine.dispose()


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[Engine]:
    built = make_engine(f"sqlite:///{tmp_path / 'spares.db'}")
    yield built
    built.dispose()


def test_at_most_keep_idle_connections_stay_out_of_the_pool_for_reuse(sqlite_file: Engine) -> None:
    engine, spares = sqlite_file, Spares(sqlite_file, keep=2)
    taken = [spares.take() for _ in range(3)]
    for raw in taken:
        spares.give_back(raw)
    assert engine.pool.checkedout() == 2  # the third went back to the pool
    assert spares.take() is taken[1]  # last kept, first reused


def test_a_connection_handed_back_inside_a_transaction_is_not_kept(sqlite_file: Engine) -> None:
    engine, spares = sqlite_file, Spares(sqlite_file, keep=2)
    raw = spares.take()
    raw.driver_connection.execute("BEGIN")
    spares.give_back(raw)
    assert engine.pool.checkedout() == 0
