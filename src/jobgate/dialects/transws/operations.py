"""What the Trans-WS operations do, as plain functions over the service layer: who the caller is (a
WS-Security UsernameToken, else HTTP Basic), which job a ticket names, and the control operations whose
refusals are answers (`succeeded` 0 and `info`), never faults."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from lxml import etree

from jobgate.dialects.common.calls import CallInfo
from jobgate.dialects.common.http import basic_credentials
from jobgate.dialects.soap.fastlane import DocumentOp
from jobgate.dialects.transws import wire
from jobgate.domain.errors import InvalidRequest, JobNotFound, NotOwner, TransitionRefused
from jobgate.domain.model import Actor, Credentials, Job, Outcome
from jobgate.domain.states import has_result, is_terminal


class NoCredentials(Exception):
    """The request carries neither a UsernameToken nor an Authorization header."""


class UnsupportedToken(Exception):
    """A UsernameToken whose password is not PasswordText (a digest needs the password stored in clear)."""


class NotTheCaller(Exception):
    """submitJob: a job is submitted in the caller's own name."""


class NotCompleted(Exception):
    """retrieveJob, rejectJob: the job has not Finished."""


def credentials(call: CallInfo, envelope: Any) -> Credentials:
    """The user name and password of the WS-Security UsernameToken in the SOAP header, else of HTTP Basic."""
    ns = etree.QName(envelope).namespace
    token = envelope.find(f"{{{ns}}}Header/{{{wire.WSSE}}}Security/{{{wire.WSSE}}}UsernameToken")
    if token is not None:
        password = token.find(f"{{{wire.WSSE}}}Password")
        if password is not None and password.get("Type", wire.PASSWORD_TEXT).strip() != wire.PASSWORD_TEXT:
            raise UnsupportedToken()
        name = (token.findtext(f"{{{wire.WSSE}}}Username") or "").strip()
        secret = (password.text or "") if password is not None else ""
        return Credentials(name, secret, client=call.client)
    basic = basic_credentials(call.scope)
    if basic is None:
        raise NoCredentials()
    return Credentials(basic[0], basic[1], client=call.client)


def offered_credentials(op: str, values: Mapping[str, str], call: CallInfo, envelope: Any) -> Credentials | None:
    """The credentials a call offers, or None (the gateway's look into the credential cache; never raises)."""
    if envelope is None:
        return None
    try:
        return credentials(call, envelope)
    except (NoCredentials, UnsupportedToken):
        return None


def login(call: CallInfo, envelope: Any) -> Actor:
    return call.identity.authenticate(credentials(call, envelope), call.channel)


def ticket_in(request: Any) -> Any:
    """The request's ticket. The schema requires its three attributes, but an attribute left out reads as
    empty: suds, for one, drops an attribute whose value is the empty string (submitJob's jobId, a job with
    no project)."""
    ticket = getattr(request, "ticket", None)
    if ticket is None:
        raise InvalidRequest(wire.NO_TICKET)
    return wire.Ticket(jobId=ticket.jobId or "", projectId=ticket.projectId or "", userId=ticket.userId or "")


def ticketed(call: CallInfo, actor: Actor, ticket: Any) -> Job | None:
    """The job the ticket names, if the caller may act on it: its key, project and owner all as the ticket
    says, and the ticket's user the caller (or the caller an administrator). Anything else is None, so an
    answer never tells a foreign job from a missing one."""
    if ticket.userId != actor.name and not actor.is_admin:
        return None
    try:
        job = call.jobs.find(actor, ticket.jobId)
    except NotOwner:
        return None
    return job if job is not None and wire.names_job(ticket, job) else None


def job_of(call: CallInfo, actor: Actor, ticket: Any) -> Job:
    """ticketed(), for the operations that answer a missing job with a fault."""
    job = ticketed(call, actor, ticket)
    if job is None:
        raise JobNotFound(ticket.jobId)
    return job


def finished_job(call: CallInfo, actor: Actor, ticket: Any) -> Job:
    """job_of() a job that has Finished (retrieveJob, rejectJob)."""
    job = job_of(call, actor, ticket)
    if not has_result(job.state):
        raise NotCompleted()
    return job


@dataclass(frozen=True, slots=True)
class Answer:
    succeeded: bool
    info: str


Act = Callable[..., Outcome]  # (actor, job key, named=…) → the outcome


def control(call: CallInfo, envelope: Any, request: Any, action: str) -> tuple[Any, Answer]:
    """cancelJob, suspendJob, resumeJob: the request's ticket, and the outcome as `succeeded` and `info`
    (transws.md, "Outcome table")."""
    actor = login(call, envelope)
    ticket = ticket_in(request)
    return ticket, _control(call, actor, ticket, action)


def control_document(action: str) -> DocumentOp:
    """control() for the fast lane: the same steps on the request element, answered with the element the
    Spyne method's answer becomes."""

    def answer(call: CallInfo, request: Any, envelope: Any) -> Any:
        actor = login(call, envelope)
        ticket = wire.ticket_at(request)
        outcome = _control(call, actor, ticket, action)
        return wire.control_response(f"{action}Job", ticket, outcome.succeeded, outcome.info)

    return answer


# the control operations on the fast lane, by request element
FAST_DOCUMENTS: Final[Mapping[str, DocumentOp]] = {
    f"{action}JobRequest": control_document(action) for action in ("cancel", "suspend", "resume")
}


def _control(call: CallInfo, actor: Actor, ticket: Any, action: str) -> Answer:
    """The action on the job the ticket names, in one unit of work; a job it does not name, or one the caller
    may not act on, is "not found" (never tell a foreign job from a missing one)."""
    if ticket.userId != actor.name and not actor.is_admin:
        return Answer(False, wire.NOT_FOUND)
    acts: dict[str, Act] = {"cancel": call.jobs.cancel, "suspend": call.jobs.suspend, "resume": call.jobs.resume}
    act = acts[action]
    try:
        outcome = act(actor, ticket.jobId, named=lambda job: wire.names_job(ticket, job))
    except TransitionRefused as refused:
        return Answer(False, wire.refusal(action, refused.current))
    except (JobNotFound, NotOwner):
        return Answer(False, wire.NOT_FOUND)
    if outcome.changed:
        return Answer(True, wire.SUCCEEDED[action])
    if is_terminal(outcome.current):
        return Answer(False, wire.COMPLETE)  # a quick job, which cancel leaves alone, that has ended
    return Answer(*wire.UNCHANGED[action])
