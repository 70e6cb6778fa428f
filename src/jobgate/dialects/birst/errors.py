"""Birst's one error table: every domain error, and the dialect's own input checks, → an ASMX fault.

Birst's validation faults are thrown deliberately, so they carry their own code and text without ASMX's
"Server was unable to process request. --->" prefix (birst.md, Errors; asmx-conventions.md, Faults)."""

from typing import Final

from jobgate.dialects.birst import wire
from jobgate.dialects.common.errors import ErrorTable
from jobgate.dialects.soap.faults import SoapError
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


class Refused(Exception):
    """A request Birst refuses before doing anything: a failed WSDL assertion, an unsupported operation."""


ERRORS: Final = ErrorTable[SoapError](
    {
        Refused: SoapError("Client", str),
        BadCredentials: SoapError("Client", lambda e: wire.INVALID_TOKEN),
        NotOwner: SoapError("Client", lambda e: wire.UNKNOWN_JOB),  # the same words as an unknown job
        JobNotFound: SoapError("Client", lambda e: wire.UNKNOWN_JOB),
        TransitionRefused: SoapError("Server", str),
        InvalidRequest: SoapError("Client", str),
        TaskFailed: SoapError("Server", str),
        Conflict: SoapError("Server", str),
        JobError: SoapError("Server", str),
    },
    overrides={
        ("Login", BadCredentials): SoapError("Client", lambda e: wire.BAD_LOGIN),
    },
)
