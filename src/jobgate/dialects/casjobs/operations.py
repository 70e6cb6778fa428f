"""What the hot jobs.asmx operations do, as plain functions: the Spyne methods and the gateway's fast
lane call the same code, so both paths behave alike by construction."""

from jobgate.dialects.casjobs import wire
from jobgate.dialects.common.calls import CallInfo
from jobgate.domain.model import Actor, CredentialKind, Credentials


def login(call: CallInfo, wsid: int, pw: str | None) -> Actor:
    creds = Credentials(str(wsid), pw or "", CredentialKind.ALIAS, wire.WSID, call.client)
    return call.identity.authenticate(creds, call.channel)


def cancel_job(call: CallInfo, wsId: int, pw: str | None, jobId: int) -> None:
    call.jobs.cancel_if_exists(login(call, wsId, pw), jobId)  # seed 001: an unknown id does nothing


def get_job_status(call: CallInfo, wsId: int, pw: str | None, jobId: int) -> int:
    return wire.STATUS[call.jobs.get(login(call, wsId, pw), jobId).state]


FAST_OPS = {"CancelJob": cancel_job, "GetJobStatus": get_job_status}
