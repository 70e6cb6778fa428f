"""JobRepository: what the service layer may count on, on the fake, SQLite and PostgreSQL alike.
Adding, reading, listing, the compare-and-set (one job and many) and the history it writes."""

from dataclasses import replace
from datetime import timedelta

import pytest

from jobgate.domain.model import Change, Channel, JobEvent, JobFilter, JobSpec
from jobgate.domain.states import Action, JobState
from support.store import SPEC, T0, Store, add, add_many, at, job_in, moved, transition

S, A = JobState, Action


def events(store: Store, job_id: int) -> list[JobEvent]:
    return store.read(lambda tx: tx.jobs.events(job_id))


class TestAdd:
    def test_a_new_job_is_submitted_at_version_1_with_what_the_spec_says(self, store: Store) -> None:
        job = store.run(lambda tx: tx.jobs.add(SPEC, "alice", "a" * 32, T0, "alice", Channel.CLI))
        assert (job.key, job.owner, job.project, job.task, job.name) == ("a" * 32, "alice", "p", "sleep", "n")
        assert dict(job.params) == {"seconds": 1.5, "tags": ["é", "b"], "nested": {"k": None}}
        assert (job.state, job.version, job.attempts, job.queue) == (S.SUBMITTED, 1, 0, "default")
        assert (job.submitted_at, job.state_changed_at) == (T0, T0)
        assert (job.started_at, job.ended_at, job.runner_id, job.heartbeat_at) == (None, None, None, None)
        assert (job.rows, job.result, job.error, job.output_loc) == (None, None, None, None)
        assert (job.synchronous, job.system) == (False, False)

    def test_queue_synchronous_and_system_are_kept(self, store: Store) -> None:
        job = add(store, JobSpec("sql", {}, queue="quick", synchronous=True, system=True))
        assert store.read(lambda tx: tx.jobs.get(job.id)) == job
        assert (job.queue, job.synchronous, job.system) == ("quick", True, True)

    def test_the_first_event_records_the_submission(self, store: Store) -> None:
        job = store.run(lambda tx: tx.jobs.add(SPEC, "alice", "b" * 32, T0, "carol", Channel.CASJOBS))
        assert events(store, job.id) == [
            JobEvent(job.id, 1, "submit", "ok", None, S.SUBMITTED, T0, "carol", Channel.CASJOBS, None)
        ]

    def test_each_job_gets_a_new_larger_id(self, store: Store) -> None:
        first, second = add(store), add(store)
        assert second.id > first.id


class TestGet:
    def test_a_job_reads_back_by_id_and_by_key_as_add_returned_it(self, store: Store) -> None:
        job = add(store)
        assert store.read(lambda tx: tx.jobs.get(job.id)) == job
        assert store.read(lambda tx: tx.jobs.get_by_key(job.key)) == job

    def test_an_unknown_id_or_key_is_none(self, store: Store) -> None:
        job = add(store)
        assert store.read(lambda tx: tx.jobs.get(job.id + 1)) is None
        assert store.read(lambda tx: tx.jobs.get_by_key("f" * 32)) is None

    def test_a_deleted_job_is_none_by_id_and_by_key(self, store: Store) -> None:
        job = job_in(store, S.CANCELLED)
        assert moved(store, transition(job, A.DELETE, Change(deleted=True))) is not None
        assert store.read(lambda tx: tx.jobs.get(job.id)) is None
        assert store.read(lambda tx: tx.jobs.get_by_key(job.key)) is None


class TestListJobs:
    def test_jobs_come_oldest_first_and_each_filter_narrows_them(self, store: Store) -> None:
        a1 = add(store, owner="alice")
        b1 = add(store, JobSpec("sleep", {}, project="q"), owner="bob")
        a2 = job_in(store, S.CANCELLED, owner="alice")
        sys = add(store, JobSpec("sleep", {}, system=True), owner="alice")

        def ids(where: JobFilter) -> list[int]:
            return [job.id for job in store.read(lambda tx: tx.jobs.list_jobs(where))]

        assert ids(JobFilter()) == [a1.id, b1.id, a2.id, sys.id]
        assert ids(JobFilter(owner="alice")) == [a1.id, a2.id, sys.id]
        assert ids(JobFilter(states=frozenset({S.CANCELLED, S.EXECUTING}))) == [a2.id]
        assert ids(JobFilter(project="q")) == [b1.id]
        assert ids(JobFilter(ids=frozenset({sys.id, a1.id, 10_000}))) == [a1.id, sys.id]
        assert ids(JobFilter(ids=frozenset())) == []
        assert ids(JobFilter(include_system=False)) == [a1.id, b1.id, a2.id]
        assert ids(JobFilter(limit=2)) == [a1.id, b1.id]
        assert ids(JobFilter(owner="alice", include_system=False, limit=1)) == [a1.id]

    def test_task_name_and_the_submission_window_narrow_them_and_offset_pages_them(self, store: Store) -> None:
        early = add(store, JobSpec("sleep", {}, name="nightly"), now=T0)
        other_task = add(store, JobSpec("sql", {}, name="nightly"), now=T0 + timedelta(seconds=1))
        unnamed = add(store, JobSpec("sleep", {}), now=T0 + timedelta(seconds=2))
        late = add(store, JobSpec("sleep", {}, name="nightly"), now=T0 + timedelta(seconds=3))

        def ids(where: JobFilter) -> list[int]:
            return [job.id for job in store.read(lambda tx: tx.jobs.list_jobs(where))]

        assert ids(JobFilter(task="sleep")) == [early.id, unnamed.id, late.id]
        assert ids(JobFilter(name="nightly")) == [early.id, other_task.id, late.id]
        assert ids(JobFilter(name="")) == [unnamed.id]
        assert ids(JobFilter(task="sleep", name="nightly")) == [early.id, late.id]
        window = JobFilter(submitted_from=T0 + timedelta(seconds=1), submitted_until=T0 + timedelta(seconds=2))
        assert ids(window) == [other_task.id, unnamed.id]  # both ends included
        assert ids(JobFilter(submitted_from=T0 + timedelta(milliseconds=2001))) == [late.id]
        assert ids(JobFilter(submitted_until=T0 + timedelta(milliseconds=999))) == [early.id]
        assert ids(JobFilter(offset=1, limit=2)) == [other_task.id, unnamed.id]
        assert ids(JobFilter(offset=3)) == [late.id]
        assert ids(JobFilter(task="sleep", offset=1, limit=1)) == [unnamed.id]
        assert ids(JobFilter(offset=4)) == []

    def test_count_is_what_the_filter_selects_before_offset_and_limit(self, store: Store) -> None:
        a1, _, gone = add(store, owner="alice"), add(store, owner="bob"), job_in(store, S.CANCELLED, owner="alice")
        add(store, JobSpec("sql", {}), owner="alice")
        moved(store, transition(gone, A.DELETE, Change(deleted=True)))

        def count(where: JobFilter) -> int:
            return store.read(lambda tx: tx.jobs.count_jobs(where))

        assert count(JobFilter()) == 3  # the deleted job is not counted
        assert count(JobFilter(owner="alice")) == 2
        assert count(JobFilter(owner="alice", task="sleep", offset=1, limit=0)) == 1
        assert count(JobFilter(ids=frozenset({a1.id, gone.id}))) == 1
        assert count(JobFilter(states=frozenset({S.EXECUTING}))) == 0

    def test_jobs_come_oldest_first_also_after_the_older_one_changed(self, store: Store) -> None:
        first, second = add(store), add(store)
        moved(store, transition(first, A.SUSPEND))  # PostgreSQL writes the new row version at the end
        assert [j.id for j in store.read(lambda tx: tx.jobs.list_jobs(JobFilter()))] == [first.id, second.id]

    def test_listed_jobs_equal_what_get_returns(self, store: Store) -> None:
        job = job_in(store, S.EXECUTING)
        assert store.read(lambda tx: tx.jobs.list_jobs(JobFilter())) == [store.read(lambda tx: tx.jobs.get(job.id))]

    def test_deleted_jobs_are_not_listed(self, store: Store) -> None:
        gone, kept = job_in(store, S.CANCELLED), add(store)
        moved(store, transition(gone, A.DELETE, Change(deleted=True)))
        assert [j.id for j in store.read(lambda tx: tx.jobs.list_jobs(JobFilter()))] == [kept.id]


class TestTransition:
    def test_it_moves_the_job_from_the_expected_state_and_returns_it_one_version_on(self, store: Store) -> None:
        job = add(store)
        after = moved(store, transition(job, A.SUSPEND), at(5))
        assert after is not None
        assert (after.state, after.version, after.state_changed_at) == (S.SUSPENDED, 2, at(5))
        assert after == store.read(lambda tx: tx.jobs.get(job.id))
        assert (after.submitted_at, after.started_at, after.ended_at) == (T0, None, None)

    def test_it_appends_one_event_numbered_by_the_new_version(self, store: Store) -> None:
        job = job_in(store, S.EXECUTING)
        moved(store, transition(job, A.CANCEL, actor="bob", protocol=Channel.CISCO, reason="stop", status="w"), at(7))
        last = events(store, job.id)[-1]
        assert last == JobEvent(job.id, 3, "cancel", "w", S.EXECUTING, S.CANCELING, at(7), "bob", Channel.CISCO, "stop")
        assert [e.seq for e in events(store, job.id)] == [1, 2, 3]

    def test_from_any_other_state_it_moves_nothing_writes_no_event_and_returns_none(self, store: Store) -> None:
        job = job_in(store, S.FINISHED)
        stale = transition(job, A.CANCEL, expected=S.EXECUTING)  # what a request that read it Executing asks
        assert moved(store, stale, at(9)) is None
        assert store.read(lambda tx: tx.jobs.get(job.id)) == job
        assert len(events(store, job.id)) == 3

    def test_a_deleted_job_does_not_move(self, store: Store) -> None:
        job = job_in(store, S.CANCELLED)
        moved(store, transition(job, A.DELETE, Change(deleted=True)))
        assert moved(store, transition(job, A.DELETE, Change(deleted=True))) is None
        assert [e.stage for e in events(store, job.id)] == ["submit", "cancel", "delete"]

    def test_a_delete_keeps_the_state_writes_a_delete_event_and_hides_the_job(self, store: Store) -> None:
        job = job_in(store, S.FAILED)
        after = moved(store, transition(job, A.DELETE, Change(deleted=True), reason="tidy"), at(3))
        assert after is not None
        assert (after.state, after.version) == (S.FAILED, job.version + 1)
        last = events(store, job.id)[-1]
        assert (last.stage, last.from_state, last.to_state, last.reason) == ("delete", S.FAILED, S.FAILED, "tidy")

    def test_the_change_writes_results_and_end_time_and_clears_the_runner(self, store: Store) -> None:
        job = job_in(store, S.EXECUTING)
        change = Change(rows=42, result="done", output_loc="out.csv", ended=True, clear_runner=True)
        after = moved(store, transition(job, A.FINISH, change), at(8))
        assert after is not None
        assert (after.rows, after.result, after.output_loc, after.error) == (42, "done", "out.csv", None)
        assert (after.ended_at, after.runner_id, after.started_at) == (at(8), None, T0)
        assert after.heartbeat_at == T0  # the last beat stays as it was

    def test_the_change_writes_an_error(self, store: Store) -> None:
        job = job_in(store, S.EXECUTING)
        after = moved(store, transition(job, A.FAIL, Change(error="boom")), at(8))
        assert after is not None
        assert (after.error, after.ended_at, after.runner_id) == ("boom", None, "runner-1")

    def test_the_change_sets_the_runner_and_the_start_time(self, store: Store) -> None:
        job = add(store)
        after = moved(store, transition(job, A.START, Change(runner_id="r9", started=True)), at(4))
        assert after is not None
        assert (after.state, after.runner_id, after.started_at, after.attempts) == (S.EXECUTING, "r9", at(4), 0)

    def test_a_released_attempt_gives_back_the_claims_attempt(self, store: Store) -> None:
        job = job_in(store, S.EXECUTING)
        change = Change(clear_runner=True, release_attempt=True)
        after = moved(store, transition(job, A.REQUEUE, change), at(2))
        assert after is not None
        assert (after.state, after.attempts, after.runner_id) == (S.SUBMITTED, 0, None)

    def test_a_requeue_without_release_keeps_the_attempt(self, store: Store) -> None:
        job = job_in(store, S.EXECUTING)
        after = moved(store, transition(job, A.REQUEUE, Change(clear_runner=True)), at(2))
        assert after is not None
        assert (after.state, after.attempts) == (S.SUBMITTED, 1)


class TestTransitionAll:
    def test_every_job_still_in_its_expected_state_moves_with_one_event_each(self, store: Store) -> None:
        queued, running = job_in(store, S.SUBMITTED), job_in(store, S.EXECUTING)
        moves = [transition(job, A.CANCEL, actor="bob", reason="all") for job in (queued, running)]
        assert store.run(lambda tx: tx.jobs.transition_all(moves, at(6))) == {queued.id, running.id}
        after = {job.id: store.read(lambda tx, j=job: tx.jobs.get(j.id)) for job in (queued, running)}
        assert {i: (j.state, j.version, j.state_changed_at) for i, j in after.items() if j} == {
            queued.id: (S.CANCELLED, 2, at(6)),
            running.id: (S.CANCELING, 3, at(6)),
        }
        assert events(store, queued.id)[-1] == JobEvent(
            queued.id, 2, "cancel", "ok", S.SUBMITTED, S.CANCELLED, at(6), "bob", Channel.CLI, "all"
        )
        assert events(store, running.id)[-1] == JobEvent(
            running.id, 3, "cancel", "ok", S.EXECUTING, S.CANCELING, at(6), "bob", Channel.CLI, "all"
        )

    def test_a_job_no_longer_in_the_expected_state_is_left_out_untouched(self, store: Store) -> None:
        done, queued = job_in(store, S.FINISHED), add(store)
        moves = [transition(done, A.CANCEL, expected=S.EXECUTING), transition(queued, A.CANCEL)]
        assert store.run(lambda tx: tx.jobs.transition_all(moves, at(6))) == {queued.id}
        assert store.read(lambda tx: tx.jobs.get(done.id)) == done
        assert [e.stage for e in events(store, done.id)] == ["submit", "start", "finish"]

    def test_the_change_applies_to_every_job_moved(self, store: Store) -> None:
        jobs = [job_in(store, S.EXECUTING) for _ in range(2)]
        change = Change(error="stopped", ended=True, clear_runner=True)
        moves = [transition(job, A.FAIL, change) for job in jobs]
        store.run(lambda tx: tx.jobs.transition_all(moves, at(3)))
        for job in jobs:
            after = store.read(lambda tx, j=job: tx.jobs.get(j.id))
            assert after is not None
            assert (after.state, after.error, after.ended_at, after.runner_id) == (S.FAILED, "stopped", at(3), None)

    def test_a_released_attempt_is_given_back_to_each_job(self, store: Store) -> None:
        jobs = [job_in(store, S.EXECUTING) for _ in range(2)]
        change = Change(clear_runner=True, release_attempt=True)
        store.run(lambda tx: tx.jobs.transition_all([transition(j, A.REQUEUE, change) for j in jobs], at(3)))
        assert [store.read(lambda tx, j=j: tx.jobs.get(j.id)) for j in jobs] == [
            replace(j, state=S.SUBMITTED, runner_id=None, attempts=0, version=3, state_changed_at=at(3)) for j in jobs
        ]

    def test_more_jobs_than_two_batches_of_ids_all_move_once(self, store: Store) -> None:
        count = 4003  # the store sends at most 2,000 ids per statement
        jobs = add_many(store, count)
        moves = [transition(job, A.CANCEL) for job in jobs]
        assert store.run(lambda tx: tx.jobs.transition_all(moves, at(1))) == {job.id for job in jobs}
        counts = store.read(lambda tx: tx.jobs.count_by_state())
        assert (counts[S.CANCELLED], counts[S.SUBMITTED]) == (count, 0)
        assert [(e.seq, e.stage) for e in events(store, jobs[-1].id)][-1] == (2, "cancel")

    def test_a_deleted_job_is_left_out(self, store: Store) -> None:
        job = job_in(store, S.CANCELLED)
        moved(store, transition(job, A.DELETE, Change(deleted=True)))
        assert store.run(lambda tx: tx.jobs.transition_all([transition(job, A.DELETE)], at(1))) == set()

    def test_no_moves_move_nothing(self, store: Store) -> None:
        add(store)
        assert store.run(lambda tx: tx.jobs.transition_all([], at(1))) == set()


class TestEvents:
    def test_events_come_in_seq_order_and_chain_state_to_state(self, store: Store) -> None:
        job = job_in(store, S.CANCELING)
        assert [(e.seq, e.from_state, e.to_state) for e in events(store, job.id)] == [
            (1, None, S.SUBMITTED), (2, S.SUBMITTED, S.EXECUTING), (3, S.EXECUTING, S.CANCELING),
        ]  # fmt: skip

    def test_an_unknown_job_has_no_events(self, store: Store) -> None:
        assert events(store, add(store).id + 1) == []

    def test_events_of_many_jobs_are_each_job_s_events_in_one_read(self, store: Store) -> None:
        canceling, submitted, finished = job_in(store, S.CANCELING), add(store), job_in(store, S.FINISHED)
        asked = [finished.id, canceling.id, submitted.id, canceling.id, finished.id + 100]
        found = store.read(lambda tx: tx.jobs.events_of(asked))
        assert found == {job.id: events(store, job.id) for job in (canceling, submitted, finished)}
        assert [e.seq for e in found[canceling.id]] == [1, 2, 3]
        assert store.read(lambda tx: tx.jobs.events_of([])) == {}


class TestStatesAndCounts:
    def test_states_of_names_the_state_of_each_known_id(self, store: Store) -> None:
        running, done = job_in(store, S.EXECUTING), job_in(store, S.FINISHED)
        found = store.read(lambda tx: tx.jobs.states_of([running.id, done.id, done.id + 100]))
        assert found == {running.id: S.EXECUTING, done.id: S.FINISHED}

    def test_states_of_nothing_is_empty(self, store: Store) -> None:
        add(store)
        assert store.read(lambda tx: tx.jobs.states_of([])) == {}

    def test_count_by_state_counts_every_state_zero_included(self, store: Store) -> None:
        for state in (S.SUBMITTED, S.SUBMITTED, S.EXECUTING, S.CANCELLED):
            job_in(store, state)
        counts = store.read(lambda tx: tx.jobs.count_by_state())
        assert counts == dict.fromkeys(JobState, 0) | {S.SUBMITTED: 2, S.EXECUTING: 1, S.CANCELLED: 1}


@pytest.mark.parametrize("state", list(JobState))
def test_a_job_in_each_state_reads_back_equal(store: Store, state: JobState) -> None:
    job = job_in(store, state)
    assert store.read(lambda tx: tx.jobs.get(job.id)) == job
    assert store.read(lambda tx: tx.jobs.states_of([job.id])) == {job.id: state}
