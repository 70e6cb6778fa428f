"""The lean statements (store/prepared.py) read and write exactly what SQLAlchemy's own execution does,
on SQLite and PostgreSQL: same rows, same types (aware datetimes, JSON, booleans), same history."""

import importlib.metadata
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from packaging.requirements import Requirement
from sqlalchemy import Dialect, Engine, bindparam, select
from sqlalchemy.engine import make_url

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
    parts.runners.claim_next("r1", {"sleep"})
    parts.runners.finish(parts.jobs.get(alice, job.id), TaskResult(rows=3, summary="done", output_loc="o.csv"))
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


# -- the SQLAlchemy internals the lean path leans on -----------------------------------------------------
_SERIES_HINT = "store/prepared.py uses SQLAlchemy internals; check them against this release, then move the pin"


def _internal(owner: object, name: str) -> Any:
    found = getattr(owner, name, None)
    assert found is not None, (
        f"SQLAlchemy {sqlalchemy.__version__}: {type(owner).__name__}.{name} is gone. {_SERIES_HINT}"
    )
    return found


def _dialects() -> list[Dialect]:
    return [make_url(url).get_dialect()() for url in ("sqlite://", "postgresql+psycopg://")]


class TestSqlAlchemyInternals:
    def test_the_installed_sqlalchemy_is_in_the_minor_series_pyproject_pins(self) -> None:
        [declared] = [r for r in importlib.metadata.requires("jobgate") or [] if r.lower().startswith("sqlalchemy")]
        spec = Requirement(declared).specifier
        assert any(s.operator == "<" for s in spec), f"{declared!r} has no upper bound. {_SERIES_HINT}"
        assert sqlalchemy.__version__ in spec, f"SQLAlchemy {sqlalchemy.__version__} is outside {declared!r}"

    @pytest.mark.parametrize("dialect", _dialects(), ids=lambda d: d.name)
    def test_the_cached_type_processors_are_the_ones_the_public_api_builds(self, dialect: Dialect) -> None:
        for column in [*jobs.c, *job_events.c]:
            impl = column.type.dialect_impl(dialect)
            bind = _internal(column.type, "_cached_bind_processor")(dialect)
            result = _internal(column.type, "_cached_result_processor")(dialect, None)
            mismatch = f"SQLAlchemy {sqlalchemy.__version__}: the cached processors of {column} changed. {_SERIES_HINT}"
            assert (bind is None) == (impl.bind_processor(dialect) is None), mismatch
            assert (result is None) == (impl.result_processor(dialect, None) is None), mismatch
        at = jobs.c.submitted_at.type
        bind, public = at._cached_bind_processor(dialect), at.dialect_impl(dialect).bind_processor(dialect)
        sample = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
        assert bind is None or bind(sample) == public(sample), f"the cached bind processor of {at!r} converts otherwise"

    @pytest.mark.parametrize("dialect", _dialects(), ids=lambda d: d.name)
    def test_compiled_bind_names_and_positions_name_the_parameters_in_sql_order(self, dialect: Dialect) -> None:
        statement = select(jobs.c.id).where(jobs.c.owner == bindparam("b_second"), jobs.c.id == bindparam("b_first"))
        compiled = statement.compile(dialect=dialect)
        names = _internal(compiled, "bind_names")
        assert sorted(p.key for p in names) == ["b_first", "b_second"], f"bind_names changed: {names!r}"
        assert all(isinstance(n, str) for n in names.values()), f"bind_names changed: {names!r}"
        if compiled.positional:
            order = _internal(compiled, "positiontup")
            assert list(order) == ["b_second", "b_first"], (
                f"SQLAlchemy {sqlalchemy.__version__}: positiontup {order!r} no longer lists the parameters in SQL "
                f"order. {_SERIES_HINT}"
            )


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
