"""Cisco Prime Infrastructure's words: the API prefix, the four job operations and their payload names, the
per-id verdicts, the JobSummary codecs (JobSpecState, WorkState, ResultState) and the answers' trees.
cisco.md and seed 003 are the sources; the [REC] rows of cisco.md where the vendor is silent."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from jobgate.dialects.cisco.document import Many, Node, node
from jobgate.domain.model import ADMIN_GROUP, Job, JobEvent, Outcome
from jobgate.domain.states import JobState, is_terminal

PREFIX: Final = "/webacs/api"
REALM: Final = 'Basic realm="jobgate"'
XML_MEDIA: Final = "application/xml"
JSON_MEDIA: Final = "application/json"
JSON_SUFFIX: Final = ".json"

READ_GROUP: Final = "nbi-read"  # cisco.md: NBI Read for GET
WRITE_GROUP: Final = "nbi-write"  # NBI Write for PUT/POST
SUPER_GROUP: Final = ADMIN_GROUP  # PI's root / Super Users hold Read and Write


class Operation(StrEnum):
    """OperationEnum: the `operation` of an answer; its lower-case name is the path segment."""

    CANCELRUNNING = "CANCELRUNNING"
    CANCEL = "CANCEL"
    SUSPEND = "SUSPEND"
    RESUME = "RESUME"

    @property
    def segment(self) -> str:
        return self.value.lower()


@dataclass(frozen=True, slots=True)
class Payload:
    """The names of a request payload: root / list / item (cisco.md, "Request payloads")."""

    root: str
    ids: str
    item: str


RUN_PAYLOAD: Final = Payload("jobRunOperationPayload", "runIds", "runId")
JOB_PAYLOAD: Final = Payload("jobOperationPayload", "jobIds", "jobId")
PAYLOADS: Final[Mapping[Operation, Payload]] = {
    Operation.CANCELRUNNING: RUN_PAYLOAD,
    Operation.CANCEL: JOB_PAYLOAD,
    Operation.SUSPEND: JOB_PAYLOAD,
    Operation.RESUME: JOB_PAYLOAD,
}
OPERATIONS: Final[Mapping[str, Operation]] = {op.segment: op for op in Operation}
RUN_STOPPABLE: Final = frozenset({JobState.SUBMITTED, JobState.EXECUTING, JobState.CANCELING})
"""cancelrunning stops a run that is pending or running; a suspended job has no run to stop (cisco.md)."""

SUCCESS: Final = "Success"
FAILURE: Final = "Failure"


# -- per-id verdicts (cisco.md, "Mapping to the jobgate state machine") ----------------------------------------
@dataclass(frozen=True, slots=True)
class Verdict:
    id: int
    ok: bool
    message: str


_DONE: Final[Mapping[Operation, str]] = {
    Operation.CANCELRUNNING: "Run cancelled",
    Operation.CANCEL: "Job cancelled",
    Operation.SUSPEND: "Job suspended",
    Operation.RESUME: "Job resumed",
}
_STOPPING: Final = frozenset({JobState.CANCELING})
_UNCHANGED: Final[Mapping[tuple[Operation, JobState], tuple[bool, str]]] = {
    (Operation.CANCELRUNNING, JobState.CANCELING): (True, "Cancel already in progress"),
    (Operation.CANCEL, JobState.CANCELING): (True, "Cancel already in progress"),
    (Operation.SUSPEND, JobState.SUSPENDED): (True, "Job is already suspended"),
    (Operation.RESUME, JobState.SUBMITTED): (False, "Job is not suspended"),
}
_NOT_FOUND: Final[Mapping[Operation, str]] = {op: "Job not found" for op in Operation} | {
    Operation.CANCELRUNNING: "Run not found"
}
_REFUSED: Final[Mapping[Operation, str]] = {
    Operation.CANCELRUNNING: "Run is not running",
    Operation.CANCEL: "Job cannot be cancelled",
    Operation.SUSPEND: "Job is running; suspend affects only future runs",
    Operation.RESUME: "Job is not suspended",
}


def verdict(op: Operation, job_id: int, outcome: Outcome) -> Verdict:
    if outcome.changed:
        stopping = "; the run is stopping" if outcome.current in _STOPPING else ""
        return Verdict(job_id, True, _DONE[op] + stopping)
    ok, message = _UNCHANGED.get((op, outcome.current), (False, _REFUSED[op]))
    return Verdict(job_id, ok, message)


def refused(op: Operation, job_id: int, current: JobState) -> Verdict:
    if op is not Operation.CANCELRUNNING and is_terminal(current):
        return Verdict(job_id, False, "Job is already completed")
    return Verdict(job_id, False, _REFUSED[op])


def not_found(op: Operation, job_id: int) -> Verdict:
    """Unknown, deleted, or another user's job: the caller cannot tell them apart (cisco.md)."""
    return Verdict(job_id, False, _NOT_FOUND[op])


# -- answers --------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Urls:
    request: str  # the URL the client asked for
    root: str  # …/webacs/api/<v>/op or …/data


def operation_result(op: Operation, urls: Urls, verdicts: Sequence[Verdict]) -> Node:
    """mgmtResponse (seed 003): operationResult with failure, message, operation, success."""
    failed = tuple(_status(v) for v in verdicts if not v.ok)
    succeeded = tuple(_status(v) for v in verdicts if v.ok)
    result = node(
        failure=node(failure=Many(failed)),
        message=f"{len(succeeded)} succeeded, {len(failed)} failed",
        operation=op.value,
        success=node(success=Many(succeeded)),
    )
    return _mgmt(urls, operationResult=Many((result,)))


def _status(v: Verdict) -> Node:
    return node(id=v.id, message=v.message, status=SUCCESS if v.ok else FAILURE)


def _mgmt(urls: Urls, **fields: Many) -> Node:
    return node({"responseType": "operation", "requestUrl": urls.request, "rootUrl": urls.root}, **fields)


@dataclass(frozen=True, slots=True)
class ErrorDocument:
    status: int
    id: str
    message: str


def error_document(error: ErrorDocument, method: str, uri_path: str, query: str) -> Node:
    """errorDocument (cisco.md, "Errors"): the same keys in the same order in every version."""
    return node(
        httpResponseCode=error.status, httpMethod=method, message=error.message, id=error.id,
        uriPath=uri_path, queryParams=query,
    )  # fmt: skip


# -- JobSummary (cisco.md) -------------------------------------------------------------------------------------
SUMMARY_TYPE: Final = "JobSummary"
SUMMARY_DTO: Final = "jobSummaryDTO"
# jobgate state → (jobStatus JobSpecState, runStatus WorkState, resultStatus ResultState)
SUMMARY_STATES: Final[Mapping[JobState, tuple[str, str, str]]] = {
    JobState.SUBMITTED: ("SCHEDULED", "PENDING_EXECUTION", "PENDINGEXECUTION"),
    JobState.EXECUTING: ("SCHEDULED", "RUNNING", "UNKNOWN"),
    JobState.CANCELING: ("SCHEDULED", "RUNNING", "UNKNOWN"),
    JobState.SUSPENDED: ("SUSPENDED", "PAUSED", "PAUSED"),
    JobState.FINISHED: ("COMPLETED", "COMPLETED", "SUCCESS"),
    JobState.FAILED: ("COMPLETED", "COMPLETED", "FAILURE"),
    JobState.CANCELLED: ("CANCELLED", "CANCELLED", "CANCELLED"),
}
SYSTEM_USER: Final = "SYSTEM"
# each status field's values, and the states each value shows (what the filters on them select)
STATUS_STATES: Final[Mapping[str, Mapping[str, frozenset[JobState]]]] = {
    field: {value: frozenset(s for s, names in SUMMARY_STATES.items() if names[i] == value)
            for value in {names[i] for names in SUMMARY_STATES.values()}}
    for i, field in enumerate(("jobStatus", "runStatus", "resultStatus"))
}  # fmt: skip
RUN_FILTERS: Final = ("jobStatus", "runStatus")  # the status filters runhistory takes


def timestamp(at: datetime | None) -> str | None:
    """2020-07-28T20:29:54.009Z (cisco.md)."""
    if at is None:
        return None
    utc = at.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def duration(job: Job) -> str | None:
    """HH:MM:SS from the start to the end (or the last state change) of the run."""
    end = job.ended_at or job.state_changed_at
    if job.started_at is None or end is None:
        return None
    seconds = max(0, int((end - job.started_at).total_seconds()))
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def job_name(job: Job) -> str:
    return job.name or f"{job.task}_{job.id}"


def summary_fields(job: Job) -> dict[str, str | None]:
    """The JobSummary fields of a job, alphabetical as PI writes its DTOs; None = absent."""
    job_status, run_status, result_status = SUMMARY_STATES[job.state]
    return {
        "completionTime": timestamp(job.ended_at),
        "description": job.project or None,
        "duration": duration(job),
        "jobName": job_name(job),
        "jobStatus": job_status,
        "jobType": job.task,
        "lastStartTime": timestamp(job.started_at),
        "resultStatus": result_status,
        "runId": str(job.id),  # a String in v1–v3 (cisco.md)
        "runStatus": run_status,
        "username": SYSTEM_USER if job.system else job.owner,
    }


def summary_entity(job: Job, url: str) -> Node:
    dto = node({"displayName": str(job.id), "id": job.id}, **summary_fields(job))
    return node({"dtoType": SUMMARY_DTO, "type": SUMMARY_TYPE, "url": url}, jobSummaryDTO=dto)


def entity_id(job: Job, url: str) -> Node:
    return Node((("type", SUMMARY_TYPE), ("url", url)), text=str(job.id))


@dataclass(frozen=True, slots=True)
class Page:
    first: int
    count: int  # every match, not only this page's


def query_response(urls: Urls, page: Page, items: Sequence[Node], *, full: bool, single: bool = False) -> Node:
    kind = "getEntity" if single else ("listEntityInstances" if full else "listEntityIds")
    attrs: dict[str, str | int | None] = {"type": SUMMARY_TYPE, "responseType": kind, "requestUrl": urls.request,
                                          "rootUrl": urls.root}  # fmt: skip
    if not single:
        attrs |= {"first": page.first, "last": page.first + len(items) - 1, "count": page.count}
    name = "entity" if full or single else "entityId"
    return node(attrs, **{name: Many(tuple(items), always_array=True)})


def content_range(first: int, shown: int, count: int) -> str:
    """The answer to `Range: instances=a-b` ([API33]): `instances a-b/count`, `instances */count` for none."""
    return f"instances {first}-{first + shown - 1}/{count}" if shown else f"instances */{count}"


# -- runhistory (cisco.md) -------------------------------------------------------------------------------------
def run_history(urls: Urls, runs: Sequence[tuple[Job, Sequence[JobEvent]]]) -> Node:
    """mgmtResponse/job, one per job asked for, each with its one run and the run's history."""
    return _mgmt(urls, job=Many(tuple(_job_runs(job, events) for job, events in runs)))


def _job_runs(job: Job, events: Sequence[JobEvent]) -> Node:
    job_status, run_status, result_status = SUMMARY_STATES[job.state]
    results = tuple(
        node(property=event.stage, value=" ".join(filter(None, (timestamp(event.at), event.reason))))
        for event in events
    )
    run = node(
        completionTime=timestamp(job.ended_at), lastStartTime=timestamp(job.started_at), resultStatus=result_status,
        results=node(result=Many(results)), runId=job.id, runStatus=run_status,
    )  # fmt: skip
    return node(
        description=job.project or None, jobId=job.id, jobName=job_name(job), jobStatus=job_status,
        jobType=job.task, runInstances=node(runInstance=Many((run,))),
    )  # fmt: skip


# -- rateService/rateLimits (cisco.md [CLI]: scripts read mgmtResponse.rateLimitsDTO[0].limitUnpagedQuery) ---------
@dataclass(frozen=True, slots=True)
class RateLimits:
    unpaged_query: int  # the most entities a query without .maxResults answers
    page_size: int  # the largest .maxResults
    requests_in_flight: int  # one user's requests at a time before 503 "Rate limit exceeded"


def rate_limits(urls: Urls, limits: RateLimits) -> Node:
    dto = node(
        limitConcurrentRequestsPerUser=limits.requests_in_flight, limitPageSize=limits.page_size,
        limitUnpagedQuery=limits.unpaged_query,
    )  # fmt: skip
    return _mgmt(urls, rateLimitsDTO=Many((dto,), always_array=True))
