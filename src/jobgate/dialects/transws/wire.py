"""Trans-WS wire words: the namespace, the message types, the `succeeded`/`timeStamp` lexical forms, the
`info` parameter syntax and the history vocabulary (transws.md; seed 000)."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from lxml import etree
from spyne import ComplexModel, XmlAttribute, XmlData
from spyne.const.xml import NS_XSD
from spyne.model.primitive import Unicode

from jobgate.dialects.common.xml import xml_text
from jobgate.domain.errors import InvalidRequest
from jobgate.domain.model import Job, JobEvent
from jobgate.domain.states import JobState, is_terminal

TNS: Final = "urn:oasis:names:tc:wstrans:v1:types"
WSSE: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
_PROFILE: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
PASSWORD_TEXT: Final = f"{_PROFILE}#PasswordText"  # the UsernameToken password type jobgate accepts

# -- lexical forms ------------------------------------------------------------------------------------------


class Digit(Unicode):  # type: ignore[misc]
    """xs:boolean written `1`/`0` as the seed's samples do (Spyne's Boolean writes true/false)."""

    __namespace__ = NS_XSD
    __type_name__ = "boolean"


class Stamp(Unicode):  # type: ignore[misc]
    """xs:dateTime written in UTC with milliseconds and `Z`, as seed 000's `2005-01-01T12:00:00.000Z`."""

    __namespace__ = NS_XSD
    __type_name__ = "dateTime"


def digit(value: bool) -> str:
    return "1" if value else "0"


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_date(text: str | None) -> datetime | None:
    """An xs:dateTime a client sent (requiredBy/@date); a time without an offset is taken as UTC."""
    if not text or not text.strip():
        return None
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"'{text.strip()}' is not an xs:dateTime.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _required(cls: Any) -> Any:
    return cls(min_occurs=1, nillable=False)


def _optional(cls: Any) -> Any:
    return cls(min_occurs=0, nillable=False)


# -- shared elements (transws.md, "Shared elements") ----------------------------------------------------------


class Ticket(ComplexModel):  # type: ignore[misc]
    __namespace__ = TNS
    __type_name__ = "ticket"
    _type_info = [
        ("jobId", XmlAttribute(Unicode(min_occurs=1), use="required")),
        ("projectId", XmlAttribute(Unicode(min_occurs=1), use="required")),
        ("userId", XmlAttribute(Unicode(min_occurs=1), use="required")),
    ]


class Count(ComplexModel):  # type: ignore[misc]
    """XLIFF's count element, carried through as submitted."""

    __namespace__ = TNS
    __type_name__ = "count"
    _type_info = [
        ("value", XmlData(Unicode)),
        ("count-type", XmlAttribute(Unicode)),
        ("phase-name", XmlAttribute(Unicode)),
        ("unit", XmlAttribute(Unicode)),
    ]


class CountGroup(ComplexModel):  # type: ignore[misc]
    __namespace__ = TNS
    __type_name__ = "count-group"
    _type_info = [
        ("name", XmlAttribute(Unicode(min_occurs=1), use="required")),
        ("count", Count.customize(min_occurs=0, max_occurs="unbounded", nillable=False)),
    ]


class RequiredBy(ComplexModel):  # type: ignore[misc]
    __namespace__ = TNS
    __type_name__ = "requiredBy"
    _type_info = [("date", XmlAttribute(Stamp))]


class Event(ComplexModel):  # type: ignore[misc]
    __namespace__ = TNS
    __type_name__ = "event"
    _type_info = [
        ("stage", XmlAttribute(Unicode(min_occurs=1), use="required")),
        ("status", XmlAttribute(Unicode(min_occurs=1), use="required")),
        ("timeStamp", XmlAttribute(Stamp(min_occurs=1), use="required")),
        ("date", XmlAttribute(Stamp)),
        ("additionalInformation", XmlAttribute(Unicode)),
    ]


class History(ComplexModel):  # type: ignore[misc]
    __namespace__ = TNS
    __type_name__ = "history"
    _type_info = [("event", Event.customize(min_occurs=0, max_occurs="unbounded", nillable=False))]


class Resource(ComplexModel):  # type: ignore[misc]
    __namespace__ = TNS
    __type_name__ = "resource"
    _type_info = [("uri", XmlAttribute(Unicode))]


class Associations(ComplexModel):  # type: ignore[misc]
    __namespace__ = TNS
    __type_name__ = "associations"
    _type_info = [("resource", Resource.customize(min_occurs=0, max_occurs="unbounded", nillable=False))]


class RejectionDeadline(ComplexModel):  # type: ignore[misc]
    __namespace__ = TNS
    __type_name__ = "rejectionDeadline"
    _type_info = [("date", XmlAttribute(Stamp))]


TicketField = Ticket.customize(min_occurs=1, nillable=False)  # one ticket, always there


def _message(name: str, fields: list[tuple[str, Any]]) -> type[ComplexModel]:
    """A request or response element: a bare message whose type has the element's own name."""
    return type(name, (ComplexModel,), {"__namespace__": TNS, "__type_name__": name, "_type_info": fields})


_JOB_FIELDS: Final = [
    ("count-group", CountGroup.customize(min_occurs=0, nillable=False)),
    ("service", _optional(Unicode)),
    ("domain", _optional(Unicode)),
    ("languagePair", _optional(Unicode)),
    ("requiredBy", RequiredBy.customize(min_occurs=0, nillable=False)),
    ("info", _optional(Unicode)),
    ("purchaseOrder", _optional(Unicode)),
]
_CONTROL_ANSWER: Final = [("ticket", TicketField), ("succeeded", _required(Digit)), ("info", _required(Unicode))]

SubmitJobRequest = _message("submitJobRequest", [("ticket", TicketField), *_JOB_FIELDS])
SubmitJobResponse = _message("submitJobResponse", [("ticket", TicketField), ("acknowledgement", _required(Unicode))])
RetrieveJobInformationRequest = _message("retrieveJobInformationRequest", [("ticket", TicketField)])
RetrieveJobInformationResponse = _message(
    "retrieveJobInformationResponse",
    [
        ("ticket", TicketField),
        *_JOB_FIELDS,
        ("associations", Associations.customize(min_occurs=0, nillable=False)),
        ("history", History.customize(min_occurs=1, nillable=False)),
    ],
)
_TICKETS: Final = [("ticket", Ticket.customize(min_occurs=0, max_occurs="unbounded", nillable=False))]
RetrieveActiveJobsListRequest = _message("retrieveActiveJobsListRequest", [])
RetrieveActiveJobsListResponse = _message("retrieveActiveJobsListResponse", _TICKETS)
RetrieveFullJobsListRequest = _message("retrieveFullJobsListRequest", [])
RetrieveFullJobsListResponse = _message("retrieveFullJobsListResponse", _TICKETS)
CancelJobRequest = _message("cancelJobRequest", [("ticket", TicketField)])
CancelJobResponse = _message("cancelJobResponse", _CONTROL_ANSWER)
SuspendJobRequest = _message("suspendJobRequest", [("ticket", TicketField)])
SuspendJobResponse = _message("suspendJobResponse", _CONTROL_ANSWER)
ResumeJobRequest = _message("resumeJobRequest", [("ticket", TicketField)])
ResumeJobResponse = _message("resumeJobResponse", _CONTROL_ANSWER)
RejectJobRequest = _message("rejectJobRequest", [("ticket", TicketField), ("reason", _optional(Unicode))])
RejectJobResponse = _message("rejectJobResponse", [("ticket", TicketField), ("acknowledgement", _required(Unicode))])
RetrieveJobRequest = _message("retrieveJobRequest", [("ticket", TicketField)])
RetrieveJobResponse = _message(
    "retrieveJobResponse",
    [
        ("ticket", TicketField),
        ("resource", Resource.customize(min_occurs=1, nillable=False)),
        ("rejectionDeadline", RejectionDeadline.customize(min_occurs=1, nillable=False)),
    ],
)

# -- identity (interface.md: ticket jobId = key, projectId = project, userId = owner) ---------------------------


def ticket_of(job: Job) -> Ticket:
    return Ticket(jobId=job.key, projectId=job.project, userId=job.owner)


_TICKET: Final = f"{{{TNS}}}ticket"
NO_TICKET: Final = "The request needs a ticket with jobId, projectId and userId."


@dataclass(frozen=True, slots=True)
class TicketIds:
    """A ticket's three ids as the fast lane reads them (a Spyne Ticket costs more to make than to use)."""

    jobId: str  # the schema's attribute names, as on Ticket
    projectId: str
    userId: str


def ticket_at(request: Any) -> TicketIds:
    """The ticket of a request element (the fast lane's reading; operations.ticket_in reads Spyne's)."""
    ticket = request.find(_TICKET)
    if ticket is None:
        raise InvalidRequest(NO_TICKET)
    return TicketIds(ticket.get("jobId", ""), ticket.get("projectId", ""), ticket.get("userId", ""))


def control_response(operation: str, ticket: Any, succeeded: bool, info: str) -> Any:
    """`<{operation}Response>` with the ticket echoed, `succeeded` and `info`, as Spyne writes the Spyne
    method's answer (the fast lane's; tests compare the two)."""
    response = etree.Element(f"{{{TNS}}}{operation}Response")
    ids = {"jobId": ticket.jobId, "projectId": ticket.projectId, "userId": ticket.userId}
    etree.SubElement(response, _TICKET, ids)
    etree.SubElement(response, f"{{{TNS}}}succeeded").text = digit(succeeded)
    etree.SubElement(response, f"{{{TNS}}}info").text = xml_text(info)
    return response


def names_job(ticket: Any, job: Job) -> bool:
    """The ticket's projectId and userId are the job's; its jobId was how the job was found."""
    return bool(ticket.projectId == job.project and ticket.userId == job.owner)


# -- submitJob: which task, with which parameters -----------------------------------------------------------

TASKS: Final = frozenset({"sleep"})  # the tasks a Trans-WS client may name in `service` (INTERFACE-EXTENSIONS.md)
METADATA: Final = "transws"  # the job parameter that keeps the translation fields submitJob carried


def parse_info(info: str | None) -> dict[str, str]:
    """`info` as task parameters: `name=value` pairs separated by `;` (blanks around them ignored)."""
    params: dict[str, str] = {}
    for item in (info or "").split(";"):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or name.strip() == METADATA:
            raise InvalidRequest(f"'{item.strip()}' in info is not a name=value parameter.")
        params[name.strip()] = value.strip()
    return params


MAX_PROJECT: Final = 255  # the store's limit on a project name


def project_of(ticket: Any) -> str:
    """The ticket's projectId as the new job's project."""
    if len(ticket.projectId) > MAX_PROJECT:
        raise InvalidRequest(f"A projectId has at most {MAX_PROJECT} characters.")
    return str(ticket.projectId)


def task_params(service: str | None, info: str | None) -> tuple[str, dict[str, str]]:
    task = (service or "").strip()
    if task not in TASKS:
        raise InvalidRequest(f"Unknown service '{task}'; this server runs: {', '.join(sorted(TASKS))}.")
    params = parse_info(info)
    if task == "sleep":
        _seconds(params.get("seconds"))
    return task, params


def _seconds(text: str | None) -> None:
    try:
        seconds = float(text or "")
    except ValueError:
        raise InvalidRequest("The sleep service needs info 'seconds=<number>'.") from None
    if not 0 <= seconds < float("inf"):
        raise InvalidRequest("The sleep service needs a finite number of seconds ≥ 0.")


def metadata(request: Any) -> dict[str, Any]:
    """The translation fields of a submitJobRequest, kept with the job and shown again by
    retrieveJobInformation as they were sent."""
    kept: dict[str, Any] = {}
    for name in ("domain", "languagePair", "purchaseOrder"):
        if getattr(request, name, None) is not None:
            kept[name] = getattr(request, name)
    required = getattr(request, "requiredBy", None)
    if required is not None:
        date = parse_date(required.date)
        kept["requiredBy"] = stamp(date) if date else ""
    group = getattr(request, "count-group", None)
    if group is not None:
        counts = [{k: getattr(c, k, None) for k in ("value", "count-type", "phase-name", "unit")}
                  for c in (getattr(group, "count", None) or [])]  # fmt: skip
        kept["count-group"] = {"name": group.name, "count": counts}
    return kept


def job_fields(job: Job) -> dict[str, Any]:
    """The submitJob fields of a job, whichever dialect submitted it."""
    kept: Mapping[str, Any] = job.params.get(METADATA) or {}
    params = {k: v for k, v in job.params.items() if k != METADATA}
    fields: dict[str, Any] = {
        "service": job.task,
        "info": ";".join(f"{k}={v}" for k, v in params.items()) or None,
        **{name: kept.get(name) for name in ("domain", "languagePair", "purchaseOrder")},
    }
    if "requiredBy" in kept:
        fields["requiredBy"] = RequiredBy(date=kept["requiredBy"] or None)
    if "count-group" in kept:
        group = kept["count-group"]
        counts = [Count(**{k: v for k, v in c.items() if v is not None}) for c in group.get("count", [])]
        fields["count-group"] = CountGroup(name=group.get("name"), count=counts or None)
    return fields


# -- answers of the control operations (transws.md, "Outcome table") ------------------------------------------

NOT_FOUND: Final = "Job not found"
COMPLETE: Final = "Job is complete"
SUCCEEDED: Final = {"cancel": "Cancellation succeeded", "suspend": "Suspension succeeded",
                    "resume": "Resumption succeeded"}  # fmt: skip
UNCHANGED: Final = {  # the state already was what was asked for: (succeeded, info)
    "cancel": (True, "Cancellation already requested"),
    "suspend": (True, "Suspension succeeded"),
    "resume": (False, "Job is not suspended"),
}
REFUSED: Final = {"cancel": COMPLETE, "suspend": "Suspension not allowed at this time",
                  "resume": "Job is not suspended"}  # fmt: skip


def refusal(action: str, current: JobState) -> str:
    return COMPLETE if is_terminal(current) else REFUSED[action]


SUBMITTED: Final = "Job submitted"


def rejected(reason: str) -> str:
    return f"Job rejected with reason: {reason}"  # the TC's rejectJob sample


# -- history (transws.md, "History vocabulary and state mapping") ---------------------------------------------

# stored event (its stage is the action) → the Trans-WS events it shows as, (stage, status) each
VOCABULARY: Final[Mapping[str, tuple[tuple[str, str], ...]]] = {
    "submit": (("job", "start"),),
    "start": (("translation", "start"),),
    "finish": (("translation", "complete"), ("job", "complete")),
    "fail": (("job", "failed"),),
    "cancel": (("job", "cancelled"),),  # seed 000: written when the cancel is accepted
    "cancel_done": (),  # Canceling → Cancelled: the cancelled event is already there
    "suspend": (("job", "suspended"),),
    "resume": (("job", "resumed"),),
    "requeue": (("job", "requeued"),),
    "reject": (("job", "rejected"),),
    "delete": (),
}


def history(events: list[JobEvent]) -> History:
    return History(event=list(_events(events)) or None)


def _events(events: list[JobEvent]) -> Iterator[Event]:
    for event in events:
        detail = f"actor={event.actor}; protocol={event.protocol}"
        if event.reason:
            detail += f"; reason={event.reason}"
        for stage, status in VOCABULARY.get(event.stage, ((event.stage, event.status),)):
            yield Event(stage=stage, status=status, timeStamp=stamp(event.at), additionalInformation=detail)
