"""Cisco's one error table: every error a request can end in → the status and errorDocument cisco.md
records. The routes apply it in one place; anything it does not know is a 500 with the request id."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from jobgate.dialects.cisco.wire import ErrorDocument
from jobgate.dialects.common.body import BodyTooLarge
from jobgate.dialects.common.errors import ErrorTable
from jobgate.dialects.common.jsonbody import JsonRefused
from jobgate.dialects.common.xml import XmlRefused
from jobgate.domain.errors import (
    BadCredentials,
    Conflict,
    InvalidRequest,
    JobError,
    JobNotFound,
    NotOwner,
    TaskFailed,
    TransitionRefused,
)


class CiscoRefusal(Exception):
    """A refusal of the dialect's own, before the service layer is asked anything."""


class NoCredentials(CiscoRefusal):
    pass


class MissingReadGroup(CiscoRefusal):
    pass


class MissingWriteGroup(CiscoRefusal):
    pass


class RateLimited(CiscoRefusal):
    pass


class BadPayload(CiscoRefusal):
    """The body parsed, but it is not the payload the operation takes; the text says why."""


class BadQuery(CiscoRefusal):
    """A query parameter of a read that cannot be honoured; the text says why."""


class UnknownResource(CiscoRefusal):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class MethodNotAllowed(CiscoRefusal):
    def __init__(self, allow: str) -> None:
        super().__init__(allow)
        self.allow = allow


class NotAcceptable(CiscoRefusal):
    pass


class UnsupportedMediaType(CiscoRefusal):
    pass


@dataclass(frozen=True, slots=True)
class ErrorRow:
    status: int
    id: str
    message: Callable[[BaseException], str]

    def document(self, exc: BaseException) -> ErrorDocument:
        return ErrorDocument(self.status, self.id, self.message(exc))


def _fixed(text: str) -> Callable[[BaseException], str]:
    return lambda exc: text


def _invalid(exc: BaseException) -> str:
    return f"Invalid payload: {exc}"  # the gates' and the parser's own texts: they name no secret


def _no_entity(exc: BaseException) -> str:
    name = exc.name if isinstance(exc, UnknownResource) else "?"
    return f"No such entity type as {name}.-PRS-102"  # cisco.md, the [API21] sample


def _no_job(exc: BaseException) -> str:
    ref = exc.ref if isinstance(exc, JobNotFound | NotOwner) else "?"
    return f"No such JobSummary entity with id {ref}"


PRS_400: Final = "presentation.PRS-400"
UNEXPECTED: Final = ErrorRow(500, "presentation.PRS-500", _fixed("Internal server error"))

ERRORS: Final = ErrorTable[ErrorRow](
    {
        NoCredentials: ErrorRow(401, "security.SEC-401", _fixed("Authentication required")),
        BadCredentials: ErrorRow(401, "security.SEC-401", _fixed("Invalid user name or password")),
        MissingReadGroup: ErrorRow(403, "security.SEC-403", _fixed("User does not belong to NBI Read")),
        MissingWriteGroup: ErrorRow(403, "security.SEC-403", _fixed("User does not belong to NBI Write")),
        RateLimited: ErrorRow(503, "presentation.PRS-503", _fixed("Rate limit exceeded")),
        BadPayload: ErrorRow(400, PRS_400, _invalid),
        BadQuery: ErrorRow(400, PRS_400, lambda exc: f"Invalid query: {exc}"),
        XmlRefused: ErrorRow(400, PRS_400, _invalid),
        JsonRefused: ErrorRow(400, PRS_400, _invalid),
        InvalidRequest: ErrorRow(400, PRS_400, _invalid),
        BodyTooLarge: ErrorRow(413, "presentation.PRS-413", _fixed("Request body too large")),
        UnknownResource: ErrorRow(404, "presentation.PRS-102", _no_entity),
        MethodNotAllowed: ErrorRow(405, "presentation.PRS-405", _fixed("Method not allowed")),
        NotAcceptable: ErrorRow(406, "presentation.PRS-406", _fixed("Not acceptable: XML or JSON only")),
        UnsupportedMediaType: ErrorRow(415, "presentation.PRS-415", _fixed("Unsupported media type")),
        JobNotFound: ErrorRow(404, "presentation.PRS-404", _no_job),
        NotOwner: ErrorRow(404, "presentation.PRS-404", _no_job),  # another user's job is not shown to exist
        TransitionRefused: ErrorRow(409, "presentation.PRS-409", _fixed("The job is not in a state for this")),
        Conflict: ErrorRow(409, "presentation.PRS-409", _fixed("Already exists")),
        TaskFailed: ErrorRow(500, "presentation.PRS-500", _fixed("The task failed")),
        JobError: UNEXPECTED,
    }
)
