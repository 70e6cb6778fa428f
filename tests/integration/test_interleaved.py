"""Races on every compare-and-set path, on PostgreSQL, with the interleaving forced. Either another
request's whole step commits between the service's read and its write (support.interleave), or a
statement meets a row lock that the test holds open, and the test releases it only once PostgreSQL
shows the statement waiting (support.postgres.blocked_by). Nothing depends on timing luck.

On SQLite a write unit of work begins with BEGIN IMMEDIATE, so no other writer can land between its
read and its write: these interleavings exist on PostgreSQL only (the watchdog's, whose read is a read
unit of work, are in test_watchdog.py on both)."""

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text

from jobgate.domain.errors import Conflict, JobNotFound, TransitionRefused
from jobgate.domain.model import (
    ADMIN_GROUP,
    Actor,
    Change,
    Channel,
    Credentials,
    Job,
    JobFilter,
    JobSpec,
    TaskResult,
    Transition,
)
from jobgate.domain.states import Action, JobState
from jobgate.services import JobService
from jobgate.store import SqlUnitOfWorkFactory, make_engine
from support.fakes import FakeClock
from support.interleave import Interleaved
from support.postgres import blocked_by, with_lock_timeout
from support.services import STALE, job_service
from support.store import Store, sql_store, transition
from support.wait import wait_until

S = JobState
ALICE = Actor("alice", Channel.CISCO)
ADMIN = Actor("root", Channel.CLI, frozenset({ADMIN_GROUP}))
SLEEP = JobSpec("sleep", {"seconds": 60})


@pytest.fixture
def pg(pg_url: str) -> Iterator[Store]:
    with sql_store(pg_url, "postgresql") as store:
        yield store


@pytest.fixture
def impatient(pg: Store, pg_url: str) -> Iterator[SqlUnitOfWorkFactory]:
    """Units of work on the same schema whose statements fail after 5 s on a row lock instead of waiting."""
    engine = make_engine(with_lock_timeout(pg_url))
    try:
        yield SqlUnitOfWorkFactory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def jobs(pg: Store, clock: FakeClock) -> JobService:
    """The other requests: the plain service on its own connections."""
    return job_service(pg.uow, clock)


def racing(
    pg: Store, clock: FakeClock, method: str, between: Callable[[], object], repository: str = "jobs"
) -> tuple[JobService, Interleaved]:
    """The service whose first `<repository>.<method>` read is followed at once by `between` (another request)."""
    plan = Interleaved(pg.uow, method, between, repository)
    return job_service(plan, clock), plan


def stages(jobs: JobService, job_id: int) -> list[str]:
    return [event.stage for event in jobs.history(ADMIN, job_id)[1]]


def running(jobs: JobService, runner: str = "runner-1") -> Job:
    jobs.submit(ALICE, SLEEP)
    job = jobs.claim_next(runner, {"sleep"})
    assert job is not None
    return job


def backend_pid(tx: Any) -> int:
    return int(tx.jobs._conn.execute(text("SELECT pg_backend_pid()")).scalar())


class TestOneJob:
    def test_a_cancel_that_read_executing_loses_to_the_finish_and_is_refused(
        self, pg: Store, clock: FakeClock, jobs: JobService
    ) -> None:
        job = running(jobs)
        racer, plan = racing(pg, clock, "get", lambda: jobs.finish(job, TaskResult(rows=1)))
        with pytest.raises(TransitionRefused) as refused:
            racer.cancel(ALICE, job.id)
        assert plan.fired
        assert refused.value.current is S.FINISHED
        assert jobs.get(ADMIN, job.id).state is S.FINISHED
        assert stages(jobs, job.id) == ["submit", "start", "finish"]

    def test_a_cancel_that_read_submitted_and_lost_to_a_claim_asks_the_runner_to_stop(
        self, pg: Store, clock: FakeClock, jobs: JobService
    ) -> None:
        job = jobs.submit(ALICE, SLEEP)
        racer, plan = racing(pg, clock, "get", lambda: jobs.claim_next("runner-1", {"sleep"}))
        outcome = racer.cancel(ALICE, job.id)
        assert plan.fired
        assert (outcome.prior, outcome.current, outcome.changed) == (S.SUBMITTED, S.CANCELING, True)
        _, events = jobs.history(ADMIN, job.id)
        assert [(e.stage, e.from_state, e.to_state) for e in events][2:] == [("cancel", S.EXECUTING, S.CANCELING)]

    def test_two_cancels_that_read_the_same_state_write_one_event(
        self, pg: Store, clock: FakeClock, jobs: JobService
    ) -> None:
        job = running(jobs)
        racer, _ = racing(pg, clock, "get", lambda: jobs.cancel(ADMIN, job.id))
        outcome = racer.cancel(ALICE, job.id)
        assert (outcome.current, outcome.changed) == (S.CANCELING, False)
        assert stages(jobs, job.id) == ["submit", "start", "cancel"]

    @pytest.mark.parametrize("end", ["finish", "fail"])
    def test_a_runner_ending_its_job_after_a_cancel_landed_completes_the_cancel(
        self, pg: Store, clock: FakeClock, jobs: JobService, end: str
    ) -> None:
        job = running(jobs)
        racer, plan = racing(pg, clock, "get", lambda: jobs.cancel(ALICE, job.id))
        outcome = racer.finish(job, TaskResult(rows=1)) if end == "finish" else racer.fail(job, "broke")
        assert plan.fired
        assert (outcome.current, outcome.changed) == (S.CANCELLED, True)
        assert stages(jobs, job.id) == ["submit", "start", "cancel", "cancel_done"]

    def test_a_runner_handing_its_job_back_after_a_cancel_landed_completes_the_cancel(
        self, pg: Store, clock: FakeClock, jobs: JobService
    ) -> None:
        job = running(jobs)
        racer, _ = racing(pg, clock, "get", lambda: jobs.cancel(ALICE, job.id))
        assert racer.release(job, "server shutting down").current is S.CANCELLED
        assert stages(jobs, job.id) == ["submit", "start", "cancel", "cancel_done"]

    def test_a_delete_that_lost_to_another_delete_finds_the_job_gone(
        self, pg: Store, clock: FakeClock, jobs: JobService
    ) -> None:
        job = jobs.submit(ALICE, SLEEP)
        jobs.cancel(ALICE, job.id)
        racer, _ = racing(pg, clock, "get", lambda: jobs.delete(ADMIN, job.id))
        with pytest.raises(JobNotFound):
            racer.delete(ALICE, job.id)
        assert [e.stage for e in pg.read(lambda tx: tx.jobs.events(job.id))] == ["submit", "cancel", "delete"]


class TestBulkCancel:
    def test_a_job_that_finished_between_the_read_and_the_write_stays_finished(
        self, pg: Store, clock: FakeClock, jobs: JobService
    ) -> None:
        job = running(jobs)
        queued = jobs.submit(ALICE, SLEEP)
        racer, plan = racing(pg, clock, "list_jobs", lambda: jobs.finish(job, TaskResult(rows=1)))
        outcomes = racer.cancel_many(ALICE, JobFilter())
        assert plan.fired
        assert [(o.job.id, o.prior, o.current) for o in outcomes] == [(queued.id, S.SUBMITTED, S.CANCELLED)]
        assert jobs.states_of([job.id, queued.id]) == {job.id: S.FINISHED, queued.id: S.CANCELLED}
        assert stages(jobs, job.id) == ["submit", "start", "finish"]

    def test_a_job_another_request_cancelled_meanwhile_gets_one_cancel_event(
        self, pg: Store, clock: FakeClock, jobs: JobService
    ) -> None:
        first, second = jobs.submit(ALICE, SLEEP), jobs.submit(ALICE, SLEEP)
        racer, _ = racing(pg, clock, "list_jobs", lambda: jobs.cancel(ADMIN, first.id, reason="admin"))
        outcomes = racer.cancel_many(ALICE, JobFilter(), reason="bulk")
        assert [o.job.id for o in outcomes] == [second.id]
        [cancel] = [e for e in jobs.history(ADMIN, first.id)[1] if e.stage == "cancel"]
        assert (cancel.actor, cancel.reason) == ("root", "admin")

    def test_a_job_claimed_meanwhile_is_read_again_and_asked_to_stop(
        self, pg: Store, clock: FakeClock, jobs: JobService
    ) -> None:
        job = jobs.submit(ALICE, SLEEP)
        racer, _ = racing(pg, clock, "list_jobs", lambda: jobs.claim_next("runner-1", {"sleep"}))
        outcomes = racer.cancel_many(ALICE, JobFilter())
        assert [(o.job.id, o.prior, o.current) for o in outcomes] == [(job.id, S.EXECUTING, S.CANCELING)]
        assert jobs.states_of([job.id]) == {job.id: S.CANCELING}
        assert stages(jobs, job.id) == ["submit", "start", "cancel"]

    def test_a_bulk_compare_and_set_that_waits_on_a_finish_in_flight_leaves_the_job_finished(
        self, pg: Store, jobs: JobService
    ) -> None:
        job = running(jobs)
        read = pg.read(lambda tx: tx.jobs.get(job.id))
        assert read is not None
        finishing = pg.uow()
        with finishing as tx:  # the runner's finish, written but not yet committed: it holds the row
            pid = backend_pid(tx)
            assert tx.jobs.transition(_move(read, "finish"), read.submitted_at) is not None
            result: dict[str, set[int]] = {}
            bulk = threading.Thread(target=lambda: result.update(moved=_cancel_all(pg, [read])))
            bulk.start()
            wait_until(lambda: blocked_by(pid) == 1, message="the bulk UPDATE to wait on the finish's row lock")
            tx.commit()
        bulk.join(10)
        assert result == {"moved": set()}
        assert jobs.states_of([job.id]) == {job.id: S.FINISHED}
        assert stages(jobs, job.id) == ["submit", "start", "finish"]


class TestClaims:
    def test_a_claim_skips_a_job_another_claim_holds_and_takes_the_next(
        self, pg: Store, impatient: SqlUnitOfWorkFactory, jobs: JobService, clock: FakeClock
    ) -> None:
        first, second = jobs.submit(ALICE, SLEEP), jobs.submit(ALICE, SLEEP)
        with pg.uow() as holder:
            mine = holder.jobs.claim_next("runner-1", clock.now(), ["sleep"])
            with impatient() as other:  # would fail after 5 s on the row lock instead of skipping it
                theirs = other.jobs.claim_next("runner-2", clock.now(), ["sleep"])
                other.commit()
            holder.commit()
        assert (mine and mine.id, theirs and theirs.id) == (first.id, second.id)
        assert {j.id: j.runner_id for j in jobs.list_jobs(ADMIN)} == {first.id: "runner-1", second.id: "runner-2"}

    def test_a_claim_finds_nothing_while_the_only_job_is_being_claimed(
        self, pg: Store, impatient: SqlUnitOfWorkFactory, jobs: JobService, clock: FakeClock
    ) -> None:
        job = jobs.submit(ALICE, SLEEP)
        with pg.uow() as holder:
            assert holder.jobs.claim_next("runner-1", clock.now(), ["sleep"]) is not None
            with impatient() as other:
                assert other.jobs.claim_next("runner-2", clock.now(), ["sleep"]) is None
            holder.commit()
        assert stages(jobs, job.id) == ["submit", "start"]

    def test_a_claim_skips_a_job_whose_cancel_is_in_flight_and_it_ends_cancelled(
        self, pg: Store, impatient: SqlUnitOfWorkFactory, jobs: JobService, clock: FakeClock
    ) -> None:
        job = jobs.submit(ALICE, SLEEP)
        with pg.uow() as cancelling:
            assert cancelling.jobs.transition(_move(job, "cancel"), clock.now()) is not None
            with impatient() as other:
                assert other.jobs.claim_next("runner-1", clock.now(), ["sleep"]) is None
            cancelling.commit()
        assert jobs.states_of([job.id]) == {job.id: S.CANCELLED}
        assert jobs.claim_next("runner-1", {"sleep"}) is None


class TestHeartbeats:
    def test_a_heartbeat_that_waits_on_the_watchdogs_requeue_does_not_refresh_the_job(
        self, pg: Store, jobs: JobService, clock: FakeClock
    ) -> None:
        job = running(jobs)
        clock.advance(STALE)
        with pg.uow() as watchdog:  # the requeue, written but not committed: it holds the row
            pid = backend_pid(watchdog)
            assert watchdog.jobs.transition(_move(job, "requeue"), clock.now()) is not None
            beat = threading.Thread(target=lambda: jobs.heartbeat("runner-1", [job.id]))
            beat.start()
            wait_until(lambda: blocked_by(pid) == 1, message="the heartbeat to wait on the requeue's row lock")
            watchdog.commit()
        beat.join(10)
        after = jobs.get(ADMIN, job.id)
        assert (after.state, after.runner_id, after.heartbeat_at) == (S.SUBMITTED, None, job.heartbeat_at)

    def test_a_heartbeat_after_another_runner_claimed_the_requeued_job_leaves_that_claim_alone(
        self, pg: Store, impatient: SqlUnitOfWorkFactory, jobs: JobService, clock: FakeClock
    ) -> None:
        job = running(jobs)
        clock.advance(STALE)
        [requeued] = jobs.sweep()
        assert requeued.current is S.SUBMITTED
        with pg.uow() as claiming:  # runner-2's claim in flight: the old runner's beat must not wait on it
            claimed = claiming.jobs.claim_next("runner-2", clock.now(), ["sleep"])
            with impatient() as old:
                old.jobs.heartbeat([job.id], "runner-1", clock.now())
                old.commit()
            claiming.commit()
        assert claimed is not None
        clock.advance(1)
        jobs.heartbeat("runner-1", [job.id])  # and once that claim is committed
        after = jobs.get(ADMIN, job.id)
        assert (after.runner_id, after.heartbeat_at, after.attempts) == ("runner-2", claimed.heartbeat_at, 2)


class TestUsers:
    def test_two_requests_adding_the_same_name_one_gets_conflict(
        self, pg: Store, clock: FakeClock, jobs: JobService
    ) -> None:
        racer, _ = racing(pg, clock, "by_name", lambda: jobs.add_user("carol", "pw-2"), "users")
        with pytest.raises(Conflict):
            racer.add_user("carol", "pw-1")
        user = jobs.user("carol")
        assert user is not None
        assert jobs.check_login(Credentials("carol", "pw-2")) == user


def _move(job: Job, action: str) -> Transition:
    changes = {
        "finish": Change(rows=1, ended=True, clear_runner=True),
        "requeue": Change(clear_runner=True),
        "cancel": Change(),
    }
    return transition(job, Action(action), changes[action], actor="system", protocol=Channel.RUNNER)


def _cancel_all(pg: Store, read: list[Job]) -> set[int]:
    """A bulk cancel of jobs read as they were (`read`), in one compare-and-set."""
    moves = [_move(job, "cancel") for job in read]
    return pg.run(lambda tx: tx.jobs.transition_all(moves, read[0].submitted_at))
