"""CasJobs' one error table: every domain error → an ASMX fault (operation exceptions are `Server`)."""

from typing import Final

from jobgate.dialects.casjobs.wire import status_name
from jobgate.dialects.common.errors import ErrorTable
from jobgate.dialects.soap.faults import SoapError
from jobgate.domain.errors import (
    BadCredentials,
    Busy,
    Conflict,
    InvalidRequest,
    JobError,
    JobNotFound,
    NotOwner,
    TaskFailed,
    TransitionRefused,
)


def _refused(exc: BaseException) -> str:
    assert isinstance(exc, TransitionRefused)
    return f"Job {exc.ref} cannot be cancelled: status is {status_name(exc.current)}."


def _missing(exc: BaseException) -> str:
    assert isinstance(exc, JobNotFound)
    return f"Job {exc.ref} does not exist."


ERRORS: Final = ErrorTable[SoapError](
    {
        BadCredentials: SoapError("Server", lambda e: "Invalid WebServicesID or password."),
        NotOwner: SoapError("Server", lambda e: "You may only access your own jobs."),
        TransitionRefused: SoapError("Server", _refused),
        JobNotFound: SoapError("Server", _missing),
        InvalidRequest: SoapError("Server", str),
        TaskFailed: SoapError("Server", str),
        Conflict: SoapError("Server", str),
        Busy: SoapError("Server", str),  # the quick lane is full: the message says to try again shortly
        JobError: SoapError("Server", str),
    },
    overrides={
        ("CancelJob", NotOwner): SoapError("Server", lambda e: "You may only cancel your own jobs."),  # casjobs.md
    },
)
