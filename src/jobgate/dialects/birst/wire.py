"""Birst wire words: the namespace, the length rules its WSDL declares, StatusResult and the status words
(birst.md, "Status vocabulary and mapping"), and how a publishData request names its job."""

from collections.abc import Mapping, Sequence
from typing import Any, Final

from spyne import ComplexModel
from spyne.model.complex import Array
from spyne.model.primitive import Integer32, Unicode

from jobgate.domain.model import Job
from jobgate.domain.states import JobState, is_terminal

TNS: Final = "http://www.birst.com/"  # trailing slash: SOAPAction is TNS + op, joined as-is (seed 002)
SERVICE: Final = "CommandWebService"
PATH: Final = "/CommandWebService.asmx"

TOKEN_LENGTH: Final = 32  # birst.md: string-length(token) = 32, and the same for jobToken
SPACE_ID_LENGTH: Final = 36  # a GUID
INVALID_TOKEN: Final = "Invalid token"  # noqa: S105 - birst.md, Errors: the WSDL assertion's words
BAD_SPACE_ID: Final = "Space ID must be 36 characters"
BAD_LOGIN: Final = "Unable to log in: invalid username or password"
UNKNOWN_JOB: Final = "Invalid job token"  # unknown, or another user's: the same words (no existence leak)
NOT_SUPPORTED: Final = "This operation is not supported by this server"
# (bound, message) per Login field, in the order the WSDL lists its assertions
USERNAME_RULES: Final = ((3, 256, "username"),)
PASSWORD_RULES: Final = ((5, 256, "password"),)

PUBLISH_TASK: Final = "sleep"  # what publishData runs (docs/INTERFACE-EXTENSIONS.md)
PUBLISH_SECONDS: Final = "5"  # the sleep's length when the subgroups name none (`seconds=<n>`)
PUBLISH_PARAMS: Final = frozenset({"seconds"})  # task parameters a subgroup may set as `name=value`

# getJobStatus keeps Birst's legacy words (no cancel state); getDetailedJobStatus has "new statuses"
STATUS: Final[Mapping[JobState, str]] = {
    JobState.SUBMITTED: "None",
    JobState.SUSPENDED: "None",
    JobState.EXECUTING: "Running",
    JobState.CANCELING: "Running",
    JobState.CANCELLED: "Failed",
    JobState.FAILED: "Failed",
    JobState.FINISHED: "Complete",
}
DETAILED_STATUS: Final[Mapping[JobState, str]] = {
    JobState.SUBMITTED: "Queued",
    JobState.SUSPENDED: "Suspended",
    JobState.EXECUTING: "Running",
    JobState.CANCELING: "Cancelling",
    JobState.CANCELLED: "Cancelled",
    JobState.FAILED: "Failed",
    JobState.FINISHED: "Complete",
}
LOAD_AVAILABLE: Final = "Available"
LOAD_PROCESSING: Final = "Processing"
PROCESSING: Final = frozenset({JobState.SUBMITTED, JobState.EXECUTING, JobState.CANCELING})  # a space is busy

_Text = Unicode(min_occurs=0, nillable=False)
_Int = Integer32(min_occurs=1, nillable=False)


class StatusResult(ComplexModel):  # type: ignore[misc]
    __namespace__ = TNS
    _type_info = [
        ("processingGroup", _Text),
        ("type", _Int),
        ("loadid", _Int),
        ("message", _Text),
        ("statusCode", _Text),
    ]


ArrayOfString = Array(Unicode(nillable=True), type_name="ArrayOfString")


def is_complete(job: Job) -> bool:
    return is_terminal(job.state)


def status_result(job: Job, words: Mapping[JobState, str]) -> StatusResult:
    """type 0 and loadid = the job's id (Birst's load type and number mean nothing here); processingGroup = the
    first processing group publishData named; message = the job's error, else its result (omitted if none)."""
    groups = job.params.get("groups") or []
    return StatusResult(
        processingGroup=groups[0] if groups else None,
        type=0,
        loadid=job.id,
        message=job.error or job.result or None,
        statusCode=words[job.state],
    )


def publish_params(subgroups: Sequence[str | None] | None, date: Any) -> dict[str, Any]:
    """publishData's job parameters: `name=value` subgroups set the task's parameters (only those in
    PUBLISH_PARAMS); the others are processing groups, kept with the job; `date` is kept as sent."""
    params: dict[str, Any] = {"seconds": PUBLISH_SECONDS}
    groups = []
    for item in subgroups or ():
        name, sep, value = (item or "").partition("=")
        if sep and name.strip() in PUBLISH_PARAMS:
            params[name.strip()] = value.strip()
        elif item:
            groups.append(item)
    params["groups"] = groups
    if date is not None:
        params["date"] = date.isoformat()
    return params
