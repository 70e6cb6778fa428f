"""Cancelling many jobs by filter: one compare-and-set per source state (in batches), one event per job
moved, nothing else touched — on SQLite and PostgreSQL."""

from jobgate.app import Components
from jobgate.domain.model import Actor, JobFilter, JobSpec, TaskResult
from jobgate.domain.states import JobState

S = JobState
SLEEP = JobSpec("sleep", {"seconds": 60})


def test_cancel_many_moves_every_cancellable_job_once_across_batches(
    parts: Components, alice: Actor, bob: Actor
) -> None:
    jobs = parts.jobs
    runners = parts.runners
    queued = [jobs.submit(alice, SLEEP).id for _ in range(2050)]  # more than one batch of ids
    running = [runners.claim_next("runner", ["sleep"]) for _ in range(3)]
    finished = runners.claim_next("runner", ["sleep"])
    assert finished is not None
    runners.finish(finished, TaskResult(rows=0))
    already = jobs.submit(alice, SLEEP)
    jobs.cancel(alice, already.id)
    foreign = jobs.submit(bob, SLEEP)

    outcomes = jobs.cancel_many(alice, JobFilter(), reason="clean-up")

    moved = {o.job.id: (o.prior, o.current) for o in outcomes}
    expect = {job_id: (S.SUBMITTED, S.CANCELLED) for job_id in queued[4:]}
    expect |= {job.id: (S.EXECUTING, S.CANCELING) for job in running if job is not None}
    assert moved == expect
    assert all(o.changed for o in outcomes)
    states = runners.states_of([finished.id, already.id, foreign.id])
    assert states == {finished.id: S.FINISHED, already.id: S.CANCELLED, foreign.id: S.SUBMITTED}
    for job_id in (queued[-1], running[0].id if running[0] else 0):
        _job, events = jobs.history(alice, job_id)
        cancels = [e for e in events if e.stage == "cancel"]
        assert [(e.actor, e.reason, e.seq) for e in cancels] == [("alice", "clean-up", len(events))]
