"""The crash rules: jobs of dead runners and cancels that never complete (interface.md, 'After a crash')."""

import pytest

from jobgate.domain.model import Actor, Job, JobSpec
from jobgate.domain.states import JobState
from jobgate.services import JobService, RunnerService
from support.fakes import FakeClock, FakeUnitOfWork

S = JobState
STALE = 5.0 + 0.001  # stale_after_s in the unit tier's Runtime, just passed
STUCK = 10.0 + 5.0 + 0.001  # cancel_grace_s + cancel_margin_s, just passed


@pytest.fixture
def running(jobs: JobService, runners: RunnerService, alice: Actor) -> Job:
    jobs.submit(alice, JobSpec("sleep", {"seconds": 60}))
    job = runners.claim_next("runner-1", {"sleep"})
    assert job is not None
    return job


def beat_for(runners: RunnerService, clock: FakeClock, job: Job, seconds: float) -> None:
    """Let `seconds` pass with the runner alive and beating every second."""
    for _ in range(int(seconds)):
        clock.advance(1)
        runners.heartbeat("runner-1", [job.id])
    clock.advance(seconds - int(seconds))


class TestDeadRunner:
    def test_nothing_moves_while_the_heartbeat_is_fresh(
        self, jobs: JobService, runners: RunnerService, clock: FakeClock, running: Job
    ) -> None:
        beat_for(runners, clock, running, 30)
        assert runners.sweep() == []

    def test_a_canceling_job_of_a_dead_runner_becomes_cancelled(
        self,
        jobs: JobService,
        runners: RunnerService,
        uow: FakeUnitOfWork,
        clock: FakeClock,
        alice: Actor,
        running: Job,
    ) -> None:
        jobs.cancel(alice, running.id)
        clock.advance(STALE)
        [outcome] = runners.sweep()
        assert (outcome.prior, outcome.current) == (S.CANCELING, S.CANCELLED)
        event = uow.jobs.events(running.id)[-1]
        assert (event.stage, event.actor) == ("cancel_done", "system")
        assert "runner-1 stopped responding" in (event.reason or "")

    def test_an_executing_job_of_a_dead_runner_is_retried_once_then_failed(
        self,
        jobs: JobService,
        runners: RunnerService,
        uow: FakeUnitOfWork,
        clock: FakeClock,
        alice: Actor,
        running: Job,
    ) -> None:
        clock.advance(STALE)
        [first] = runners.sweep()
        assert (first.prior, first.current, first.job.runner_id) == (S.EXECUTING, S.SUBMITTED, None)
        assert "retrying once" in (uow.jobs.events(running.id)[-1].reason or "")

        retried = runners.claim_next("runner-2", {"sleep"})
        assert retried is not None
        assert (retried.id, retried.attempts) == (running.id, 2)
        clock.advance(STALE)
        [second] = runners.sweep()
        assert (second.prior, second.current) == (S.EXECUTING, S.FAILED)
        failed = jobs.get(alice, running.id)
        assert "already retried once" in (failed.error or "")
        assert [e.stage for e in uow.jobs.events(running.id)] == [
            "submit", "start", "requeue", "start", "fail",
        ]  # fmt: skip

    def test_a_second_sweep_finds_nothing_left_to_do(
        self, jobs: JobService, runners: RunnerService, clock: FakeClock, running: Job
    ) -> None:
        clock.advance(STALE)
        assert len(runners.sweep()) == 1
        assert runners.sweep() == []


class TestCancelWatchdog:
    def test_a_cancel_still_pending_within_grace_and_margin_is_left_alone(
        self, jobs: JobService, runners: RunnerService, clock: FakeClock, alice: Actor, running: Job
    ) -> None:
        jobs.cancel(alice, running.id)
        beat_for(runners, clock, running, 14.9)
        assert runners.sweep() == []

    def test_a_cancel_stuck_past_grace_and_margin_fails_the_job_with_the_reason_in_history(
        self,
        jobs: JobService,
        runners: RunnerService,
        uow: FakeUnitOfWork,
        clock: FakeClock,
        alice: Actor,
        running: Job,
    ) -> None:
        jobs.cancel(alice, running.id)
        beat_for(runners, clock, running, STUCK)
        [outcome] = runners.sweep()
        assert (outcome.prior, outcome.current) == (S.CANCELING, S.FAILED)
        event = uow.jobs.events(running.id)[-1]
        assert (event.stage, event.from_state, event.to_state) == ("fail", S.CANCELING, S.FAILED)
        assert event.reason == "cancel did not complete within 10 s"
        assert jobs.get(alice, running.id).error == event.reason
