"""JobService.watch: every committed state change this process makes is announced once, after its commit;
refusals and no-op requests are not. knows_task and issue_token_until, which the ArcGIS dialect needs."""

from datetime import timedelta

import pytest

from jobgate.domain.errors import TokenExpired, TransitionRefused
from jobgate.domain.model import Actor, Channel, Credentials, Job, JobFilter, JobSpec, TaskResult
from jobgate.domain.states import JobState
from jobgate.services import JobService
from support.fakes import FakeClock

SLEEP = JobSpec("sleep", {"seconds": 5}, project="proj")


class Heard:
    """A listener that records the job ids it hears and the state the service reports at that moment."""

    def __init__(self, jobs: JobService) -> None:
        self.jobs, self.events = jobs, list[tuple[int, JobState]]()
        jobs.watch(self)

    def __call__(self, job_id: int) -> None:
        self.events.append((job_id, self.jobs.states_of([job_id])[job_id]))


@pytest.fixture
def heard(jobs: JobService) -> Heard:
    return Heard(jobs)


def running(jobs: JobService, alice: Actor) -> Job:
    jobs.submit(alice, SLEEP)
    claimed = jobs.claim_next("runner-1", {"sleep"})
    assert claimed is not None
    return claimed


class TestAnnouncements:
    def test_each_transition_is_heard_once_with_the_state_it_committed(
        self, jobs: JobService, heard: Heard, alice: Actor
    ) -> None:
        job = running(jobs, alice)
        jobs.cancel(alice, job.id)
        jobs.cancel_done(job)
        jobs.delete(alice, job.id)

        assert heard.events == [
            (job.id, JobState.EXECUTING),
            (job.id, JobState.CANCELING),
            (job.id, JobState.CANCELLED),
            (job.id, JobState.CANCELLED),  # hidden: the same state, a committed change all the same
        ]

    def test_a_finished_job_is_heard(self, jobs: JobService, heard: Heard, alice: Actor) -> None:
        job = running(jobs, alice)
        jobs.finish(job, TaskResult(rows=0))

        assert heard.events[-1] == (job.id, JobState.FINISHED)

    def test_a_refused_or_idempotent_request_is_not_heard(self, jobs: JobService, heard: Heard, alice: Actor) -> None:
        job = running(jobs, alice)
        jobs.cancel(alice, job.id)
        before = list(heard.events)

        jobs.cancel(alice, job.id)  # already Canceling: nothing changes
        jobs.cancel_done(job)
        with pytest.raises(TransitionRefused):
            jobs.cancel(alice, job.id)

        assert heard.events == [*before, (job.id, JobState.CANCELLED)]

    def test_bulk_cancel_announces_every_job_it_moved(self, jobs: JobService, heard: Heard, alice: Actor) -> None:
        first, second = jobs.submit(alice, SLEEP), jobs.submit(alice, SLEEP)

        jobs.cancel_many(alice, JobFilter(owner="alice"))

        assert sorted(heard.events) == [(first.id, JobState.CANCELLED), (second.id, JobState.CANCELLED)]


class TestTasksAndTokens:
    def test_no_task_is_known_without_an_executor(self, jobs: JobService) -> None:
        assert not jobs.knows_task("sleep")

    def test_a_token_expires_at_the_moment_it_was_issued_for(self, jobs: JobService, clock: FakeClock) -> None:
        user = jobs.add_user("alice", "pw")
        token, expires_at = jobs.auth.issue_token_until(user, "arcgis", 60.0)

        assert expires_at == clock.now() + timedelta(seconds=60)
        assert jobs.authenticate(Credentials("t1", token, "token"), Channel.ARCGIS).name == "alice"
        clock.advance(61)
        with pytest.raises(TokenExpired):
            jobs.authenticate(Credentials("t1", token, "token"), Channel.ARCGIS)
