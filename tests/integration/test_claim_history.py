"""A claim writes its `start` event in the same statement on PostgreSQL (a data-modifying CTE) as in two on
SQLite: the same history either way, the retry's attempt number included; a refused compare-and-set writes
no event."""

from datetime import UTC, datetime

from jobgate.app import Components
from jobgate.domain.model import Actor, Change, JobSpec, TaskResult
from jobgate.domain.states import Action, JobState
from jobgate.services.transitions import move
from jobgate.store import SqlUnitOfWorkFactory

S = JobState


def test_claim_requeue_claim_finish_history_is_the_same_on_both_stores(parts: Components, alice: Actor) -> None:
    job = parts.jobs.submit(alice, JobSpec("sleep", {"seconds": 0}))
    first = parts.runners.claim_next("runner-1", ["sleep"])
    assert first is not None
    assert (first.id, first.state, first.attempts, first.runner_id) == (job.id, S.EXECUTING, 1, "runner-1")
    uow = SqlUnitOfWorkFactory(parts.engine)
    now = datetime.now(UTC)
    with uow() as work:  # what the sweep does to a dead runner's job
        requeue = move(first, Action.REQUEUE, Actor.system(), "runner gone; retrying once", Change(clear_runner=True))
        assert work.jobs.transition(requeue, now) is not None
        assert work.jobs.transition(requeue, now) is None  # the state moved on: refused, and no event
        work.commit()
    second = parts.runners.claim_next("runner-2", ["sleep"])
    assert second is not None
    assert (second.attempts, second.version, second.runner_id) == (2, 4, "runner-2")
    parts.runners.finish(second, TaskResult(rows=0))

    _job, events = parts.jobs.history(alice, job.id)
    assert [(e.seq, e.stage, e.from_state, e.to_state, e.actor, e.reason) for e in events] == [
        (1, "submit", None, S.SUBMITTED, "alice", None),
        (2, "start", S.SUBMITTED, S.EXECUTING, "system", None),
        (3, "requeue", S.EXECUTING, S.SUBMITTED, "system", "runner gone; retrying once"),
        (4, "start", S.SUBMITTED, S.EXECUTING, "system", "attempt 2"),
        (5, "finish", S.EXECUTING, S.FINISHED, "system", None),
    ]
    assert parts.runners.claim_next("runner-1", ["sleep"]) is None
