"""Transitions.watch (JobService.watch): every committed state change this process makes is announced once,
after its commit; refusals and no-op requests are not. JobService.knows_task, and expired tokens told apart."""

import pytest

from jobgate.domain.errors import BadCredentials, TokenExpired, TransitionRefused
from jobgate.domain.model import Actor, Channel, CredentialKind, Credentials, Job, JobFilter, JobSpec, TaskResult
from jobgate.domain.states import JobState
from jobgate.services import Identity, JobService, RunnerService
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


def running(jobs: JobService, runners: RunnerService, alice: Actor) -> Job:
    jobs.submit(alice, SLEEP)
    claimed = runners.claim_next("runner-1", {"sleep"})
    assert claimed is not None
    return claimed


class TestAnnouncements:
    def test_each_transition_is_heard_once_with_the_state_it_committed(
        self, jobs: JobService, runners: RunnerService, heard: Heard, alice: Actor
    ) -> None:
        job = running(jobs, runners, alice)
        jobs.cancel(alice, job.id)
        runners.cancel_done(job)
        jobs.delete(alice, job.id)

        assert heard.events == [
            (job.id, JobState.EXECUTING),
            (job.id, JobState.CANCELING),
            (job.id, JobState.CANCELLED),
            (job.id, JobState.CANCELLED),  # hidden: the same state, a committed change all the same
        ]

    def test_a_finished_job_is_heard(
        self, jobs: JobService, runners: RunnerService, heard: Heard, alice: Actor
    ) -> None:
        job = running(jobs, runners, alice)
        runners.finish(job, TaskResult(rows=0))

        assert heard.events[-1] == (job.id, JobState.FINISHED)

    def test_a_refused_or_idempotent_request_is_not_heard(
        self, jobs: JobService, runners: RunnerService, heard: Heard, alice: Actor
    ) -> None:
        job = running(jobs, runners, alice)
        jobs.cancel(alice, job.id)
        before = list(heard.events)

        jobs.cancel(alice, job.id)  # already Canceling: nothing changes
        runners.cancel_done(job)
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

    def test_an_expired_token_says_so_and_an_unknown_one_does_not(self, identity: Identity, clock: FakeClock) -> None:
        user = identity.add_user("alice", "pw")
        issued = identity.issue_token(user, "arcgis", 60.0)

        def check(token: str) -> str:
            return identity.authenticate(Credentials("", token, CredentialKind.TOKEN, "arcgis"), Channel.ARCGIS).name

        assert check(issued.token) == "alice"
        clock.advance(61)
        for _ in range(10):  # never held off: an expired token keeps saying so
            with pytest.raises(TokenExpired):
                check(issued.token)
        with pytest.raises(BadCredentials) as unknown:
            check("0" * 32)
        assert not isinstance(unknown.value, TokenExpired)
