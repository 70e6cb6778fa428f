"""What the Birst operations do, as plain functions: the Spyne methods and the gateway's fast lane call the
same code, so both paths behave alike by construction. Every check birst.md's WSDL declares runs first;
a request that fails one changes nothing."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final

from jobgate.dialects.birst import auth, wire
from jobgate.dialects.birst.errors import Refused
from jobgate.dialects.common.calls import CallInfo
from jobgate.dialects.soap.fastlane import FastOp
from jobgate.domain.model import Actor, Job, JobFilter, JobSpec


def checked(call: CallInfo, token: str | None, space: str | None = None, job_token: str | None = None) -> Actor:
    """The WSDL's assertions in parameter order (the first failing one answers), then the token's owner."""
    if token is None or len(token) != wire.TOKEN_LENGTH:
        raise Refused(wire.INVALID_TOKEN)
    if space and len(space) != wire.SPACE_ID_LENGTH:  # no spaceID: the jobs with no project (an extension)
        raise Refused(wire.BAD_SPACE_ID)
    if job_token is not None and len(job_token) != wire.TOKEN_LENGTH:
        raise Refused(wire.INVALID_TOKEN)
    return auth.actor(call, token)


def _job(call: CallInfo, token: str | None, jobToken: str | None) -> Job:
    actor = checked(call, token, job_token=jobToken or "")
    return call.jobs.get(actor, jobToken or "")


def login(call: CallInfo, username: str | None, password: str | None) -> str:
    for value, field in ((username or "", "username"), (password or "", "password")):
        shortest = 3 if field == "username" else 5
        if len(value) <= shortest:
            raise Refused(f"{field} must be longer than {shortest} characters")
        if len(value) >= 256:
            raise Refused(f"{field} must be shorter than 256 characters")
    return auth.login(call, username or "", password or "")


def logout(call: CallInfo, token: str | None) -> None:
    checked(call, token)
    auth.logout(call, token or "")


def cancel_job(call: CallInfo, token: str | None, spaceID: str | None, jobToken: str | None) -> bool:
    """seed 002: true when the cancel request was accepted (now Canceling, or Cancelled if it never started);
    false for a final job, one outside spaceID, an unknown one or another user's (no existence leak)."""
    actor = checked(call, token, spaceID, jobToken or "")
    return call.jobs.try_cancel(actor, jobToken or "", project=spaceID or "") is not None


def clear_job_status(call: CallInfo, token: str | None, spaceID: str | None, jobToken: str | None) -> bool:
    """A job stuck in processing is asked to stop, as by cancelJob; one whose runner is gone is ended by the
    watchdog (Canceling past the grace → Failed), so the space clears either way."""
    return cancel_job(call, token, spaceID, jobToken)


def is_job_complete(call: CallInfo, token: str | None, jobToken: str | None) -> bool:
    return wire.is_complete(_job(call, token, jobToken))


def get_job_status(call: CallInfo, token: str | None, jobToken: str | None) -> wire.StatusResult:
    return wire.status_result(_job(call, token, jobToken), wire.STATUS)


def get_detailed_job_status(call: CallInfo, token: str | None, jobToken: str | None) -> wire.StatusResult:
    return wire.status_result(_job(call, token, jobToken), wire.DETAILED_STATUS)


def get_publishing_status(call: CallInfo, token: str | None, publishingToken: str | None) -> list[str]:
    return [wire.STATUS[_job(call, token, publishingToken).state]]


def publish_data(
    call: CallInfo, token: str | None, spaceID: str | None, subgroups: Sequence[str | None] | None, date: datetime
) -> str:
    """Starts the publishing task in the space and answers its job token (the job's key)."""
    actor = checked(call, token, spaceID)
    params = wire.publish_params(subgroups, date)
    spec = JobSpec(wire.PUBLISH_TASK, params, project=spaceID or "", name="publishData")
    return call.jobs.submit(actor, spec).key


def get_load_status(call: CallInfo, token: str | None, spaceID: str | None) -> str:
    actor = checked(call, token, spaceID)
    busy = call.jobs.list_jobs(actor, JobFilter(project=spaceID or "", states=wire.PROCESSING, limit=1))
    return wire.LOAD_PROCESSING if busy else wire.LOAD_AVAILABLE


def clear_cache_in_space(call: CallInfo, token: str | None, spaceID: str | None) -> bool:
    checked(call, token, spaceID)
    return True  # jobgate keeps no per-space cache: there is nothing to clear


def not_supported(call: CallInfo, token: str | None) -> str:
    checked(call, token)
    raise Refused(wire.NOT_SUPPORTED)


FAST_OPS: Final[Mapping[str, FastOp]] = {"cancelJob": cancel_job, "getJobStatus": get_job_status}
