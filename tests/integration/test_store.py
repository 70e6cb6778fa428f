"""The SQL store behind the service layer: round trips, timestamps, history, constraints, deletion."""

from datetime import UTC, timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from jobgate.app import Components
from jobgate.domain.errors import BadCredentials, Conflict, JobNotFound, TransitionRefused
from jobgate.domain.model import (
    Actor,
    Channel,
    CredentialKind,
    Credentials,
    Job,
    JobFilter,
    JobSpec,
    TaskResult,
    Transition,
)
from jobgate.domain.states import Action, JobState
from jobgate.store import SqlUnitOfWorkFactory
from jobgate.store.tables import job_events, jobs
from support.factories import expired_token

S = JobState
SPEC = JobSpec("sleep", {"seconds": 1.5, "tags": ["a", "b"], "nested": {"k": None}}, project="proj", name="n1")


def assert_utc_millis(value: object) -> None:
    assert value is not None
    assert value.tzinfo is not None, f"{value!r} is naive"
    assert value.utcoffset() == timedelta(0)
    assert value.microsecond % 1000 == 0, f"{value!r} has more than millisecond precision"


def run_to_cancelled(parts: Components, actor: Actor, job: Job) -> None:
    claimed = parts.runners.claim_next("runner-1", {"sleep"})
    assert claimed is not None
    parts.jobs.cancel(actor, job.id, reason="stop it")
    parts.runners.cancel_done(claimed)


class TestRoundTrip:
    def test_a_submitted_job_reads_back_as_it_was_written(self, parts: Components, alice: Actor) -> None:
        job = parts.jobs.submit(alice, SPEC)
        for ref in (job.id, job.key):
            stored = parts.jobs.get(alice, ref)
            assert stored == job
        assert (job.owner, job.project, job.task, job.name, job.state) == ("alice", "proj", "sleep", "n1", S.SUBMITTED)
        assert dict(job.params) == {"seconds": 1.5, "tags": ["a", "b"], "nested": {"k": None}}
        assert (job.attempts, job.runner_id, job.started_at, job.ended_at) == (0, None, None, None)

    def test_list_returns_the_owners_jobs_oldest_first_and_filters_by_state(
        self, parts: Components, alice: Actor, bob: Actor, admin: Actor
    ) -> None:
        first, second = parts.jobs.submit(alice, SPEC), parts.jobs.submit(alice, SPEC)
        theirs = parts.jobs.submit(bob, SPEC)
        parts.jobs.cancel(alice, second.id)
        assert [j.id for j in parts.jobs.list_jobs(alice)] == [first.id, second.id]
        assert [j.id for j in parts.jobs.list_jobs(admin)] == [first.id, second.id, theirs.id]
        cancelled = parts.jobs.list_jobs(admin, JobFilter(states=frozenset({S.CANCELLED})))
        assert [j.id for j in cancelled] == [second.id]
        assert [j.id for j in parts.jobs.list_jobs(admin, JobFilter(project="proj", limit=1))] == [first.id]

    def test_timestamps_are_aware_utc_with_millisecond_precision(self, parts: Components, alice: Actor) -> None:
        job = parts.jobs.submit(alice, SPEC)
        claimed = parts.runners.claim_next("runner-1", {"sleep"})
        assert claimed is not None
        parts.runners.finish(claimed, TaskResult(rows=1, summary="ok"))
        stored, events = parts.jobs.history(alice, job.id)
        for value in (stored.submitted_at, stored.started_at, stored.ended_at, stored.state_changed_at):
            assert_utc_millis(value)
        for event in events:
            assert_utc_millis(event.at)
        assert stored.submitted_at <= stored.started_at <= stored.ended_at  # type: ignore[operator]
        assert stored.submitted_at.tzinfo == UTC or stored.submitted_at.utcoffset() == timedelta(0)

    def test_users_round_trip_with_their_groups_and_names_and_aliases_are_unique(self, parts: Components) -> None:
        user = parts.identity.add_user("erin", "pw", ["admin", "nbi-read"], numbered={"wsid": 500})
        assert parts.identity.user("erin") == user
        assert parts.identity.user_by_alias("wsid", "500") == user
        parts.identity.add_user("frank", "pw", numbered={"wsid": None})
        assert parts.identity.alias("frank", "wsid") == "501"
        with pytest.raises(Conflict):
            parts.identity.add_user("erin", "pw")
        with pytest.raises(Conflict):
            parts.identity.add_user("gina", "pw", numbered={"wsid": 500})
        assert parts.identity.user("gina") is None  # all or nothing


class TestHistory:
    def test_events_are_numbered_1_to_n_and_chain_state_to_state(self, parts: Components, alice: Actor) -> None:
        job = parts.jobs.submit(alice, SPEC)
        run_to_cancelled(parts, alice, job)
        _, events = parts.jobs.history(alice, job.id)
        assert [e.seq for e in events] == [1, 2, 3, 4]
        assert [(e.stage, e.from_state, e.to_state) for e in events] == [
            ("submit", None, S.SUBMITTED),
            ("start", S.SUBMITTED, S.EXECUTING),
            ("cancel", S.EXECUTING, S.CANCELING),
            ("cancel_done", S.CANCELING, S.CANCELLED),
        ]
        assert [(e.actor, e.protocol) for e in events] == [
            ("alice", Channel.CLI), ("system", Channel.RUNNER), ("alice", Channel.CLI), ("system", Channel.RUNNER),
        ]  # fmt: skip
        assert events[2].reason == "stop it"
        assert [e.at for e in events] == sorted(e.at for e in events)

    def test_history_is_append_only_each_step_keeps_the_earlier_events(self, parts: Components, alice: Actor) -> None:
        job = parts.jobs.submit(alice, SPEC)
        seen = parts.jobs.history(alice, job.id)[1]
        for step in (
            lambda: parts.runners.claim_next("runner-1", {"sleep"}),
            lambda: parts.jobs.cancel(alice, job.id),
            lambda: parts.jobs.cancel(alice, job.id),  # idempotent: no event
            lambda: parts.runners.cancel_done(job),
        ):
            step()
            now = parts.jobs.history(alice, job.id)[1]
            assert now[: len(seen)] == seen
            seen = now
        assert len(seen) == 4

    def test_a_lost_compare_and_set_changes_nothing_and_writes_no_event(self, parts: Components, alice: Actor) -> None:
        job = parts.jobs.submit(alice, SPEC)
        move = Transition(job.id, Action.START, S.EXECUTING, S.FINISHED, "x", Channel.RUNNER)  # wrong expected
        uow = SqlUnitOfWorkFactory(parts.engine)
        with uow() as tx:
            assert tx.jobs.transition(move, job.submitted_at) is None
            tx.commit()
        stored, events = parts.jobs.history(alice, job.id)
        assert (stored.state, stored.version, len(events)) == (S.SUBMITTED, 1, 1)


class TestConstraints:
    def test_the_database_refuses_an_unknown_state(self, parts: Components, alice: Actor) -> None:
        job = parts.jobs.submit(alice, SPEC)
        with pytest.raises(IntegrityError), parts.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job.id).values(state="Paused"))
        assert parts.jobs.get(alice, job.id).state is S.SUBMITTED

    def test_the_database_refuses_an_event_into_an_unknown_state(self, parts: Components, alice: Actor) -> None:
        job = parts.jobs.submit(alice, SPEC)
        row = {
            "job_id": job.id, "seq": 2, "stage": "x", "status": "ok", "from_state": "Submitted",
            "to_state": "Paused", "at": job.submitted_at, "actor": "x", "protocol": "cli",
        }  # fmt: skip
        with pytest.raises(IntegrityError), parts.engine.begin() as conn:
            conn.execute(job_events.insert().values(row))

    def test_the_database_refuses_a_second_event_with_the_same_seq(self, parts: Components, alice: Actor) -> None:
        job = parts.jobs.submit(alice, SPEC)
        row = {
            "job_id": job.id, "seq": 1, "stage": "x", "status": "ok", "from_state": None,
            "to_state": "Submitted", "at": job.submitted_at, "actor": "x", "protocol": "cli",
        }  # fmt: skip
        with pytest.raises(IntegrityError), parts.engine.begin() as conn:
            conn.execute(job_events.insert().values(row))


class TestDelete:
    def test_a_deleted_job_vanishes_from_get_and_list_but_keeps_its_history_rows(
        self, parts: Components, alice: Actor
    ) -> None:
        job = parts.jobs.submit(alice, SPEC)
        kept = parts.jobs.submit(alice, SPEC)
        parts.jobs.cancel(alice, job.id)
        parts.jobs.delete(alice, job.id)
        with pytest.raises(JobNotFound):
            parts.jobs.get(alice, job.id)
        with pytest.raises(JobNotFound):
            parts.jobs.get(alice, job.key)
        assert [j.id for j in parts.jobs.list_jobs(alice)] == [kept.id]
        with parts.engine.connect() as conn:
            stages = conn.execute(
                select(job_events.c.stage).where(job_events.c.job_id == job.id).order_by(job_events.c.seq)
            ).scalars()
            assert list(stages) == ["submit", "cancel", "delete"]
            assert conn.execute(select(func.count()).select_from(jobs).where(jobs.c.id == job.id)).scalar() == 1

    def test_a_deleted_job_cannot_be_cancelled_or_deleted_again(self, parts: Components, alice: Actor) -> None:
        job = parts.jobs.submit(alice, SPEC)
        parts.jobs.cancel(alice, job.id)
        parts.jobs.delete(alice, job.id)
        for act in (parts.jobs.cancel, parts.jobs.delete):
            with pytest.raises(JobNotFound):
                act(alice, job.id)

    def test_delete_of_a_running_job_is_refused(self, parts: Components, alice: Actor) -> None:
        job = parts.jobs.submit(alice, SPEC)
        parts.runners.claim_next("runner-1", {"sleep"})
        with pytest.raises(TransitionRefused):
            parts.jobs.delete(alice, job.id)


def test_the_schema_in_use_is_the_one_the_fixture_made(parts: Components) -> None:
    """PostgreSQL tests run in their own schema, never in public."""
    with parts.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            assert conn.execute(text("SELECT current_schema()")).scalar() != "public"


class TestTokens:
    def test_a_token_proves_its_user_until_it_expires_or_is_revoked(self, parts: Components) -> None:
        carol = parts.identity.add_user("carol", "carol-pw", groups=["admin"])
        live = parts.identity.issue_token(carol, "birst").token
        gone = parts.identity.issue_token(carol, "birst").token
        parts.identity.revoke_token(gone)
        dead = expired_token(parts.engine, "carol", "birst")

        actor = parts.identity.authenticate(Credentials("", live, CredentialKind.TOKEN, "birst"), Channel.BIRST)

        assert (actor.name, actor.groups) == ("carol", frozenset({"admin"}))
        for token in (dead, gone, "0" * 32):
            with pytest.raises(BadCredentials):
                parts.identity.authenticate(Credentials("", token, CredentialKind.TOKEN, "birst"), Channel.BIRST)
