"""jobs.asmx and casusers.asmx as Spyne services: each method parses, calls the service layer, maps back."""

from typing import Any

from spyne import ServiceBase, rpc
from spyne.model.primitive import Boolean, Integer32, Long, Unicode

from jobgate.dialects.casjobs import operations, wire
from jobgate.dialects.common.calls import CallInfo
from jobgate.domain.errors import InvalidRequest
from jobgate.domain.model import Credentials, Job, JobFilter, JobSpec

Required = Long(min_occurs=1, nillable=False)
Text = Unicode(min_occurs=0, nillable=False)


def _sql_spec(qry: str | None, context: str | None, taskname: str | None, **extra: Any) -> JobSpec:
    if not qry or not qry.strip():
        raise InvalidRequest("The query is empty.")
    return JobSpec("sql", {"query": qry, "context": context or "MyDB"}, name=taskname or "", **extra)


def _table_name(name: str | None) -> str:
    if not name or not name.strip():
        raise InvalidRequest("The table name is empty.")
    return name.strip()


class JobsService(ServiceBase):  # type: ignore[misc]
    __service_name__ = "Jobs"

    @rpc(Required, Text, Required, _returns=None)
    def CancelJob(ctx: Any, wsId: int, pw: str, jobId: int) -> None:
        """Schedules a non-quick job for cancellation. Has no effect on quick jobs. Users may only cancel
        jobs they own, otherwise an exception is thrown. Does nothing if jobId is not an actual job.
        Otherwise returns once the status of the job has changed to 'Canceling' (2)."""
        operations.cancel_job(ctx.udc, wsId, pw, jobId)

    @rpc(Required, Text, Required, _returns=Integer32(min_occurs=1, nillable=False))
    def GetJobStatus(ctx: Any, wsId: int, pw: str, jobId: int) -> int:
        """Returns the status of a job: 0 ready, 1 started, 2 canceling, 3 cancelled, 4 failed, 5 finished."""
        return operations.get_job_status(ctx.udc, wsId, pw, jobId)

    @rpc(Required, Text, Text, Text, Text, Integer32(min_occurs=1, nillable=False), _returns=Required)
    def SubmitJob(ctx: Any, wsid: int, pw: str, qry: str, context: str, taskname: str, estimate: int) -> int:
        """Submits a query as a batch job in the given context and returns its job id. A query of the form
        SELECT … INTO mydb.table stores its result in your MyDB."""
        call: CallInfo = ctx.udc
        spec = _sql_spec(qry, context, taskname, queue="long")
        return call.jobs.submit(operations.login(call, wsid, pw), spec).id

    @rpc(Required, Text, Text, Text, Text, Boolean(min_occurs=1, nillable=False), _returns=Text)
    def ExecuteQuickJob(ctx: Any, wsid: int, pw: str, qry: str, context: str, taskname: str, isSystem: bool) -> str:
        """Runs a query synchronously (time-limited) and returns its result as CSV text: a header line of
        [column]:Type descriptors, then one line per row."""
        call: CallInfo = ctx.udc
        spec = _sql_spec(qry, context, taskname, queue="quick", system=bool(isSystem))
        _job, result = call.jobs.execute(operations.login(call, wsid, pw), spec)
        if result.table is None:
            return "\n"
        return wire.quick_csv(result.table)

    @rpc(Required, Text, Text, Boolean(min_occurs=1, nillable=False), _returns=wire.ArrayOfCJJob)
    def GetJobs(ctx: Any, owner_wsid: int, owner_pw: str, conditions: str, includeSystem: bool) -> list[wire.CJJob]:
        """Returns the caller's jobs that match the conditions: "key : value | low,high ; key : …" with keys
        JobID, TimeSubmit, TimeStart, TimeEnd, Status, Queue, TaskName, Error, Query, Context, Type, and
        WSID (administrators only)."""
        call: CallInfo = ctx.udc
        actor = operations.login(call, owner_wsid, owner_pw)
        found = wire.parse_conditions(conditions)
        if any(c.key == "wsid" for c in found) and not actor.is_admin:
            raise InvalidRequest("Only administrators may use the WSID condition.")
        jobs = call.jobs.list_jobs(actor, JobFilter(include_system=bool(includeSystem)))
        wsids = _wsids(call, jobs)
        return [
            wire.cjjob(job, wsids[job.owner], call.base_url)
            for job in jobs
            if wire.matches(wire.job_fields(job, wsids[job.owner]), found)
        ]

    @rpc(Required, Text, Text, Text, _returns=Required)
    def SubmitExtractJob(ctx: Any, wsid: int, pw: str, tableName: str, type: str) -> int:
        """Submits a job that exports a MyDB table to a file and returns its job id. type is CSV or VOTable
        (DataSet and FITS are not supported). Once the job has finished, its OutputLoc (GetJobs) is the
        URL of the file."""
        call: CallInfo = ctx.udc
        params = {"table": _table_name(tableName), "format": wire.extract_format(type)}
        return call.jobs.submit(operations.login(call, wsid, pw), JobSpec("extract", params, queue="long")).id

    @rpc(Required, Text, Text, Text, Boolean(min_occurs=1, nillable=False), _returns=None)
    def UploadData(ctx: Any, wsid: int, pw: str, tableName: str, data: str, tableExists: bool) -> None:
        """Loads CSV text (a header row of column names, then one row per line) into a MyDB table: a new
        table, or with tableExists an existing one. Values are typed by content: integer, float, else text."""
        call: CallInfo = ctx.udc
        if not data or not data.strip():
            raise InvalidRequest("The data is empty.")
        params = {"table": _table_name(tableName), "data": data, "exists": bool(tableExists)}
        call.jobs.execute(operations.login(call, wsid, pw), JobSpec("upload", params, queue="quick"))

    @rpc(Required, Text, _returns=wire.ArrayOfCJQueue)
    def GetQueues(ctx: Any, wsid: int, pw: str) -> list[wire.CJQueue]:
        """Returns the queues jobs may run in: a Context and its Timeout in seconds."""
        operations.login(ctx.udc, wsid, pw)
        return [wire.CJQueue(Context="MyDB", Timeout=t) for t in (wire.QUICK_QUEUE, wire.LONG_QUEUE)]

    @rpc(Required, Text, _returns=wire.ArrayOfCJType)
    def GetJobTypes(ctx: Any, wsid: int, pw: str) -> list[wire.CJType]:
        """Returns the kinds of jobs this service runs."""
        operations.login(ctx.udc, wsid, pw)
        return [wire.CJType(Type=t, Description=d) for t, d in wire.JOB_TYPES]


def _wsids(call: CallInfo, jobs: list[Job]) -> dict[str, int]:
    """Owner name → wsid for the owners of these jobs, in one look-up (0 for an owner with none)."""
    owners = {job.owner for job in jobs}
    found = call.identity.aliases(wire.WSID, owners)
    return {owner: int(found.get(owner, 0)) for owner in owners}


class CasUsersService(ServiceBase):  # type: ignore[misc]
    __service_name__ = "CasUsers"

    @rpc(Text, Text, _returns=Required)
    def GetWebServiceId(ctx: Any, userid: str, password: str) -> int:
        """Returns the WebServicesID of a user name and password, or -1 if they do not match."""
        call: CallInfo = ctx.udc
        user = call.identity.check_login(Credentials(userid or "", password or "", client=call.client))
        wsid = call.identity.alias(user.name, wire.WSID) if user is not None else None
        return -1 if wsid is None else int(wsid)
