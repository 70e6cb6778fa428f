"""What each Cisco call does with the service layer: the four job operations, each id on its own (one
service call, so one transaction, per id: a bad id never spoils the others), and the reads."""

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from typing import Final

from jobgate.dialects.cisco import wire
from jobgate.dialects.cisco.query import RunQuery, SummaryQuery, pushed, select
from jobgate.dialects.cisco.wire import Operation, Verdict
from jobgate.domain.errors import JobNotFound, NotOwner, TransitionRefused
from jobgate.domain.model import Actor, Job, JobEvent, Outcome
from jobgate.services import JobService

Act = Callable[[JobService, Actor, int], Outcome]

ACTIONS: Final[Mapping[Operation, Act]] = {
    Operation.CANCELRUNNING: lambda jobs, actor, ref: jobs.cancel(actor, ref, only_from=wire.RUN_STOPPABLE),
    Operation.CANCEL: lambda jobs, actor, ref: jobs.cancel(actor, ref),
    Operation.SUSPEND: lambda jobs, actor, ref: jobs.suspend(actor, ref),
    Operation.RESUME: lambda jobs, actor, ref: jobs.resume(actor, ref),
}


BATCH_SLICE: Final = 32  # ids per worker when a request names many: each id is still its own transaction


def operate(
    jobs: JobService, actor: Actor, op: Operation, ids: Sequence[int], pool: Executor | None = None
) -> list[Verdict]:
    """One verdict per id, in the order asked (an id named twice is judged once); the service decides
    ownership and the state machine. Many ids are judged by the pool's workers side by side (a commit waits
    for the disk; several wait together)."""
    act, ids = ACTIONS[op], list(dict.fromkeys(ids))

    def judge(part: Sequence[int]) -> list[Verdict]:
        return [_judge(jobs, actor, op, act, job_id) for job_id in part]

    if pool is None or len(ids) <= BATCH_SLICE:
        return judge(ids)
    parts = [ids[start : start + BATCH_SLICE] for start in range(0, len(ids), BATCH_SLICE)]
    return [found for verdicts in pool.map(judge, parts) for found in verdicts]


def _judge(jobs: JobService, actor: Actor, op: Operation, act: Act, job_id: int) -> Verdict:
    try:
        return wire.verdict(op, job_id, act(jobs, actor, job_id))
    except (JobNotFound, NotOwner):
        return wire.not_found(op, job_id)
    except TransitionRefused as refused:
        return wire.refused(op, job_id, refused.current)


def summaries(jobs: JobService, actor: Actor, query: SummaryQuery) -> tuple[int, list[Job]]:
    """The page of jobs the query selects among those the actor may see, and how many matched in all: the store
    filters what it can (query.pushed) and, when that is all, pages too."""
    where, left = pushed(query)
    if left is None:
        return jobs.page_of_jobs(actor, where)
    return select(jobs.list_jobs(actor, where), left)


def summary(jobs: JobService, actor: Actor, job_id: int) -> Job:
    return jobs.get(actor, job_id)


def run_histories(jobs: JobService, actor: Actor, asked: RunQuery) -> list[tuple[Job, list[JobEvent]]]:
    """The page of runs the query selects among the actor's jobs, each with its history, oldest first; the store
    filters and pages. A query naming one job by id that finds nothing: that job is not found."""
    unnamed = asked.unnamed()
    if unnamed is None:
        found = jobs.list_histories(actor, asked.where())
    else:  # `<task>_<id>` also names the unnamed job shown so: both pages from the start, merged, then paged
        named = jobs.list_histories(actor, replace(asked.where(), offset=0, limit=asked.first + asked.limit))
        runs = {job.id: (job, events) for job, events in (*named, *jobs.list_histories(actor, unnamed))}
        found = [runs[job_id] for job_id in sorted(runs)][asked.first : asked.first + asked.limit]
    if not found and asked.job_id is not None and asked.first == 0:
        raise JobNotFound(asked.job_id)
    return found
