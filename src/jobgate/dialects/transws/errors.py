"""Trans-WS' one error table. Control operations answer refusals with `succeeded` 0 (operations.control);
the others have no field for a refusal, so it is a fault: `Client` for the caller's mistakes, `Server` for
ours (transws.md, "Errors / faults"). Fault strings are short fixed texts."""

from typing import Final

from jobgate.dialects.common.errors import ErrorTable
from jobgate.dialects.soap.faults import SoapError
from jobgate.dialects.transws.operations import NoCredentials, NotCompleted, NotTheCaller, UnsupportedToken
from jobgate.dialects.transws.wire import NOT_FOUND
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

BAD_LOGIN: Final = "Invalid user name or password."
NO_LOGIN: Final = "Authentication required: a WS-Security UsernameToken or HTTP Basic credentials."
# transws.md, Auth: .NET proxies and many HTTP libraries send Basic credentials only after a challenge
CHALLENGE: Final = (("WWW-Authenticate", 'Basic realm="jobgate"'),)


def _refused(exc: BaseException) -> str:
    assert isinstance(exc, TransitionRefused)
    return f"Job cannot {exc.action}: it is {exc.current.value.lower()}."


ERRORS: Final = ErrorTable[SoapError](
    {
        NoCredentials: SoapError("Client.Authentication", lambda e: NO_LOGIN, status=401, headers=CHALLENGE),
        UnsupportedToken: SoapError(
            "Client.Authentication", lambda e: "Only a PasswordText UsernameToken is accepted."
        ),
        BadCredentials: SoapError("Client.Authentication", lambda e: BAD_LOGIN),
        NotTheCaller: SoapError("Client", lambda e: "The ticket's userId must be the authenticated user."),
        NotCompleted: SoapError("Client", lambda e: "Job is not complete"),
        NotOwner: SoapError("Client", lambda e: NOT_FOUND),  # never tell a foreign job from a missing one
        JobNotFound: SoapError("Client", lambda e: NOT_FOUND),
        TransitionRefused: SoapError("Client", _refused),
        InvalidRequest: SoapError("Client", str),
        TaskFailed: SoapError("Server", str),
        Conflict: SoapError("Client", str),
        JobError: SoapError("Server", str),
    }
)
