"""What each ArcGIS operation does, as plain functions over the service layer (run off the event loop by
routes.py). They parse nothing and render nothing: values in, a job or an outcome out."""

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobgate.dialects.arcgis import wire
from jobgate.dialects.arcgis.errors import NothingCancelled
from jobgate.domain.errors import InvalidRequest, JobNotFound
from jobgate.domain.model import Actor, Job, JobEvent, JobFilter, JobSpec
from jobgate.domain.states import JobState, is_terminal
from jobgate.services import JobService

DELETE_REASON = "deleted through the ArcGIS Administrator API"


def _in_service(job: Job, text: str, service: str, task: str | None = None) -> Job:
    """The job, if the URL names its service (and task): another service's job is not found there."""
    if job.project != service or (task is not None and job.task != task):
        raise JobNotFound(text)
    return job


def job(jobs: JobService, actor: Actor, text: str, service: str, task: str | None = None) -> Job:
    return _in_service(jobs.get(actor, wire.job_ref(text)), text, service, task)


def job_with_messages(jobs: JobService, actor: Actor, text: str, service: str, task: str) -> tuple[Job, list[JobEvent]]:
    found, events = jobs.history(actor, wire.job_ref(text))
    return _in_service(found, text, service, task), events


def job_parameter(jobs: JobService, actor: Actor, text: str, service: str, task: str, kind: str, name: str) -> Any:
    """A succeeded job's output (`results`) or any job's input (`inputs`), as a GP parameter."""
    found = job(jobs, actor, text, service, task)
    listed = {"results": wire.results, "inputs": wire.inputs}.get(kind)
    typed = None if listed is None else listed(found).get(name)
    if typed is None:
        raise JobNotFound(f"{text}/{kind}/{name}")
    return wire.parameter(name, typed)


def submit(jobs: JobService, actor: Actor, service: str, task: str, inputs: Mapping[str, Any]) -> Job:
    """GP submitJob: the GP task names the jobgate task, the service is the job's project."""
    if not jobs.knows_task(task):
        raise InvalidRequest(f"Task '{task}' not found.")
    return jobs.submit(actor, JobSpec(task, dict(inputs), service))


def rest_cancel(jobs: JobService, actor: Actor, text: str, service: str, task: str) -> Job:
    """GP cancel: Waiting → Cancelled, Executing → Cancelling; again on Cancelling changes nothing."""
    job(jobs, actor, text, service, task)
    return jobs.cancel(actor, wire.job_ref(text)).job


def admin_cancel(jobs: JobService, actor: Actor, text: str, service: str) -> None:
    """Admin cancel succeeds only when it moves the job (seed 004: from SUBMITTED or EXECUTING)."""
    job(jobs, actor, text, service)
    if not jobs.cancel(actor, wire.job_ref(text)).changed:
        raise NothingCancelled(text)


def start_delete(jobs: JobService, actor: Actor, text: str, service: str) -> Job | None:
    """Admin delete, first step: cancel the job if it is still going, and hide it if it has ended. Returns
    the job when its end must be awaited before it can be hidden (a running task takes time to stop)."""
    found = job(jobs, actor, text, service)
    if not is_terminal(found.state):
        outcome = jobs.cancel(actor, found.id, DELETE_REASON)
        if not is_terminal(outcome.current):
            return outcome.job
    jobs.delete(actor, found.id, DELETE_REASON)
    return None


def finish_delete(jobs: JobService, actor: Actor, job_id: int, text: str) -> None:
    """Admin delete, last step: hide the job now that it has ended; still going after the wait → refused."""
    current = jobs.get(actor, job_id)
    if not is_terminal(current.state):
        raise NothingCancelled(text)
    jobs.delete(actor, job_id, DELETE_REASON)


@dataclass(frozen=True, slots=True)
class JobQuery:
    """Admin `jobs/query` ([ADM] query-jobs): jobs of one service submitted in a time window, newest first."""

    service: str
    since: datetime
    until: datetime | None = None
    states: Collection[JobState] | None = None
    owner: str | None = None
    start: int = 1  # 1-based, as the Administrator API counts
    number: int = 10


def query(jobs: JobService, actor: Actor, asked: JobQuery) -> tuple[int, list[Job]]:
    """(how many jobs match, the page of them asked for)."""
    where = JobFilter(owner=asked.owner, project=asked.service,
                      states=frozenset(asked.states) if asked.states is not None else None)  # fmt: skip
    found = [
        job
        for job in jobs.list_jobs(actor, where)
        if job.submitted_at >= asked.since and (asked.until is None or job.submitted_at <= asked.until)
    ]
    found.sort(key=lambda job: (job.submitted_at, job.id), reverse=True)
    return len(found), found[asked.start - 1 : asked.start - 1 + asked.number]
