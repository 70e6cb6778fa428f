"""Trans-WS as one Spyne service: document/literal, bare messages named as the TC's schema names them
(`cancelJobRequest` → `cancelJobResponse`). Each method parses, calls the service layer, maps back."""

from typing import Any

from spyne import ServiceBase, rpc

from jobgate.dialects.common.calls import CallInfo
from jobgate.dialects.soap.spyne_apps import TREE_KEY
from jobgate.dialects.transws import operations, wire
from jobgate.domain.model import JobFilter, JobSpec
from jobgate.domain.states import JobState, is_terminal

_ACTIVE = frozenset(state for state in JobState if not is_terminal(state))


def _op(request: Any, response: Any, name: str) -> Any:
    """A bare operation: the request element's type is `request`, the response element's `response`.
    Spyne refuses a bare message with no fields, so an empty request is the wrapper of no parameters."""
    if not request._type_info:
        return rpc(_returns=response, _body_style="out_bare", _in_message_name=request.get_type_name(),
                   _operation_name=name)  # fmt: skip
    return rpc(request, _returns=response, _body_style="bare", _in_message_name=request.get_type_name(),
               _operation_name=name)  # fmt: skip


def _envelope(ctx: Any) -> Any:
    return ctx.transport.req[TREE_KEY]


class TransWsService(ServiceBase):  # type: ignore[misc]
    __service_name__ = "TransWS"

    @_op(wire.SubmitJobRequest, wire.SubmitJobResponse, "submitJob")
    def submitJob(ctx: Any, request: Any) -> Any:
        """Submits a job. `service` names the task (sleep), `info` its parameters as name=value;name=value
        (seconds=5), the ticket's projectId its project; the answer's ticket carries the new job's id."""
        call: CallInfo = ctx.udc
        actor = operations.login(call, _envelope(ctx))
        ticket = operations.ticket_in(request)
        if ticket.userId != actor.name:
            raise operations.NotTheCaller()
        task, params = wire.task_params(request.service, request.info)
        spec = JobSpec(task, {**params, wire.METADATA: wire.metadata(request)}, wire.project_of(ticket))
        job = call.jobs.submit(actor, spec)
        return wire.SubmitJobResponse(ticket=wire.ticket_of(job), acknowledgement=wire.SUBMITTED)

    @_op(wire.RetrieveJobInformationRequest, wire.RetrieveJobInformationResponse, "retrieveJobInformation")
    def retrieveJobInformation(ctx: Any, request: Any) -> Any:
        """The job's fields as submitted and its history: one event per change, stage/status/timeStamp."""
        call: CallInfo = ctx.udc
        actor = operations.login(call, _envelope(ctx))
        ticket = operations.ticket_in(request)
        job, events = call.jobs.history(actor, operations.job_of(call, actor, ticket).key)
        return wire.RetrieveJobInformationResponse(ticket=ticket, history=wire.history(events), **wire.job_fields(job))

    @_op(wire.RetrieveActiveJobsListRequest, wire.RetrieveActiveJobsListResponse, "retrieveActiveJobsList")
    def retrieveActiveJobsList(ctx: Any) -> Any:
        """A ticket for each of the caller's jobs that has not completed (an administrator's: everyone's)."""
        call: CallInfo = ctx.udc
        jobs = call.jobs.list_jobs(operations.login(call, _envelope(ctx)), JobFilter(states=_ACTIVE))
        return wire.RetrieveActiveJobsListResponse(ticket=[wire.ticket_of(job) for job in jobs] or None)

    @_op(wire.RetrieveFullJobsListRequest, wire.RetrieveFullJobsListResponse, "retrieveFullJobsList")
    def retrieveFullJobsList(ctx: Any) -> Any:
        """A ticket for each of the caller's jobs, completed or not (an administrator's: everyone's)."""
        call: CallInfo = ctx.udc
        jobs = call.jobs.list_jobs(operations.login(call, _envelope(ctx)))
        return wire.RetrieveFullJobsListResponse(ticket=[wire.ticket_of(job) for job in jobs] or None)

    @_op(wire.CancelJobRequest, wire.CancelJobResponse, "cancelJob")
    def cancelJob(ctx: Any, request: Any) -> Any:
        """Asks that a job that has not completed be cancelled. A request only: a running job stops soon
        after. Fails (succeeded 0) for a completed job."""
        ticket, answer = operations.control(ctx.udc, _envelope(ctx), request, "cancel")
        return wire.CancelJobResponse(ticket=ticket, succeeded=wire.digit(answer.succeeded), info=answer.info)

    @_op(wire.SuspendJobRequest, wire.SuspendJobResponse, "suspendJob")
    def suspendJob(ctx: Any, request: Any) -> Any:
        """Holds a job that has not started yet; a running or completed job cannot be suspended."""
        ticket, answer = operations.control(ctx.udc, _envelope(ctx), request, "suspend")
        return wire.SuspendJobResponse(ticket=ticket, succeeded=wire.digit(answer.succeeded), info=answer.info)

    @_op(wire.ResumeJobRequest, wire.ResumeJobResponse, "resumeJob")
    def resumeJob(ctx: Any, request: Any) -> Any:
        """Releases a suspended job to run."""
        ticket, answer = operations.control(ctx.udc, _envelope(ctx), request, "resume")
        return wire.ResumeJobResponse(ticket=ticket, succeeded=wire.digit(answer.succeeded), info=answer.info)

    @_op(wire.RejectJobRequest, wire.RejectJobResponse, "rejectJob")
    def rejectJob(ctx: Any, request: Any) -> Any:
        """Rejects the result of a finished job, with a reason; the rejection shows in its history."""
        call: CallInfo = ctx.udc
        actor = operations.login(call, _envelope(ctx))
        ticket = operations.ticket_in(request)
        job = operations.finished_job(call, actor, ticket)
        reason = (request.reason or "").strip() or "no reason given"
        call.jobs.reject(actor, job.key, reason)
        return wire.RejectJobResponse(ticket=ticket, acknowledgement=wire.rejected(reason))

    @_op(wire.RetrieveJobRequest, wire.RetrieveJobResponse, "retrieveJob")
    def retrieveJob(ctx: Any, request: Any) -> Any:
        """Where the result of a finished job is; fails for a job that has not finished."""
        call: CallInfo = ctx.udc
        actor = operations.login(call, _envelope(ctx))
        ticket = operations.ticket_in(request)
        operations.finished_job(call, actor, ticket)
        # jobgate keeps a finished job's result in the store (its history, rows, MyDB table), not as a file
        # to download, and sets no deadline for a rejection: both elements come empty
        return wire.RetrieveJobResponse(
            ticket=ticket, resource=wire.Resource(), rejectionDeadline=wire.RejectionDeadline()
        )
