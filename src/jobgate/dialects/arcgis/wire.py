"""ArcGIS Server's words: job ids, esriJob* statuses, messages, the JSON objects of both APIs and the
f=html|json|pjson encodings (arcgis.md). Nothing else in jobgate speaks them."""

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from lxml import etree
from lxml.html import builder as h

from jobgate.domain.model import Job, JobEvent
from jobgate.domain.states import JobState

ROOT: Final = "/arcgis"
REST: Final = f"{ROOT}/rest/services"
ADMIN: Final = f"{ROOT}/admin"
GP_SUFFIX: Final = ".GPServer"  # admin API: <service>.GPServer

JSON_REST: Final = "application/json; charset=UTF-8"  # arcgis.md [REC]
JSON_ADMIN: Final = "text/plain;charset=UTF-8"  # arcgis.md [PUP]: the admin API answers JSON as text/plain
HTML: Final = "text/html; charset=UTF-8"

# parameters the GP REST API reserves; every other field of submitJob is an input of the task ([GP])
RESERVED: Final = frozenset({"f", "token", "env:outSR", "env:processSR", "returnZ", "returnM", "context"})


class Format(StrEnum):
    HTML = "html"
    JSON = "json"
    PJSON = "pjson"


# arcgis.md, status mapping: REST reports a queued job as Waiting (its cancel is allowed there), the admin
# API as Submitted; the submitJob reply alone says esriJobSubmitted
REST_STATUS: Final[Mapping[JobState, str]] = {
    JobState.SUBMITTED: "esriJobWaiting",
    JobState.SUSPENDED: "esriJobWaiting",
    JobState.EXECUTING: "esriJobExecuting",
    JobState.CANCELING: "esriJobCancelling",
    JobState.CANCELLED: "esriJobCancelled",
    JobState.FAILED: "esriJobFailed",
    JobState.FINISHED: "esriJobSucceeded",
}
ADMIN_STATUS: Final[Mapping[JobState, str]] = {
    **REST_STATUS,
    JobState.SUBMITTED: "esriJobSubmitted",
    JobState.SUSPENDED: "esriJobSubmitted",
}
SUBMITTED: Final = "esriJobSubmitted"
SUCCEEDED: Final = "esriJobSucceeded"

INFORMATIVE: Final = "esriJobMessageTypeInformative"
ERROR: Final = "esriJobMessageTypeError"
# arcgis.md [REC]: one message per history event, in order
_MESSAGES: Final[Mapping[JobState, str]] = {
    JobState.SUBMITTED: "Submitted.",
    JobState.EXECUTING: "Executing...",
    JobState.CANCELING: "Cancelling...",
    JobState.CANCELLED: "Cancelled.",
    JobState.FINISHED: "Succeeded.",
    JobState.SUSPENDED: "Waiting.",
}


def wire_id(job: Job) -> str:
    """interface.md: jobId = `j` + the job's 32-hex key."""
    return f"j{job.key}"


def job_ref(text: str) -> str:
    """The job key a wire jobId names; anything else is passed on as is and found nowhere."""
    return text[1:] if text.startswith("j") else text


def millis(at: datetime | None) -> int:
    """Milliseconds since the epoch; -1 when unset (arcgis.md [REC]: endTime is -1 until the job ends)."""
    return -1 if at is None else int(at.timestamp() * 1000)


def message(event: JobEvent) -> dict[str, str]:
    if event.to_state is JobState.FAILED:
        return {"type": ERROR, "description": f"Failed: {event.reason or 'the task failed'}"}
    return {"type": INFORMATIVE, "description": _MESSAGES[event.to_state]}


def rest_job(job: Job, events: Sequence[JobEvent] | None) -> dict[str, Any]:
    """GP REST job resource ([GP] gp-job): `results` once succeeded, `inputs` always."""
    body: dict[str, Any] = {"jobId": wire_id(job), "jobStatus": REST_STATUS[job.state]}
    outputs = results(job)
    if outputs:
        body["results"] = {name: {"paramUrl": f"results/{name}"} for name in outputs}
    body["inputs"] = {name: {"paramUrl": f"inputs/{name}"} for name in job.params}
    if events is not None:
        body["messages"] = [message(event) for event in events if event.stage != "delete"]
    return body


def results(job: Job) -> dict[str, tuple[str, Any]]:
    """A succeeded job's outputs as GP parameters: name → (dataType, value); none before it succeeds."""
    if REST_STATUS[job.state] != SUCCEEDED:
        return {}
    found = {"result": ("GPString", job.result), "rows": ("GPLong", job.rows), "output": ("GPString", job.output_loc)}
    return {name: typed for name, typed in found.items() if typed[1] is not None}


def inputs(job: Job) -> dict[str, tuple[str, Any]]:
    return {name: (_gp_type(value), value) for name, value in job.params.items()}


def _gp_type(value: Any) -> str:
    if isinstance(value, bool):
        return "GPBoolean"
    if isinstance(value, int):
        return "GPLong"
    if isinstance(value, float):
        return "GPDouble"
    return "GPString"  # text as submitted; JSON objects and arrays come back as submitted too


def parameter(name: str, typed: tuple[str, Any]) -> dict[str, Any]:
    """`…/jobs/<jobId>/results/<name>` and `…/inputs/<name>` ([GP])."""
    return {"paramName": name, "dataType": typed[0], "value": typed[1]}


def rest_cancelled(job: Job) -> dict[str, Any]:
    return {"jobId": wire_id(job), "jobStatus": REST_STATUS[job.state]}


def submitted(job: Job) -> dict[str, Any]:
    return {"jobId": wire_id(job), "jobStatus": SUBMITTED}


def admin_job(job: Job, url: str, machine: str) -> dict[str, Any]:
    """Administrator API job resource ([ADM] job-get)."""
    return {
        "jobID": wire_id(job),
        "submittedTime": millis(job.submitted_at),
        "endTime": millis(job.ended_at),
        "status": ADMIN_STATUS[job.state],
        "username": job.owner,
        "machinename": machine,
        "url": url,
    }


def from_millis(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def admin_states(status: str) -> frozenset[JobState]:
    """The core states an admin `jobStatus` filter names (esriJobSubmitted covers Submitted and Suspended)."""
    return frozenset(state for state, name in ADMIN_STATUS.items() if name == status)


def job_page(total: int, start: int, page: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Admin jobs/query ([ADM]): `nextStart` is -1 on the last page."""
    following = start + len(page)
    return {"total": total, "num": len(page), "start": start, "nextStart": following if following <= total else -1,
            "jobs": list(page)}  # fmt: skip


def rest_job_path(job: Job) -> str:
    return f"{REST}/{job.project}/GPServer/{job.task}/jobs/{wire_id(job)}"


SUCCESS: Final = {"status": "success"}  # seed 004


def rest_token(token: str, expires_ms: int, ssl: bool) -> dict[str, Any]:
    """tokens/generateToken ([GP]): `expires` is a number."""
    return {"token": token, "expires": expires_ms, "ssl": ssl}


def admin_token(token: str, expires_ms: int) -> dict[str, Any]:
    """admin/generateToken ([ADM]): `expires` is a string."""
    return {"token": token, "expires": str(expires_ms)}


def rest_error(code: int, message: str, details: Sequence[str]) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": list(details)}}


def admin_error(code: int, messages: Sequence[str]) -> dict[str, Any]:
    return {"status": "error", "messages": list(messages), "code": code}


def encode(payload: Mapping[str, Any], fmt: Format, title: str) -> bytes:
    """f=json: compact JSON; f=pjson: indented JSON; f=html: a page showing the same data."""
    if fmt is Format.JSON:
        return json.dumps(payload, separators=(",", ":")).encode()
    if fmt is Format.PJSON:
        return json.dumps(payload, indent=2).encode()
    return html_page(title, payload)


def html_page(title: str, payload: Mapping[str, Any]) -> bytes:
    rows = [h.TR(h.TH(str(name)), h.TD(_text(value))) for name, value in payload.items()]
    page = h.HTML(
        h.HEAD(h.META(charset="utf-8"), h.TITLE(title)),
        h.BODY(h.H2(title), h.TABLE(*rows, border="1"), h.P("Formats: ", h.CODE("f=json"), " ", h.CODE("f=pjson"))),
    )
    markup: bytes = etree.tostring(page, method="html", encoding="utf-8")
    return b"<!DOCTYPE html>\n" + markup


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
