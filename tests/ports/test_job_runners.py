"""JobRepository, the runners' and the watchdog's side: claims, heartbeats, and the two queries the
watchdog acts on (stale heartbeats, cancels stuck past a time), on the fake, SQLite and PostgreSQL."""

from dataclasses import replace
from datetime import datetime

from jobgate.domain.model import Change, Channel, Job, JobEvent, JobSpec
from jobgate.domain.states import ACTIVE, Action, JobState
from support.store import SPEC, T0, Store, add, at, claim, job_in, moved, transition

S, A = JobState, Action


def get(store: Store, job_id: int) -> Job:
    job = store.read(lambda tx: tx.jobs.get(job_id))
    assert job is not None
    return job


def beat(store: Store, ids: list[int], runner: str, now: datetime) -> None:
    store.run(lambda tx: tx.jobs.heartbeat(ids, runner, now))


def ids(jobs: list[Job]) -> list[int]:
    return [job.id for job in jobs]


class TestClaimNext:
    def test_the_oldest_submitted_job_becomes_executing_for_the_runner(self, store: Store) -> None:
        first, _second = add(store), add(store)
        job = claim(store, "runner-7", at(3))
        assert job == get(store, first.id)
        assert (job.id, job.state, job.runner_id, job.attempts, job.version) == (
            first.id,
            S.EXECUTING,
            "runner-7",
            1,
            2,
        )
        assert (job.started_at, job.heartbeat_at, job.state_changed_at, job.submitted_at) == (at(3), at(3), at(3), T0)

    def test_a_claim_writes_the_start_event_as_the_system(self, store: Store) -> None:
        add(store)
        job = claim(store, "runner-7", at(3))
        start = store.read(lambda tx: tx.jobs.events(job.id))[-1]
        assert start == JobEvent(job.id, 2, "start", "ok", S.SUBMITTED, S.EXECUTING, at(3), "system", Channel.RUNNER)

    def test_a_second_claim_of_a_requeued_job_counts_the_attempt_in_its_reason(self, store: Store) -> None:
        job = job_in(store, S.EXECUTING)
        moved(store, transition(job, A.REQUEUE, Change(clear_runner=True)))
        again = claim(store, "runner-2", at(9), tasks=(job.task,))
        assert (again.id, again.attempts, again.runner_id) == (job.id, 2, "runner-2")
        assert store.read(lambda tx: tx.jobs.events(job.id))[-1].reason == "attempt 2"

    def test_only_asynchronous_submitted_live_jobs_of_a_listed_task_are_claimed(self, store: Store) -> None:
        add(store, JobSpec("sql", {}))  # a task this runner does not run
        add(store, replace(SPEC, synchronous=True))  # runs inside its request, never on a runner
        job_in(store, S.SUSPENDED)
        job_in(store, S.CANCELLED)
        gone = job_in(store, S.CANCELLED)
        moved(store, transition(gone, A.DELETE, Change(deleted=True)))
        assert store.run(lambda tx: tx.jobs.claim_next("runner-1", T0, ["sleep", "extract"])) is None
        wanted = add(store)
        assert claim(store, tasks=("sleep", "extract")).id == wanted.id

    def test_a_job_once_claimed_is_not_claimed_again(self, store: Store) -> None:
        add(store)
        claim(store, "runner-1")
        assert store.run(lambda tx: tx.jobs.claim_next("runner-2", T0, ["sleep"])) is None

    def test_claiming_from_an_empty_queue_or_for_no_task_is_none(self, store: Store) -> None:
        assert store.run(lambda tx: tx.jobs.claim_next("runner-1", T0, ["sleep"])) is None
        add(store)
        assert store.run(lambda tx: tx.jobs.claim_next("runner-1", T0, [])) is None


class TestHeartbeat:
    def test_it_refreshes_the_heartbeat_of_the_runners_own_jobs_and_nothing_else(self, store: Store) -> None:
        job = job_in(store, S.EXECUTING, runner="runner-1")
        beat(store, [job.id], "runner-1", at(4))
        assert get(store, job.id) == replace(job, heartbeat_at=at(4))  # no new version, no state change
        assert len(store.read(lambda tx: tx.jobs.events(job.id))) == 2

    def test_it_never_refreshes_a_job_another_runner_holds(self, store: Store) -> None:
        theirs = job_in(store, S.EXECUTING, runner="runner-2")
        mine = job_in(store, S.CANCELING, runner="runner-1")
        beat(store, [theirs.id, mine.id], "runner-1", at(4))
        assert get(store, theirs.id).heartbeat_at == T0
        assert get(store, mine.id).heartbeat_at == at(4)

    def test_it_never_refreshes_a_job_handed_back_to_the_queue(self, store: Store) -> None:
        job = job_in(store, S.EXECUTING, runner="runner-1")
        moved(store, transition(job, A.REQUEUE, Change(clear_runner=True)))
        beat(store, [job.id], "runner-1", at(4))
        assert get(store, job.id).heartbeat_at == T0

    def test_it_leaves_the_runners_jobs_that_are_not_listed_alone(self, store: Store) -> None:
        listed, unlisted = job_in(store, S.EXECUTING), job_in(store, S.EXECUTING)
        beat(store, [listed.id], "runner-1", at(4))
        assert (get(store, listed.id).heartbeat_at, get(store, unlisted.id).heartbeat_at) == (at(4), T0)


class TestStale:
    def test_jobs_held_with_a_heartbeat_older_than_the_cutoff_come_oldest_first(self, store: Store) -> None:
        canceling, running = job_in(store, S.CANCELING), job_in(store, S.EXECUTING)
        beat(store, [canceling.id], "runner-1", at(0.5))  # PostgreSQL writes the new row version last
        found = store.read(lambda tx: tx.jobs.stale(ACTIVE, at(1)))
        assert found == [get(store, canceling.id), get(store, running.id)]

    def test_a_heartbeat_at_or_after_the_cutoff_is_not_stale(self, store: Store) -> None:
        at_cutoff, after = job_in(store, S.EXECUTING), job_in(store, S.EXECUTING)
        beat(store, [at_cutoff.id], "runner-1", at(5))
        beat(store, [after.id], "runner-1", at(6))
        assert store.read(lambda tx: tx.jobs.stale(ACTIVE, at(5))) == []
        assert ids(store.read(lambda tx: tx.jobs.stale(ACTIVE, at(5.001)))) == [at_cutoff.id]

    def test_only_jobs_in_the_states_asked_for_are_stale(self, store: Store) -> None:
        running, canceling = job_in(store, S.EXECUTING), job_in(store, S.CANCELING)
        job_in(store, S.FINISHED)  # its heartbeat stays old once it ended
        assert ids(store.read(lambda tx: tx.jobs.stale([S.CANCELING], at(1)))) == [canceling.id]
        assert ids(store.read(lambda tx: tx.jobs.stale([S.EXECUTING], at(1)))) == [running.id]

    def test_a_synchronous_job_is_never_stale(self, store: Store) -> None:
        job = add(store, replace(SPEC, synchronous=True))
        moved(store, transition(job, A.START, Change(runner_id="r", started=True)))  # runs inside its request
        beat(store, [job.id], "r", T0)
        assert store.read(lambda tx: tx.jobs.stale(ACTIVE, at(100))) == []

    def test_jobs_without_a_heartbeat_are_never_stale(self, store: Store) -> None:
        add(store)
        started = add(store)
        moved(store, transition(started, A.START, Change(runner_id="r", started=True)))  # no claim, no beat
        assert store.read(lambda tx: tx.jobs.stale([S.SUBMITTED, S.EXECUTING], at(100))) == []


class TestStuck:
    def test_jobs_in_the_state_since_before_the_cutoff_are_stuck_oldest_first(self, store: Store) -> None:
        first, second = job_in(store, S.CANCELING, at(0)), job_in(store, S.CANCELING, at(0))
        beat(store, [first.id], "runner-1", at(1.5))  # PostgreSQL writes the new row version last
        found = store.read(lambda tx: tx.jobs.stuck(S.CANCELING, at(2)))
        assert found == [get(store, first.id), get(store, second.id)]

    def test_a_job_that_entered_the_state_at_or_after_the_cutoff_is_not_stuck(self, store: Store) -> None:
        early = job_in(store, S.CANCELING, at(0))
        job_in(store, S.CANCELING, at(2))
        job_in(store, S.CANCELING, at(3))
        assert ids(store.read(lambda tx: tx.jobs.stuck(S.CANCELING, at(2)))) == [early.id]
        assert store.read(lambda tx: tx.jobs.stuck(S.CANCELING, at(0))) == []

    def test_the_time_that_counts_is_when_the_state_changed_not_when_the_job_was_submitted(self, store: Store) -> None:
        job = job_in(store, S.EXECUTING, at(0))
        moved(store, transition(job, A.CANCEL), at(10))
        assert store.read(lambda tx: tx.jobs.stuck(S.CANCELING, at(10))) == []
        assert ids(store.read(lambda tx: tx.jobs.stuck(S.CANCELING, at(10.001)))) == [job.id]

    def test_jobs_in_other_states_are_not_stuck(self, store: Store) -> None:
        for state in (S.EXECUTING, S.SUBMITTED, S.CANCELLED, S.FAILED):
            job_in(store, state, at(0))
        assert store.read(lambda tx: tx.jobs.stuck(S.CANCELING, at(100))) == []


class TestHeartbeatGuard:
    """Transition.stale_before: the watchdog moves a job only while its heartbeat is still that old."""

    def test_a_job_whose_heartbeat_is_still_older_moves(self, store: Store) -> None:
        job = job_in(store, S.EXECUTING)
        guarded = replace(transition(job, A.REQUEUE, Change(clear_runner=True)), stale_before=at(5))
        assert moved(store, guarded, at(6)) is not None

    def test_a_job_that_beat_at_or_after_the_cutoff_does_not_move(self, store: Store) -> None:
        job = job_in(store, S.EXECUTING)
        beat(store, [job.id], "runner-1", at(5))
        guarded = replace(transition(job, A.REQUEUE, Change(clear_runner=True)), stale_before=at(5))
        assert moved(store, guarded, at(6)) is None
        assert store.run(lambda tx: tx.jobs.transition_all([guarded], at(6))) == set()
        assert get(store, job.id).state is S.EXECUTING

    def test_a_job_without_a_heartbeat_does_not_move(self, store: Store) -> None:
        job = add(store)
        guarded = replace(transition(job, A.CANCEL), stale_before=at(5))
        assert moved(store, guarded, at(6)) is None

    def test_the_guard_applies_to_each_job_of_a_bulk_move(self, store: Store) -> None:
        stale, fresh = job_in(store, S.EXECUTING), job_in(store, S.EXECUTING)
        beat(store, [fresh.id], "runner-1", at(5))
        guarded = [replace(transition(j, A.FAIL, Change(error="dead")), stale_before=at(5)) for j in (stale, fresh)]
        assert store.run(lambda tx: tx.jobs.transition_all(guarded, at(6))) == {stale.id}
