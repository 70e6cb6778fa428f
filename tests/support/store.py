"""The repository ports driven by hand: a store on any backend (fake, SQLite, PostgreSQL) and one-call
units of work over it, for the port contract (tests/ports/) and the forced races (tests/integration/)."""

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import Engine, insert

from jobgate.domain.model import Change, Channel, Job, JobFilter, JobSpec, Transition
from jobgate.domain.ports import UnitOfWork, UnitOfWorkFactory
from jobgate.domain.states import Action, JobState
from jobgate.store import SqlUnitOfWorkFactory, make_engine
from jobgate.store.migrate import upgrade
from jobgate.store.tables import jobs
from support.fakes import EPOCH, FakeUnitOfWork

T = TypeVar("T")
S, A = JobState, Action
T0 = EPOCH
NO_CHANGE = Change()
SPEC = JobSpec("sleep", {"seconds": 1.5, "tags": ["é", "b"], "nested": {"k": None}}, project="p", name="n")


def at(seconds: float) -> datetime:
    """T0 plus `seconds`: times the tests pass to the ports (aware UTC, milliseconds)."""
    return T0 + timedelta(seconds=seconds)


@dataclass
class Store:
    """One implementation of the ports: `uow` is its UnitOfWorkFactory; `engine` is None for the fake."""

    backend: str
    uow: UnitOfWorkFactory
    engine: Engine | None = None

    @property
    def is_sql(self) -> bool:
        return self.engine is not None

    def run(self, step: Callable[[UnitOfWork], T], *, write: bool = True) -> T:
        """`step` in a unit of work of its own, committed when it writes."""
        with self.uow(write=write) as tx:
            result = step(tx)
            if write:
                tx.commit()
        return result

    def read(self, step: Callable[[UnitOfWork], T]) -> T:
        return self.run(step, write=False)


@contextmanager
def sql_store(url: str, backend: str) -> Iterator[Store]:
    """A store on the schema Alembic builds at `url`; the engine is disposed afterwards."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        yield Store(backend, SqlUnitOfWorkFactory(engine), engine)
    finally:
        engine.dispose()


def fake_store() -> Store:
    return Store("fake", FakeUnitOfWork())


# -- jobs brought into a state through the port alone ---------------------------------------------------
def add(store: Store, spec: JobSpec = SPEC, owner: str = "alice", now: datetime = T0) -> Job:
    key = secrets.token_hex(16)
    return store.run(lambda tx: tx.jobs.add(spec, owner, key, now, owner, Channel.CLI))


def add_many(store: Store, count: int) -> list[Job]:
    """`count` Submitted jobs at T0 without their submit events: one bulk INSERT on SQL (thousands of adds
    through the port would cost seconds), plain adds on the fake."""
    if store.engine is None:
        return store.run(
            lambda tx: [tx.jobs.add(SPEC, "alice", f"{n:032x}", T0, "alice", Channel.CLI) for n in range(count)]
        )
    row = {
        "owner": "alice", "project": SPEC.project, "task": SPEC.task, "name": SPEC.name, "params": dict(SPEC.params),
        "state": S.SUBMITTED.value, "submitted_at": T0, "state_changed_at": T0,
    }  # fmt: skip
    with store.engine.begin() as conn:
        ids = conn.execute(insert(jobs).returning(jobs.c.id), [row | {"key": f"{n:032x}"} for n in range(count)])
        found = sorted(ids.scalars())
    return store.read(lambda tx: tx.jobs.list_jobs(JobFilter(ids=frozenset(found))))


def claim(store: Store, runner: str = "runner-1", now: datetime = T0, tasks: tuple[str, ...] = ("sleep",)) -> Job:
    job = store.run(lambda tx: tx.jobs.claim_next(runner, now, tasks))
    assert job is not None, "nothing to claim"
    return job


def transition(
    job: Job,
    action: Action,
    change: Change = NO_CHANGE,
    *,
    expected: JobState | None = None,
    actor: str = "alice",
    protocol: Channel = Channel.CLI,
    reason: str | None = None,
    status: str = "ok",
) -> Transition:
    """The compare-and-set the state table asks for `action` from the job's state (or from `expected`)."""
    source = job.state if expected is None else expected
    target = {
        A.START: S.EXECUTING, A.FINISH: S.FINISHED, A.FAIL: S.FAILED, A.CANCEL_DONE: S.CANCELLED,
        A.SUSPEND: S.SUSPENDED, A.RESUME: S.SUBMITTED, A.REQUEUE: S.SUBMITTED,
    }.get(action)  # fmt: skip
    if action is A.CANCEL:
        target = S.CANCELING if source is S.EXECUTING else S.CANCELLED
    if action is A.DELETE:
        target = source
    assert target is not None
    return Transition(job.id, action, source, target, actor, protocol, reason, status, change)


def moved(store: Store, move: Transition, now: datetime = T0) -> Job | None:
    return store.run(lambda tx: tx.jobs.transition(move, now))


def job_in(store: Store, state: JobState, now: datetime = T0, runner: str = "runner-1", **add_args: object) -> Job:
    """A job brought into `state` by the transitions a client and a runner would make, all at `now`. A job
    that a runner takes gets a task of its own (unless `spec` says), so that the claim takes this job."""
    if state not in (S.SUBMITTED, S.SUSPENDED, S.CANCELLED) and "spec" not in add_args:
        add_args["spec"] = replace(SPEC, task=f"task-{secrets.token_hex(4)}")
    job = add(store, now=now, **add_args)  # type: ignore[arg-type]
    if state is S.SUBMITTED:
        return job
    if state is S.SUSPENDED:
        return _step(store, job, A.SUSPEND, now)
    if state is S.CANCELLED:
        return _step(store, job, A.CANCEL, now)
    claimed = store.run(lambda tx: tx.jobs.claim_next(runner, now, [job.task]))
    assert claimed is not None
    assert claimed.id == job.id
    job = claimed
    if state is S.EXECUTING:
        return job
    if state is S.CANCELING:
        return _step(store, job, A.CANCEL, now)
    if state is S.FINISHED:
        return _step(store, job, A.FINISH, now, Change(rows=1, ended=True, clear_runner=True))
    assert state is S.FAILED
    return _step(store, job, A.FAIL, now, Change(error="broke", ended=True, clear_runner=True))


def _step(store: Store, job: Job, action: Action, now: datetime, change: Change = NO_CHANGE) -> Job:
    result = moved(store, transition(job, action, change), now)
    assert result is not None
    return result
