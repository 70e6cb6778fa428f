"""The watchdog on the real store, SQLite and PostgreSQL: JobService.sweep() with the test's clock, and
what it did checked in the database. Its read is a read unit of work and each of its moves a
compare-and-set of its own, so another request can land in between on both backends: the races are
forced there too (support.interleave)."""

from collections.abc import Callable, Iterator

import pytest

from jobgate.domain.model import ADMIN_GROUP, Actor, Channel, Job, JobSpec, Outcome
from jobgate.domain.states import JobState
from jobgate.services import JobService
from support.fakes import FakeClock
from support.interleave import Interleaved
from support.services import STALE, STUCK, job_service
from support.store import Store, sql_store

S = JobState
ALICE = Actor("alice", Channel.CLI)
ADMIN = Actor("root", Channel.CLI, frozenset({ADMIN_GROUP}))
SLEEP = JobSpec("sleep", {"seconds": 60})


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with sql_store(db_url, db_url.split(":")[0]) as built:
        yield built


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def jobs(store: Store, clock: FakeClock) -> JobService:
    return job_service(store.uow, clock)


def running(jobs: JobService, runner: str = "runner-1") -> Job:
    jobs.submit(ALICE, SLEEP)
    job = jobs.claim_next(runner, {"sleep"})
    assert job is not None
    return job


def beat_for(jobs: JobService, clock: FakeClock, seconds: float, runner: str, job_ids: list[int]) -> None:
    """Let `seconds` pass with `runner` alive, beating for `job_ids` every second."""
    for _ in range(int(seconds)):
        clock.advance(1)
        jobs.heartbeat(runner, job_ids)
    clock.advance(seconds - int(seconds))


def story(jobs: JobService, job_id: int) -> list[tuple[str, str, str | None]]:
    """The job's history as (stage, actor, reason)."""
    return [(e.stage, e.actor, e.reason) for e in jobs.history(ADMIN, job_id)[1]]


def moves(outcomes: list[Outcome]) -> list[tuple[int, JobState, JobState]]:
    return [(o.job.id, o.prior, o.current) for o in outcomes]


def sweeping_with(store: Store, clock: FakeClock, method: str, between: Callable[[], object]) -> JobService:
    """The watchdog's service, with another request landing right after its `jobs.<method>` read."""
    return job_service(Interleaved(store.uow, method, between), clock)


class TestStuckCancel:
    def test_a_cancel_pending_past_grace_and_margin_fails_the_job_in_the_store(
        self, jobs: JobService, clock: FakeClock
    ) -> None:
        job = running(jobs)
        jobs.cancel(ALICE, job.id)
        beat_for(jobs, clock, STUCK, "runner-1", [job.id])  # the runner is alive but the task won't stop
        assert moves(jobs.sweep()) == [(job.id, S.CANCELING, S.FAILED)]
        failed = jobs.get(ADMIN, job.id)
        assert (failed.state, failed.error, failed.runner_id) == (S.FAILED, "cancel did not complete within 10 s", None)
        assert failed.ended_at == clock.now()
        assert story(jobs, job.id)[-1] == ("fail", "system", "cancel did not complete within 10 s")

    def test_a_cancel_pending_within_grace_and_margin_is_left_alone(self, jobs: JobService, clock: FakeClock) -> None:
        job = running(jobs)
        jobs.cancel(ALICE, job.id)
        beat_for(jobs, clock, STUCK - 0.002, "runner-1", [job.id])
        assert jobs.sweep() == []
        assert jobs.states_of([job.id]) == {job.id: S.CANCELING}

    def test_a_cancel_completed_between_the_watchdogs_read_and_its_write_stays_cancelled(
        self, store: Store, jobs: JobService, clock: FakeClock
    ) -> None:
        job = running(jobs)
        jobs.cancel(ALICE, job.id)
        beat_for(jobs, clock, STUCK, "runner-1", [job.id])
        watchdog = sweeping_with(store, clock, "stuck", lambda: jobs.cancel_done(job))
        assert watchdog.sweep() == []
        assert jobs.states_of([job.id]) == {job.id: S.CANCELLED}
        assert [stage for stage, _, _ in story(jobs, job.id)] == ["submit", "start", "cancel", "cancel_done"]


class TestDeadRunner:
    def test_an_executing_job_is_requeued_once_then_failed(self, jobs: JobService, clock: FakeClock) -> None:
        job = running(jobs)
        clock.advance(STALE)
        assert moves(jobs.sweep()) == [(job.id, S.EXECUTING, S.SUBMITTED)]
        assert jobs.get(ADMIN, job.id).runner_id is None
        retried = running_again = jobs.claim_next("runner-2", {"sleep"})
        assert retried is not None
        assert (running_again.id, running_again.attempts) == (job.id, 2)
        clock.advance(STALE)
        assert moves(jobs.sweep()) == [(job.id, S.EXECUTING, S.FAILED)]
        assert story(jobs, job.id)[2:] == [
            ("requeue", "system", "runner runner-1 stopped responding; retrying once"),
            ("start", "system", "attempt 2"),
            ("fail", "system", "runner runner-2 stopped responding; already retried once"),
        ]

    def test_a_canceling_job_ends_cancelled(self, jobs: JobService, clock: FakeClock) -> None:
        job = running(jobs)
        jobs.cancel(ALICE, job.id)
        clock.advance(STALE)
        assert moves(jobs.sweep()) == [(job.id, S.CANCELING, S.CANCELLED)]
        assert story(jobs, job.id)[-1] == ("cancel_done", "system", "runner runner-1 stopped responding")

    def test_only_the_dead_runners_jobs_move_and_a_second_sweep_finds_nothing(
        self, jobs: JobService, clock: FakeClock
    ) -> None:
        dead, alive = running(jobs, "runner-1"), running(jobs, "runner-2")
        queued = jobs.submit(ALICE, SLEEP)
        beat_for(jobs, clock, STALE, "runner-2", [alive.id])
        assert moves(jobs.sweep()) == [(dead.id, S.EXECUTING, S.SUBMITTED)]
        assert jobs.sweep() == []
        assert jobs.states_of([alive.id, queued.id]) == {alive.id: S.EXECUTING, queued.id: S.SUBMITTED}

    def test_a_live_runners_heartbeat_for_a_job_now_held_by_another_does_not_keep_that_one_alive(
        self, jobs: JobService, clock: FakeClock
    ) -> None:
        job = running(jobs, "runner-1")
        clock.advance(STALE)
        jobs.sweep()  # runner-1 seemed dead: requeued
        assert jobs.claim_next("runner-2", {"sleep"}) is not None  # runner-2 takes it, then dies
        beat_for(jobs, clock, STALE, "runner-1", [job.id])  # runner-1 still thinks it holds the job
        assert moves(jobs.sweep()) == [(job.id, S.EXECUTING, S.FAILED)]
        assert "runner runner-2 stopped responding" in (jobs.get(ADMIN, job.id).error or "")

    def test_a_runner_that_beats_between_the_watchdogs_read_and_its_write_keeps_its_job(
        self, store: Store, jobs: JobService, clock: FakeClock
    ) -> None:
        job = running(jobs)
        clock.advance(STALE)  # late, but alive: its beat lands while the watchdog decides
        watchdog = sweeping_with(store, clock, "stale", lambda: jobs.heartbeat("runner-1", [job.id]))
        assert watchdog.sweep() == []
        after = jobs.get(ADMIN, job.id)
        assert (after.state, after.runner_id, after.attempts) == (S.EXECUTING, "runner-1", 1)
        assert [stage for stage, _, _ in story(jobs, job.id)] == ["submit", "start"]

    def test_a_runner_that_beats_meanwhile_keeps_its_canceling_job(
        self, store: Store, jobs: JobService, clock: FakeClock
    ) -> None:
        job = running(jobs)
        jobs.cancel(ALICE, job.id)
        clock.advance(STALE)
        watchdog = sweeping_with(store, clock, "stale", lambda: jobs.heartbeat("runner-1", [job.id]))
        assert watchdog.sweep() == []
        assert jobs.states_of([job.id]) == {job.id: S.CANCELING}

    def test_a_runner_that_beats_meanwhile_keeps_its_retried_job(
        self, store: Store, jobs: JobService, clock: FakeClock
    ) -> None:
        job = running(jobs)
        clock.advance(STALE)
        jobs.sweep()
        assert jobs.claim_next("runner-2", {"sleep"}) is not None
        clock.advance(STALE)
        watchdog = sweeping_with(store, clock, "stale", lambda: jobs.heartbeat("runner-2", [job.id]))
        assert watchdog.sweep() == []
        assert (jobs.get(ADMIN, job.id).state, jobs.get(ADMIN, job.id).runner_id) == (S.EXECUTING, "runner-2")

    def test_a_job_requeued_and_claimed_again_meanwhile_is_left_to_its_new_runner(
        self, store: Store, jobs: JobService, clock: FakeClock
    ) -> None:
        job = running(jobs)
        clock.advance(STALE)

        def another_watchdog_then_a_claim() -> None:
            jobs.sweep()
            jobs.claim_next("runner-2", {"sleep"})

        watchdog = sweeping_with(store, clock, "stale", another_watchdog_then_a_claim)
        assert watchdog.sweep() == []
        after = jobs.get(ADMIN, job.id)
        assert (after.state, after.runner_id, after.attempts) == (S.EXECUTING, "runner-2", 2)
        assert [stage for stage, _, _ in story(jobs, job.id)] == ["submit", "start", "requeue", "start"]
