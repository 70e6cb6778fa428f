"""What each request returns and leaves behind, to the letter: reasons in the history, the columns a
runner's last word writes, the outcomes of a bulk cancel, what the observer and the cancel signal are
told, which units of work only read, and the quick (synchronous) jobs."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest

from jobgate.domain.errors import Conflict, InvalidRequest, JobNotFound, NotOwner, TaskFailed, TransitionRefused
from jobgate.domain.model import (
    Actor,
    Channel,
    Credentials,
    Job,
    JobFilter,
    JobSpec,
    Outcome,
    TaskResult,
    Transition,
    User,
)
from jobgate.domain.states import Action, JobState
from jobgate.services import Authenticator, AuthPolicy, Identity, JobService, RunnerService, Runtime, Transitions
from jobgate.services.tokens import TokenPolicy, TokenService
from support.fakes import FakeCancelSignal, FakeClock, FakeHasher, FakeJobRepository, FakeUnitOfWork
from support.services import Services

S = JobState
SLEEP = JobSpec("sleep", {"seconds": 5}, project="proj")
Seen = list[tuple[Action, Channel]]


class FakeExecutor:
    """Runs quick jobs in the caller: answers `result`, or raises `failure`."""

    def __init__(self) -> None:
        self.result = TaskResult(rows=2, summary="two rows", output_loc="q.csv")
        self.failure: TaskFailed | None = None
        self.ran: list[tuple[int, float]] = []

    def knows(self, task: str) -> bool:
        return task == "sql"

    @contextmanager
    def admit(self) -> Iterator[Callable[[Job, float], TaskResult]]:
        yield self.run_now

    def run_now(self, job: Job, timeout_s: float) -> TaskResult:
        self.ran.append((job.id, timeout_s))
        if self.failure is not None:
            raise self.failure
        return self.result


@pytest.fixture
def seen() -> Seen:
    return []


@pytest.fixture
def executor() -> FakeExecutor:
    return FakeExecutor()


@pytest.fixture
def service(
    uow: FakeUnitOfWork, clock: FakeClock, hasher: FakeHasher, signal: FakeCancelSignal, seen: Seen,
    executor: FakeExecutor,
) -> Services:  # fmt: skip
    """The services with an observer that records each transition, a cancel signal and a quick-job executor."""
    tokens = TokenService(uow, clock, {}, TokenPolicy())
    auth = Authenticator(uow, hasher, clock, tokens, AuthPolicy(), secret=b"s")
    runtime = Runtime(cancel_grace_s=10.0, cancel_margin_s=5.0, stale_after_s=5.0, quick_timeout_s=30.0)
    transitions = Transitions(uow, clock, observe=lambda action, protocol: seen.append((action, protocol)))
    jobs = JobService(uow, clock, transitions, runtime)
    jobs.attach(executor=executor)
    jobs.attach(signal=signal)  # one at a time: attaching one keeps the other
    return Services(jobs, RunnerService(uow, clock, transitions, runtime), Identity(uow, clock, hasher, auth, tokens))


def running(service: Services, alice: Actor) -> Job:
    service.submit(alice, SLEEP)
    job = service.claim_next("runner-1", {"sleep"})
    assert job is not None
    return job


def last(uow: FakeUnitOfWork, job: Job) -> tuple[str, str | None]:
    event = uow.jobs.events(job.id)[-1]
    return event.stage, event.reason


class TestReasons:
    def test_suspend_resume_and_delete_record_their_reason(
        self, service: Services, uow: FakeUnitOfWork, alice: Actor
    ) -> None:
        job = service.submit(alice, SLEEP)
        service.suspend(alice, job.id, reason="hold")
        assert last(uow, job) == ("suspend", "hold")
        service.resume(alice, job.id, reason="go")
        assert last(uow, job) == ("resume", "go")
        service.cancel(alice, job.id)
        service.delete(alice, job.id, reason="tidy")
        assert last(uow, job) == ("delete", "tidy")

    def test_cancel_done_records_its_reason(self, service: Services, uow: FakeUnitOfWork, alice: Actor) -> None:
        job = running(service, alice)
        service.cancel(alice, job.id)
        service.cancel_done(job, reason="stopped by signal")
        assert last(uow, job) == ("cancel_done", "stopped by signal")

    def test_a_task_ending_after_a_cancel_completes_it_as_task_stopped(
        self, service: Services, uow: FakeUnitOfWork, alice: Actor
    ) -> None:
        job = running(service, alice)
        service.cancel(alice, job.id)
        assert service.finish(job, TaskResult(rows=1)).current is S.CANCELLED
        assert last(uow, job) == ("cancel_done", "task stopped")


class TestRunnersLastWord:
    def test_finish_writes_rows_summary_output_and_end_and_frees_the_runner(
        self, service: Services, clock: FakeClock, alice: Actor
    ) -> None:
        job = running(service, alice)
        clock.advance(3)
        done = service.finish(job, TaskResult(rows=4, summary="four", output_loc="out.csv")).job
        assert (done.rows, done.result, done.output_loc, done.ended_at, done.runner_id) == (
            4, "four", "out.csv", clock.now(), None,
        )  # fmt: skip

    def test_fail_writes_the_error_and_the_end_and_frees_the_runner(
        self, service: Services, uow: FakeUnitOfWork, clock: FakeClock, alice: Actor
    ) -> None:
        job = running(service, alice)
        clock.advance(3)
        failed = service.fail(job, "it broke").job
        assert (failed.state, failed.error, failed.ended_at, failed.runner_id) == (
            S.FAILED, "it broke", clock.now(), None,
        )  # fmt: skip
        assert last(uow, job) == ("fail", "it broke")

    def test_release_hands_the_job_back_with_its_attempt_and_the_reason(
        self, service: Services, uow: FakeUnitOfWork, alice: Actor
    ) -> None:
        job = running(service, alice)
        back = service.release(job, "server shutting down").job
        assert (back.state, back.runner_id, back.attempts) == (S.SUBMITTED, None, 0)
        assert last(uow, job) == ("requeue", "server shutting down")

    def test_release_of_a_canceling_job_completes_the_cancel_with_the_reason(
        self, service: Services, uow: FakeUnitOfWork, alice: Actor
    ) -> None:
        job = running(service, alice)
        service.cancel(alice, job.id)
        assert service.release(job, "server shutting down").current is S.CANCELLED
        assert last(uow, job) == ("cancel_done", "server shutting down")

    def test_a_runner_that_loses_every_race_gives_up_naming_the_job_state_and_action(
        self, service: Services, uow: FakeUnitOfWork, alice: Actor
    ) -> None:
        job = running(service, alice)
        losing = _AlwaysLosing()  # every compare-and-set finds the job moved by someone else
        losing.rows, losing.history = uow.jobs.rows, uow.jobs.history
        uow.jobs = losing
        with pytest.raises(TransitionRefused) as refused:
            service.finish(job, TaskResult(rows=1))
        assert (refused.value.ref, refused.value.current, refused.value.action) == (job.id, S.EXECUTING, Action.FINISH)


class _AlwaysLosing(FakeJobRepository):
    def transition(self, move: Transition, now: datetime) -> Job | None:
        return None


class TestBulkCancel:
    def test_outcomes_carry_the_moved_jobs_and_each_is_observed_and_signalled_when_running(
        self, service: Services, uow: FakeUnitOfWork, clock: FakeClock, signal: FakeCancelSignal, seen: Seen,
        alice: Actor,
    ) -> None:  # fmt: skip
        job = running(service, alice)
        queued = service.submit(alice, SLEEP)
        seen.clear()
        clock.advance(2)
        outcomes = service.cancel_many(alice, JobFilter(), reason="clean-up")
        assert outcomes == [
            _outcome(uow, job.id, S.EXECUTING, S.CANCELING),
            _outcome(uow, queued.id, S.SUBMITTED, S.CANCELLED),
        ]
        assert [o.job.state_changed_at for o in outcomes] == [clock.now()] * 2
        assert seen == [(Action.CANCEL, Channel.CASJOBS)] * 2
        assert signal.jobs == [job.id]
        assert [last(uow, j) for j in (job, queued)] == [("cancel", "clean-up")] * 2

    def test_nothing_to_cancel_is_no_outcome(self, service: Services, seen: Seen, alice: Actor) -> None:
        assert service.cancel_many(alice, JobFilter()) == []
        assert seen == []


def _outcome(uow: FakeUnitOfWork, job_id: int, prior: JobState, current: JobState) -> Outcome:
    return Outcome(uow.jobs.rows[job_id], prior, current, changed=True)


class TestObserverAndSignal:
    def test_each_transition_is_observed_with_its_action_and_channel(
        self, service: Services, seen: Seen, alice: Actor
    ) -> None:
        job = running(service, alice)
        service.cancel(alice, job.id)
        service.cancel(alice, job.id)  # idempotent: nothing moved, nothing observed
        service.cancel_done(job)
        assert seen == [
            (Action.START, Channel.RUNNER),
            (Action.CANCEL, Channel.CASJOBS),
            (Action.CANCEL_DONE, Channel.RUNNER),
        ]


class TestReadsOnlyRead:
    def test_reading_requests_open_read_only_units_of_work(
        self, service: Services, uow: FakeUnitOfWork, alice: Actor
    ) -> None:
        job = service.submit(alice, SLEEP)
        service.add_user("carol", "pw", numbered={"wsid": 7})
        before = dict(uow.opened)
        service.get(alice, job.id)
        service.find(alice, job.key)
        service.list_jobs(alice)
        service.history(alice, job.id)
        service.states_of([job.id])
        service.user("carol")
        service.user_by_alias("wsid", "7")
        service.count_by_state()
        service.ready()
        service.finished_output(job.key, "sleep")
        service.sweep()
        assert uow.opened == {"read": before["read"] + 11, "write": before["write"]}


class TestUsers:
    def test_set_password_of_an_unknown_user_names_them(self, service: Services) -> None:
        with pytest.raises(InvalidRequest, match=r"^No user dave\.$"):
            service.set_password("dave", "pw")

    def test_set_password_replaces_the_hash(self, service: Services, uow: FakeUnitOfWork, hasher: FakeHasher) -> None:
        service.add_user("carol", "old")
        service.set_password("carol", "new")
        assert uow.users.rows["carol"] == User("carol", hasher.hash("new"))


class TestQuickJobs:
    def test_a_quick_job_runs_in_the_call_and_is_recorded_finished(
        self, service: Services, uow: FakeUnitOfWork, executor: FakeExecutor, alice: Actor, seen: Seen
    ) -> None:
        job, result = service.execute(alice, JobSpec("sql", {"q": 1}), timeout_s=3)
        assert result == executor.result
        assert executor.ran == [(job.id, 3)]
        assert (job.state, job.synchronous, job.rows, job.result, job.output_loc) == (
            S.FINISHED, True, 2, "two rows", "q.csv",
        )  # fmt: skip
        assert job.started_at is not None
        assert job.ended_at is not None
        assert [e.stage for e in uow.jobs.events(job.id)] == ["submit", "start", "finish"]
        assert seen == [(Action.START, Channel.RUNNER), (Action.FINISH, Channel.RUNNER)]

    def test_a_quick_job_without_a_timeout_gets_the_configured_one(
        self, service: Services, executor: FakeExecutor, alice: Actor
    ) -> None:
        job, _ = service.execute(alice, JobSpec("sql"))
        assert executor.ran == [(job.id, 30.0)]

    def test_a_failing_quick_job_is_recorded_failed_and_the_failure_goes_on_up(
        self, service: Services, uow: FakeUnitOfWork, executor: FakeExecutor, alice: Actor
    ) -> None:
        executor.failure = TaskFailed("syntax error")
        with pytest.raises(TaskFailed, match="syntax error"):
            service.execute(alice, JobSpec("sql"))
        [job] = uow.jobs.rows.values()
        assert (job.state, job.error, job.ended_at is not None, job.runner_id) == (S.FAILED, "syntax error", True, None)
        assert last(uow, job) == ("fail", "syntax error")

    def test_a_task_the_executor_does_not_know_is_refused_and_nothing_is_stored(
        self, service: Services, uow: FakeUnitOfWork, alice: Actor
    ) -> None:
        with pytest.raises(InvalidRequest):
            service.execute(alice, JobSpec("sleep"))
        assert uow.jobs.rows == {}

    def test_a_cancel_leaves_a_quick_job_alone(self, service: Services, uow: FakeUnitOfWork, alice: Actor) -> None:
        job = service.submit(alice, JobSpec("sql", synchronous=True))
        outcome = service.cancel(alice, job.id)
        assert (outcome.current, outcome.changed) == (S.SUBMITTED, False)
        assert service.cancel_many(alice, JobFilter()) == []


class TestFinishedOutput:
    def test_only_a_finished_job_of_that_task_gives_its_output(self, service: Services, alice: Actor) -> None:
        job = running(service, alice)
        assert service.finished_output(job.key, "sleep") is None
        service.finish(job, TaskResult(output_loc="out.csv"))
        assert service.finished_output(job.key, "sleep") == "out.csv"
        assert service.finished_output(job.key, "sql") is None
        assert service.finished_output("f" * 32, "sleep") is None


class TestSweep:
    def test_one_sweep_reports_every_job_it_moved(self, service: Services, clock: FakeClock, alice: Actor) -> None:
        first, second = running(service, alice), running(service, alice)
        stuck = running(service, alice)
        service.cancel(alice, stuck.id)
        for _ in range(16):  # only the stuck job's runner stays alive
            clock.advance(1)
            service.heartbeat("runner-1", [stuck.id])
        outcomes = service.sweep()
        assert [(o.job.id, o.current) for o in outcomes] == [
            (first.id, S.SUBMITTED), (second.id, S.SUBMITTED), (stuck.id, S.FAILED),
        ]  # fmt: skip

    def test_counts_by_state_come_from_the_store(self, service: Services, alice: Actor) -> None:
        running(service, alice)
        service.submit(alice, SLEEP)
        assert service.count_by_state() == dict.fromkeys(JobState, 0) | {S.EXECUTING: 1, S.SUBMITTED: 1}
        assert service.ready() is True


class TestAddUser:
    @pytest.mark.parametrize(("name", "password"), [("", "pw"), ("dave", ""), ("", "")])
    def test_a_user_needs_a_name_and_a_password(self, service: Services, name: str, password: str) -> None:
        with pytest.raises(InvalidRequest, match=r"^A user needs a name and a password\.$"):
            service.add_user(name, password)

    @pytest.mark.parametrize("wsid", [0, -1])
    def test_a_wsid_is_positive(self, service: Services, wsid: int) -> None:
        with pytest.raises(InvalidRequest, match=r"^A wsid is a positive number\.$"):
            service.add_user("dave", "pw", numbered={"wsid": wsid})

    def test_wsid_1_is_a_wsid(self, service: Services) -> None:
        service.add_user("dave", "pw", numbered={"wsid": 1})
        assert service.alias("dave", "wsid") == "1"

    def test_a_taken_name_or_wsid_is_named_in_the_conflict(self, service: Services) -> None:
        service.add_user("carol", "pw", numbered={"wsid": 7})
        with pytest.raises(Conflict, match=r"^User carol already exists\.$"):
            service.add_user("carol", "pw")
        with pytest.raises(Conflict, match=r"^wsid 7 is already taken\.$"):
            service.add_user("dave", "pw", numbered={"wsid": 7})


class TestNotFoundAndIgnored:
    def test_cancel_of_an_unknown_job_names_it(self, service: Services, alice: Actor) -> None:
        with pytest.raises(JobNotFound) as missing:
            service.cancel(alice, 42)
        assert missing.value.ref == 42

    def test_a_cancel_ignored_by_a_quick_job_answers_with_the_job(self, service: Services, alice: Actor) -> None:
        job = service.submit(alice, JobSpec("sql", synchronous=True))
        assert service.cancel(alice, job.id) == Outcome(job, S.SUBMITTED, S.SUBMITTED, changed=False)

    def test_a_task_that_cannot_run_quick_is_named(self, service: Services, alice: Actor) -> None:
        with pytest.raises(InvalidRequest, match=r"^Task 'sleep' cannot run synchronously here\.$"):
            service.execute(alice, JobSpec("sleep"))


class TestWatchdogOutcomes:
    def test_each_move_is_observed_and_reported_as_a_change(
        self, service: Services, clock: FakeClock, seen: Seen, alice: Actor
    ) -> None:
        job = running(service, alice)
        seen.clear()
        clock.advance(5.001)
        assert service.sweep() == [Outcome(service.get(alice, job.id), S.EXECUTING, S.SUBMITTED, changed=True)]
        assert seen == [(Action.REQUEUE, Channel.RUNNER)]

    def test_a_dead_runners_retried_job_fails_ended_and_freed(
        self, service: Services, clock: FakeClock, alice: Actor
    ) -> None:
        running(service, alice)
        clock.advance(5.001)
        service.sweep()
        service.claim_next("runner-2", {"sleep"})
        clock.advance(5.001)
        [outcome] = service.sweep()
        assert (outcome.current, outcome.job.ended_at, outcome.job.runner_id) == (S.FAILED, clock.now(), None)
        assert outcome.job.error == "runner runner-2 stopped responding; already retried once"


class TestRefusalsNameWhatTheyRefuse:
    def test_a_job_without_a_task_is_refused_saying_so(self, service: Services, alice: Actor) -> None:
        with pytest.raises(InvalidRequest, match=r"^A job needs a task\.$"):
            service.submit(alice, JobSpec(""))

    def test_another_users_job_names_the_job_and_the_actor(self, service: Services, alice: Actor, bob: Actor) -> None:
        job = service.submit(alice, SLEEP)
        for act in (service.get, service.cancel):
            with pytest.raises(NotOwner) as refused:
                act(bob, job.id)
            assert (refused.value.ref, refused.value.actor) == (job.id, "bob")

    def test_an_unknown_key_is_named(self, service: Services, alice: Actor) -> None:
        with pytest.raises(JobNotFound) as missing:
            service.get(alice, "f" * 32)
        assert missing.value.ref == "f" * 32

    @pytest.mark.parametrize("ref", ["ab", "F" * 32, "g" * 32, "a" * 31 + "-"])
    def test_a_reference_that_is_neither_an_id_nor_a_32_hex_key_finds_nothing(
        self, service: Services, alice: Actor, ref: str
    ) -> None:
        service.submit(alice, SLEEP)
        assert service.find(alice, ref) is None

    def test_a_refused_action_names_the_job_its_state_and_the_action(self, service: Services, alice: Actor) -> None:
        job = service.submit(alice, SLEEP)
        with pytest.raises(TransitionRefused) as refused:
            service.delete(alice, job.id)
        assert (refused.value.ref, refused.value.current, refused.value.action) == (job.id, S.SUBMITTED, Action.DELETE)

    def test_a_request_that_loses_every_race_gives_up_naming_the_job_state_and_action(
        self, service: Services, uow: FakeUnitOfWork, alice: Actor
    ) -> None:
        job = service.submit(alice, SLEEP)
        losing = _AlwaysLosing()
        losing.rows, losing.history = uow.jobs.rows, uow.jobs.history
        uow.jobs = losing
        with pytest.raises(TransitionRefused) as refused:
            service.suspend(alice, job.id)
        assert (refused.value.ref, refused.value.current, refused.value.action) == (job.id, S.SUBMITTED, Action.SUSPEND)

    def test_an_idempotent_request_answers_with_the_job(self, service: Services, alice: Actor) -> None:
        job = service.submit(alice, SLEEP)
        assert service.resume(alice, job.id) == Outcome(job, S.SUBMITTED, S.SUBMITTED, changed=False)


def test_an_executor_given_at_construction_runs_quick_jobs(
    uow: FakeUnitOfWork, clock: FakeClock, hasher: FakeHasher, executor: FakeExecutor, alice: Actor
) -> None:
    jobs = JobService(uow, clock, Transitions(uow, clock), Runtime(), executor=executor)
    job, _ = jobs.execute(alice, JobSpec("sql"))
    assert executor.ran == [(job.id, 60.0)]


def test_a_given_secret_keys_the_credential_cache(uow: FakeUnitOfWork, clock: FakeClock, hasher: FakeHasher) -> None:
    tokens = TokenService(uow, clock, {}, TokenPolicy())
    first, second = (Authenticator(uow, hasher, clock, tokens, AuthPolicy(), secret=b"shared") for _ in range(2))
    creds = Credentials("carol", "pw")
    assert first.cache.key(creds) == second.cache.key(creds)
