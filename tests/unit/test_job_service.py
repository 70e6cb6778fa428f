"""JobService on fakes: submit, ownership, cancel in every state, suspend/resume/delete, the runner's side."""

from collections.abc import Callable

import pytest

from jobgate.domain.errors import InvalidRequest, JobNotFound, NotOwner, TransitionRefused
from jobgate.domain.model import Actor, Channel, Job, JobFilter, JobSpec, TaskResult
from jobgate.domain.states import Action, JobState
from jobgate.services import JobService, RunnerService
from support.fakes import EPOCH, FakeCancelSignal, FakeClock, FakeSubmitSignal, FakeUnitOfWork

S = JobState
SLEEP = JobSpec("sleep", {"seconds": 5}, project="proj")
JobIn = Callable[..., Job]


@pytest.fixture
def job_in(jobs: JobService, runners: RunnerService, alice: Actor) -> JobIn:
    """A job of alice's brought into `state` by the same requests a client and a runner would make."""

    def make(state: JobState, spec: JobSpec = SLEEP) -> Job:
        job = jobs.submit(alice, spec)
        if state in (S.EXECUTING, S.CANCELING, S.FINISHED, S.FAILED):
            claimed = runners.claim_next("runner-1", {spec.task})
            assert claimed is not None
            assert claimed.id == job.id
            job = claimed
        if state is S.CANCELING or state is S.CANCELLED:
            job = jobs.cancel(alice, job.id).job
        elif state is S.FINISHED:
            job = runners.finish(job, TaskResult(rows=3, summary="done")).job
        elif state is S.FAILED:
            job = runners.fail(job, "it broke").job
        elif state is S.SUSPENDED:
            job = jobs.suspend(alice, job.id).job
        assert job.state is state
        return job

    return make


def history(uow: FakeUnitOfWork, job: Job) -> list[tuple[str, JobState | None, JobState]]:
    return [(e.stage, e.from_state, e.to_state) for e in uow.jobs.events(job.id)]


class TestSubmit:
    def test_submit_stores_a_submitted_job_with_a_random_key_and_one_event(
        self, jobs: JobService, uow: FakeUnitOfWork, alice: Actor
    ) -> None:
        job = jobs.submit(alice, SLEEP)
        assert (job.owner, job.task, job.project, job.state) == ("alice", "sleep", "proj", S.SUBMITTED)
        assert len(job.key) == 32
        assert int(job.key, 16) >= 0
        assert job.submitted_at == EPOCH
        [event] = uow.jobs.events(job.id)
        assert (event.seq, event.stage, event.from_state, event.to_state) == (1, "submit", None, S.SUBMITTED)
        assert (event.actor, event.protocol) == ("alice", Channel.CASJOBS)

    def test_a_queued_job_rings_the_submit_signal_once_it_is_stored(
        self, jobs: JobService, uow: FakeUnitOfWork, alice: Actor
    ) -> None:
        rung = FakeSubmitSignal()
        jobs.attach(submitted=rung)
        job = jobs.submit(alice, SLEEP)
        assert rung.jobs == [job.id]
        assert uow.jobs.get(job.id) is not None

    def test_a_synchronous_job_rings_no_runner(self, jobs: JobService, alice: Actor) -> None:
        rung = FakeSubmitSignal()
        jobs.attach(submitted=rung)
        jobs.submit(alice, JobSpec("sleep", {"seconds": 0}, synchronous=True))
        assert rung.jobs == []

    def test_two_jobs_get_different_ids_and_keys(self, jobs: JobService, alice: Actor) -> None:
        first, second = jobs.submit(alice, SLEEP), jobs.submit(alice, SLEEP)
        assert first.id != second.id
        assert first.key != second.key

    def test_a_job_without_a_task_is_refused_and_nothing_is_stored(
        self, jobs: JobService, uow: FakeUnitOfWork, alice: Actor
    ) -> None:
        with pytest.raises(InvalidRequest):
            jobs.submit(alice, JobSpec(""))
        assert uow.jobs.rows == {}


class TestReadingAndOwnership:
    def test_owner_gets_the_job_by_id_and_by_key(self, jobs: JobService, alice: Actor) -> None:
        job = jobs.submit(alice, SLEEP)
        assert jobs.get(alice, job.id) == job
        assert jobs.get(alice, job.key) == job
        assert jobs.find(alice, job.key) == job

    def test_admin_reads_any_users_job(self, jobs: JobService, alice: Actor, admin: Actor) -> None:
        job = jobs.submit(alice, SLEEP)
        assert jobs.get(admin, job.id).owner == "alice"
        assert jobs.history(admin, job.id)[0] == job

    def test_another_user_may_not_read_the_job(self, jobs: JobService, alice: Actor, bob: Actor) -> None:
        job = jobs.submit(alice, SLEEP)
        for read in (jobs.get, jobs.find, jobs.history):
            with pytest.raises(NotOwner):
                read(bob, job.id)

    @pytest.mark.parametrize("ref", [424242, "0" * 32, "not-a-key", "ABCDEF" * 6])
    def test_unknown_job_is_not_found(self, jobs: JobService, alice: Actor, ref: int | str) -> None:
        with pytest.raises(JobNotFound):
            jobs.get(alice, ref)
        assert jobs.find(alice, ref) is None

    def test_list_of_a_user_shows_only_their_own_jobs(
        self, jobs: JobService, alice: Actor, bob: Actor, admin: Actor
    ) -> None:
        mine = jobs.submit(alice, SLEEP)
        theirs = jobs.submit(bob, SLEEP)
        assert jobs.list_jobs(alice) == [mine]
        assert jobs.list_jobs(alice, JobFilter(owner="bob")) == [mine]  # the filter cannot widen the view
        assert jobs.list_jobs(bob) == [theirs]
        assert jobs.list_jobs(admin) == [mine, theirs]
        assert jobs.list_jobs(admin, JobFilter(owner="bob")) == [theirs]

    def test_list_filters_by_state(self, jobs: JobService, alice: Actor, job_in: JobIn) -> None:
        running = job_in(S.EXECUTING)
        job_in(S.SUBMITTED)
        assert jobs.list_jobs(alice, JobFilter(states=frozenset({S.EXECUTING}))) == [running]


class TestCancel:
    def test_cancel_of_submitted_job_cancels_it_at_once(
        self, jobs: JobService, uow: FakeUnitOfWork, signal: FakeCancelSignal, alice: Actor, job_in: JobIn
    ) -> None:
        job = job_in(S.SUBMITTED)
        outcome = jobs.cancel(alice, job.id, reason="no longer needed")
        assert (outcome.prior, outcome.current, outcome.changed) == (S.SUBMITTED, S.CANCELLED, True)
        last = uow.jobs.events(job.id)[-1]
        assert (last.stage, last.from_state, last.to_state) == ("cancel", S.SUBMITTED, S.CANCELLED)
        assert (last.actor, last.protocol, last.reason) == ("alice", Channel.CASJOBS, "no longer needed")
        assert signal.jobs == []  # nothing runs, so no runner needs telling

    def test_cancel_of_executing_job_asks_its_runner_to_stop(
        self, jobs: JobService, uow: FakeUnitOfWork, signal: FakeCancelSignal, alice: Actor, job_in: JobIn
    ) -> None:
        job = job_in(S.EXECUTING)
        outcome = jobs.cancel(alice, job.id)
        assert (outcome.prior, outcome.current, outcome.changed) == (S.EXECUTING, S.CANCELING, True)
        assert history(uow, job)[-1] == ("cancel", S.EXECUTING, S.CANCELING)
        assert signal.jobs == [job.id]

    def test_cancel_of_canceling_job_is_idempotent_and_writes_no_event(
        self, jobs: JobService, uow: FakeUnitOfWork, signal: FakeCancelSignal, alice: Actor, job_in: JobIn
    ) -> None:
        job = job_in(S.CANCELING)
        before, signalled = uow.jobs.events(job.id), list(signal.jobs)
        outcome = jobs.cancel(alice, job.id)
        assert (outcome.prior, outcome.current, outcome.changed) == (S.CANCELING, S.CANCELING, False)
        assert uow.jobs.events(job.id) == before
        assert signal.jobs == signalled

    @pytest.mark.parametrize("state", [S.FINISHED, S.CANCELLED, S.FAILED])
    def test_cancel_of_terminal_job_is_refused_and_changes_nothing(
        self, jobs: JobService, uow: FakeUnitOfWork, alice: Actor, job_in: JobIn, state: JobState
    ) -> None:
        job = job_in(state)
        before, row = uow.jobs.events(job.id), uow.jobs.rows[job.id]
        with pytest.raises(TransitionRefused) as refused:
            jobs.cancel(alice, job.id)
        assert refused.value.current is state
        assert refused.value.action is Action.CANCEL
        assert uow.jobs.events(job.id) == before
        assert uow.jobs.rows[job.id] == row

    def test_cancel_of_suspended_job_cancels_it(
        self, jobs: JobService, uow: FakeUnitOfWork, alice: Actor, job_in: JobIn
    ) -> None:
        job = job_in(S.SUSPENDED)
        outcome = jobs.cancel(alice, job.id)
        assert (outcome.prior, outcome.current, outcome.changed) == (S.SUSPENDED, S.CANCELLED, True)
        assert history(uow, job)[-1] == ("cancel", S.SUSPENDED, S.CANCELLED)

    def test_cancel_only_from_given_states_refuses_any_other_and_changes_nothing(
        self, jobs: JobService, uow: FakeUnitOfWork, alice: Actor, job_in: JobIn
    ) -> None:
        job = job_in(S.SUSPENDED)
        before = uow.jobs.events(job.id)
        with pytest.raises(TransitionRefused) as refused:
            jobs.cancel(alice, job.id, only_from=frozenset({S.SUBMITTED, S.EXECUTING, S.CANCELING}))
        assert (refused.value.current, refused.value.action) == (S.SUSPENDED, Action.CANCEL)
        assert uow.jobs.events(job.id) == before
        assert uow.jobs.rows[job.id].state is S.SUSPENDED

    def test_cancel_only_from_a_listed_state_cancels_as_usual(
        self, jobs: JobService, alice: Actor, job_in: JobIn
    ) -> None:
        job = job_in(S.EXECUTING)
        outcome = jobs.cancel(alice, job.id, only_from=frozenset({S.EXECUTING}))
        assert (outcome.prior, outcome.current, outcome.changed) == (S.EXECUTING, S.CANCELING, True)

    def test_cancel_of_synchronous_job_leaves_it_unchanged(
        self, jobs: JobService, uow: FakeUnitOfWork, alice: Actor
    ) -> None:
        job = jobs.submit(alice, JobSpec("sleep", {"seconds": 1}, synchronous=True))
        job = uow.jobs.force(job.id, state=S.EXECUTING)  # it runs inside its own request
        outcome = jobs.cancel(alice, job.id)
        assert (outcome.prior, outcome.current, outcome.changed) == (S.EXECUTING, S.EXECUTING, False)
        assert len(uow.jobs.events(job.id)) == 1

    def test_cancel_by_another_user_is_denied_and_writes_no_event(
        self, jobs: JobService, uow: FakeUnitOfWork, bob: Actor, job_in: JobIn
    ) -> None:
        job = job_in(S.EXECUTING)
        before = uow.jobs.events(job.id)
        with pytest.raises(NotOwner):
            jobs.cancel(bob, job.id)
        assert uow.jobs.events(job.id) == before
        assert uow.jobs.rows[job.id].state is S.EXECUTING

    def test_admin_may_cancel_any_users_job(self, jobs: JobService, admin: Actor, job_in: JobIn) -> None:
        job = job_in(S.EXECUTING)
        assert jobs.cancel(admin, job.key).current is S.CANCELING

    def test_cancel_of_unknown_job_is_not_found(self, jobs: JobService, alice: Actor) -> None:
        with pytest.raises(JobNotFound):
            jobs.cancel(alice, 99)

    def test_cancel_many_cancels_every_live_job_of_the_actor_and_skips_the_rest(
        self, jobs: JobService, alice: Actor, bob: Actor, job_in: JobIn
    ) -> None:
        running, done, queued = job_in(S.EXECUTING), job_in(S.FINISHED), job_in(S.SUBMITTED)
        others = jobs.submit(bob, SLEEP)
        outcomes = jobs.cancel_many(alice, JobFilter())
        assert {(o.job.id, o.current) for o in outcomes} == {
            (queued.id, S.CANCELLED),
            (running.id, S.CANCELING),
        }
        assert jobs.get(alice, done.id).state is S.FINISHED
        assert jobs.get(bob, others.id).state is S.SUBMITTED


class TestTryCancel:
    """The cancel that answers yes or no (Birst's cancelJob): an Outcome when accepted, None for the rest."""

    @pytest.mark.parametrize(
        ("state", "after", "changed"),
        [(S.SUBMITTED, S.CANCELLED, True), (S.EXECUTING, S.CANCELING, True), (S.SUSPENDED, S.CANCELLED, True),
         (S.CANCELING, S.CANCELING, False)],
    )  # fmt: skip
    def test_a_live_job_is_accepted(
        self, jobs: JobService, alice: Actor, job_in: JobIn, state: JobState, after: JobState, changed: bool
    ) -> None:
        job = job_in(state)
        outcome = jobs.try_cancel(alice, job.key, project="proj")
        assert outcome is not None
        assert (outcome.current, outcome.changed) == (after, changed)

    @pytest.mark.parametrize("state", [S.FINISHED, S.CANCELLED, S.FAILED])
    def test_a_final_job_is_no_and_changes_nothing(
        self, jobs: JobService, uow: FakeUnitOfWork, alice: Actor, job_in: JobIn, state: JobState
    ) -> None:
        job = job_in(state)
        before, row = uow.jobs.events(job.id), uow.jobs.rows[job.id]
        assert jobs.try_cancel(alice, job.key) is None
        assert (uow.jobs.events(job.id), uow.jobs.rows[job.id]) == (before, row)

    @pytest.mark.parametrize("who", ["bob", "alice-other-project", "unknown"])
    def test_another_users_job_another_project_or_no_job_is_no_and_changes_nothing(
        self, jobs: JobService, uow: FakeUnitOfWork, alice: Actor, bob: Actor, job_in: JobIn, who: str
    ) -> None:
        job = job_in(S.EXECUTING)
        before = uow.jobs.events(job.id)
        if who == "bob":
            assert jobs.try_cancel(bob, job.key) is None
        elif who == "unknown":
            assert jobs.try_cancel(alice, "f" * 32) is None
        else:
            assert jobs.try_cancel(alice, job.key, project="other") is None
        assert uow.jobs.events(job.id) == before
        assert uow.jobs.rows[job.id].state is S.EXECUTING

    def test_admin_is_accepted_for_any_users_job(self, jobs: JobService, admin: Actor, job_in: JobIn) -> None:
        outcome = jobs.try_cancel(admin, job_in(S.EXECUTING).key)
        assert outcome is not None
        assert outcome.current is S.CANCELING


class TestSuspendResumeDelete:
    def test_suspend_holds_a_submitted_job_and_resume_releases_it(
        self, jobs: JobService, runners: RunnerService, uow: FakeUnitOfWork, alice: Actor, job_in: JobIn
    ) -> None:
        job = job_in(S.SUBMITTED)
        assert jobs.suspend(alice, job.id).current is S.SUSPENDED
        assert runners.claim_next("runner-1", {"sleep"}) is None  # a held job is not picked up
        assert jobs.resume(alice, job.id).current is S.SUBMITTED
        assert [h[0] for h in history(uow, job)] == ["submit", "suspend", "resume"]

    def test_suspend_of_executing_job_is_refused(self, jobs: JobService, alice: Actor, job_in: JobIn) -> None:
        job = job_in(S.EXECUTING)
        with pytest.raises(TransitionRefused) as refused:
            jobs.suspend(alice, job.id)
        assert refused.value.current is S.EXECUTING

    def test_resume_of_submitted_job_is_idempotent(
        self, jobs: JobService, uow: FakeUnitOfWork, alice: Actor, job_in: JobIn
    ) -> None:
        job = job_in(S.SUBMITTED)
        outcome = jobs.resume(alice, job.id)
        assert (outcome.current, outcome.changed) == (S.SUBMITTED, False)
        assert len(uow.jobs.events(job.id)) == 1

    def test_suspend_by_another_user_is_denied(self, jobs: JobService, bob: Actor, job_in: JobIn) -> None:
        job = job_in(S.SUBMITTED)
        with pytest.raises(NotOwner):
            jobs.suspend(bob, job.id)

    @pytest.mark.parametrize("state", [S.FINISHED, S.CANCELLED, S.FAILED])
    def test_delete_hides_a_terminal_job_but_keeps_its_history(
        self, jobs: JobService, uow: FakeUnitOfWork, alice: Actor, job_in: JobIn, state: JobState
    ) -> None:
        job = job_in(state)
        before = uow.jobs.events(job.id)
        outcome = jobs.delete(alice, job.id)
        assert (outcome.current, outcome.changed) == (state, True)
        with pytest.raises(JobNotFound):
            jobs.get(alice, job.id)
        assert jobs.list_jobs(alice) == []
        events = uow.jobs.events(job.id)
        assert events[:-1] == before
        assert (events[-1].stage, events[-1].from_state, events[-1].to_state) == ("delete", state, state)

    @pytest.mark.parametrize("state", [S.SUBMITTED, S.EXECUTING, S.CANCELING, S.SUSPENDED])
    def test_delete_of_a_live_job_is_refused(
        self, jobs: JobService, alice: Actor, job_in: JobIn, state: JobState
    ) -> None:
        job = job_in(state)
        with pytest.raises(TransitionRefused):
            jobs.delete(alice, job.id)
        assert jobs.get(alice, job.id).state is state


class TestReject:
    def test_reject_of_a_finished_job_records_its_reason_and_keeps_it_finished(
        self, jobs: JobService, uow: FakeUnitOfWork, alice: Actor, job_in: JobIn
    ) -> None:
        job = job_in(S.FINISHED)
        before = uow.jobs.events(job.id)
        outcome = jobs.reject(alice, job.id, "wrong glossary")
        assert (outcome.prior, outcome.current, outcome.changed) == (S.FINISHED, S.FINISHED, True)
        events = uow.jobs.events(job.id)
        assert events[:-1] == before
        assert (events[-1].stage, events[-1].to_state, events[-1].reason) == ("reject", S.FINISHED, "wrong glossary")
        assert jobs.get(alice, job.id).state is S.FINISHED

    @pytest.mark.parametrize("state", [s for s in JobState if s is not S.FINISHED])
    def test_reject_of_a_job_without_a_result_is_refused_and_writes_nothing(
        self, jobs: JobService, uow: FakeUnitOfWork, alice: Actor, job_in: JobIn, state: JobState
    ) -> None:
        job = job_in(state)
        before = uow.jobs.events(job.id)
        with pytest.raises(TransitionRefused):
            jobs.reject(alice, job.id, "no")
        assert uow.jobs.events(job.id) == before

    def test_reject_of_another_users_job_is_refused(self, jobs: JobService, alice: Actor, job_in: JobIn) -> None:
        job = job_in(S.FINISHED)
        with pytest.raises(NotOwner):
            jobs.reject(Actor("mallory", Channel.TRANSWS), job.id, "mine now")


class TestRunnerSide:
    def test_claim_moves_the_oldest_submitted_job_of_a_known_task_to_executing(
        self, jobs: JobService, runners: RunnerService, alice: Actor, clock: FakeClock
    ) -> None:
        other = jobs.submit(alice, JobSpec("unknown-task"))
        first, second = jobs.submit(alice, SLEEP), jobs.submit(alice, SLEEP)
        claimed = runners.claim_next("runner-1", {"sleep"})
        assert claimed is not None
        assert (claimed.id, claimed.state, claimed.runner_id, claimed.attempts) == (
            first.id, S.EXECUTING, "runner-1", 1,
        )  # fmt: skip
        assert claimed.started_at == clock.now()
        assert jobs.get(alice, second.id).state is S.SUBMITTED
        assert jobs.get(alice, other.id).state is S.SUBMITTED

    def test_finish_records_the_result(self, jobs: JobService, alice: Actor, job_in: JobIn) -> None:
        job = job_in(S.FINISHED)
        stored = jobs.get(alice, job.id)
        assert (stored.rows, stored.result, stored.runner_id) == (3, "done", None)
        assert stored.ended_at is not None

    def test_fail_records_the_error(self, jobs: JobService, uow: FakeUnitOfWork, job_in: JobIn) -> None:
        job = job_in(S.FAILED)
        assert job.error == "it broke"
        assert uow.jobs.events(job.id)[-1].reason == "it broke"

    @pytest.mark.parametrize("end", ["finish", "fail"])
    def test_a_task_that_ends_after_a_cancel_won_leaves_the_job_cancelled(
        self, jobs: JobService, runners: RunnerService, uow: FakeUnitOfWork, alice: Actor, job_in: JobIn, end: str
    ) -> None:
        job = job_in(S.EXECUTING)
        jobs.cancel(alice, job.id)
        outcome = runners.finish(job, TaskResult(rows=1)) if end == "finish" else runners.fail(job, "interrupted")
        assert (outcome.prior, outcome.current) == (S.CANCELING, S.CANCELLED)
        assert history(uow, job)[-2:] == [
            ("cancel", S.EXECUTING, S.CANCELING),
            ("cancel_done", S.CANCELING, S.CANCELLED),
        ]

    def test_cancel_done_completes_a_pending_cancel(
        self, jobs: JobService, runners: RunnerService, uow: FakeUnitOfWork, job_in: JobIn
    ) -> None:
        job = job_in(S.CANCELING)
        outcome = runners.cancel_done(job)
        assert (outcome.current, outcome.job.runner_id) == (S.CANCELLED, None)
        event = uow.jobs.events(job.id)[-1]
        assert (event.actor, event.protocol) == ("system", Channel.RUNNER)

    def test_release_on_shutdown_requeues_without_using_up_the_retry(
        self, jobs: JobService, runners: RunnerService, job_in: JobIn
    ) -> None:
        job = job_in(S.EXECUTING)
        released = runners.release(job, "server shutting down")
        assert (released.current, released.job.attempts, released.job.runner_id) == (S.SUBMITTED, 0, None)
        reclaimed = runners.claim_next("runner-2", {"sleep"})
        assert reclaimed is not None
        assert reclaimed.attempts == 1

    def test_release_of_a_canceling_job_completes_the_cancel(
        self, jobs: JobService, runners: RunnerService, job_in: JobIn
    ) -> None:
        job = job_in(S.CANCELING)
        assert runners.release(job, "server shutting down").current is S.CANCELLED

    def test_heartbeat_only_touches_jobs_the_runner_holds(
        self, jobs: JobService, runners: RunnerService, uow: FakeUnitOfWork, clock: FakeClock, job_in: JobIn
    ) -> None:
        job = job_in(S.EXECUTING)
        clock.advance(3)
        runners.heartbeat("someone-else", [job.id])
        assert uow.jobs.rows[job.id].heartbeat_at == job.heartbeat_at
        runners.heartbeat("runner-1", [job.id])
        assert uow.jobs.rows[job.id].heartbeat_at == clock.now()
