"""ArcGIS's one error table: every refusal → its code, the REST `{"error":{…}}` text and the admin
`{"status":"error",…}` text (arcgis.md, token and outcome tables). Applied in one place: `wire_error`."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from jobgate.dialects.arcgis import wire
from jobgate.dialects.common.body import BodyTooLarge
from jobgate.dialects.common.errors import ErrorTable
from jobgate.dialects.common.jsonbody import JsonRefused
from jobgate.domain.errors import (
    BadCredentials,
    Busy,
    Conflict,
    InvalidRequest,
    JobError,
    JobNotFound,
    NotOwner,
    TaskFailed,
    TokenExpired,
    TransitionRefused,
)


class TokenRequired(Exception):
    """The call carries no token (code 499)."""


class NotPermitted(Exception):
    """The caller is not in the group this API needs (code 403)."""


class BadInput(Exception):
    """A parameter is missing or malformed; the message is the detail shown to the client."""


class MethodRefused(Exception):
    """The operation does not accept this HTTP method."""


class NothingCancelled(Exception):
    """Admin cancel on a job that cancel leaves as it is (already Cancelling): seed 004's error."""


Text = Callable[[BaseException, str], str]  # (the error, the jobId the client sent) → text


def _fixed(text: str) -> Text:
    return lambda exc, job: text


def _detail(exc: BaseException, job: str) -> str:
    return str(exc)


@dataclass(frozen=True, slots=True)
class ArcGisError:
    code: int  # the `code` in the JSON body (f=json|pjson answers HTTP 200, as ArcGIS does)
    message: str  # REST error.message
    admin: Text  # admin messages[0]
    http: int  # the HTTP status of an f=html answer
    details: tuple[Text, ...] = field(default=())
    admin_code: int | None = None  # where the admin API's code differs from the REST one


_TOKEN_DOC: Final = (
    "Unauthorized access. Token not found. You can generate a token using the 'generateToken' operation."  # noqa: S105
)
_FORBIDDEN: Final = "You do not have permissions to access this resource or perform this operation."
_INVALID_URL = ArcGisError(400, "Invalid URL", lambda e, job: f"Job '{job}' not found.", 404, admin_code=404)
_REFUSED = ArcGisError(400, "Invalid or missing input parameters.", lambda e, j: f"Unable to cancel job :[{j}]", 409,
                       admin_code=500)  # fmt: skip
_CANT_DELETE = ArcGisError(400, "Unable to delete job.", lambda e, j: f"Unable to delete job :[{j}]", 409)
_BAD_INPUT = ArcGisError(400, "Invalid or missing input parameters.", _detail, 400, (_detail,))
_SERVER = ArcGisError(500, "Unable to complete operation.", _fixed("Unable to complete operation."), 500)
_BAD_LOGIN = ArcGisError(400, "Unable to generate token.", _fixed("Unable to generate token."), 400,
                         (_fixed("Invalid username or password."),))  # fmt: skip

ERRORS: Final = ErrorTable[ArcGisError](
    {
        TokenRequired: ArcGisError(499, "Token Required", _fixed(_TOKEN_DOC), 401),
        TokenExpired: ArcGisError(498, "Invalid Token", _fixed("Token Expired."), 401),  # arcgis.md [PUP]
        BadCredentials: ArcGisError(
            498, "Invalid Token", _fixed("Could not decrypt token. Token may not be valid."), 401
        ),
        NotPermitted: ArcGisError(
            403, _FORBIDDEN, _fixed("User does not have permissions to perform this operation."), 403
        ),
        JobNotFound: _INVALID_URL,
        NotOwner: _INVALID_URL,  # REST: another user's job does not exist for the caller
        TransitionRefused: _REFUSED,
        NothingCancelled: _REFUSED,
        InvalidRequest: ArcGisError(400, "Unable to complete operation.", _detail, 400, (_detail,)),
        BadInput: _BAD_INPUT,
        JsonRefused: _BAD_INPUT,
        MethodRefused: ArcGisError(405, "Method not supported.", _fixed("Method not supported."), 405),
        BodyTooLarge: ArcGisError(413, "Request too large.", _fixed("Request too large."), 413),
        Busy: ArcGisError(503, "The server is busy; try again later.", _fixed("The server is busy."), 503),
        TaskFailed: _SERVER,
        Conflict: _SERVER,
        JobError: _SERVER,
    },
    overrides={
        ("generateToken", BadCredentials): _BAD_LOGIN,
        ("delete", TransitionRefused): _CANT_DELETE,
        ("delete", JobNotFound): _CANT_DELETE,
        ("delete", NothingCancelled): _CANT_DELETE,
    },
)
GENERIC: Final = _SERVER


def wire_error(
    exc: BaseException, operation: str, admin: bool, job: str, request_id: str | None = None
) -> tuple[dict[str, Any], int, int]:
    """The body, its `code` and the f=html HTTP status for `exc`; anything unlisted is the generic error, which
    quotes the request id (the detail is in the log under it, never in the answer)."""
    row = ERRORS.lookup(exc, operation) or GENERIC
    quoted = [f"An internal error occurred; quote request id {request_id}."] if row is GENERIC and request_id else []
    if admin:
        code = row.admin_code or row.code
        first = row.admin(exc, job)
        messages = [first, *(text for text in (d(exc, job) for d in row.details) if text != first), *quoted]
        return wire.admin_error(code, messages), code, row.http
    return wire.rest_error(row.code, row.message, [*(d(exc, job) for d in row.details), *quoted]), row.code, row.http
