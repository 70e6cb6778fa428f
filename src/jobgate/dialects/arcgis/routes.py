"""The ArcGIS routes: each reads its parameters (query string and form body, under the body cap), calls its
operation off the event loop and renders the answer as f asks; every error goes through `_refusal`, the one
place the error table is applied."""

import asyncio
import logging
import platform
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, QueryParams
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from jobgate.dialects.arcgis import auth, operations, wire
from jobgate.dialects.arcgis.errors import BadInput, MethodRefused, wire_error
from jobgate.dialects.arcgis.waits import MAX_WAIT_S, JobWaits
from jobgate.dialects.common import DialectOptions, Services
from jobgate.dialects.common.body import ClientGone, form_pairs, read_body
from jobgate.dialects.common.http import request_base_url
from jobgate.dialects.common.jsonbody import parse_json
from jobgate.domain.errors import JobNotFound
from jobgate.domain.model import Actor, IssuedToken
from jobgate.domain.states import is_terminal
from jobgate.services import JobService

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_FIELDS: Final = 1_000
FORM: Final = "application/x-www-form-urlencoded"
READS: Final = frozenset({"GET", "POST"})
POSTS: Final = frozenset({"POST"})
EVERY_METHOD: Final = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


@dataclass(frozen=True, slots=True)
class Call:
    """One request, read: its parameters (the form body's win over the query string's), the body's alone,
    the path parameters, and what the operation needs besides."""

    services: Services
    waits: JobWaits
    options: DialectOptions
    scope: Scope
    params: Mapping[str, str]
    form: Mapping[str, str]
    path: Mapping[str, str]
    inline: bool = False  # a hot call on SQLite: run on the event loop (JOBGATE_INLINE_HOT_PATH)

    def token(self, *, body_only: bool = False) -> str | None:
        """`token` from the body (or also the query string), else `X-Esri-Authorization: Bearer …` ([RJS])."""
        token = (self.form if body_only else self.params).get("token")
        if token or body_only:
            return token
        scheme, _, value = Headers(scope=self.scope).get("x-esri-authorization", "").partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    async def as_caller(
        self, operation: Callable[..., T], *args: Any, admin: bool = False, body_only: bool = False
    ) -> tuple[Actor, T]:
        """Check the token and run `operation(jobs, actor, *args)`, in one trip off the event loop."""
        check = auth.administrator if admin else auth.actor
        token = self.token(body_only=body_only)

        def run() -> tuple[Actor, T]:
            actor = check(self.services.identity, token)
            return actor, operation(self.jobs, actor, *args)

        # a token check costs one indexed look-up, no hash: on SQLite, a hot call's two short statements cost
        # less on the loop than the trip to a worker thread and back (as CasJobs' verified calls do)
        return run() if self.inline else await run_in_threadpool(run)

    @property
    def jobs(self) -> JobService:
        return self.services.jobs

    @property
    def base_url(self) -> str:
        return request_base_url(self.scope, self.options.public_url)


Handler = Callable[[Call], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True, slots=True)
class Operation:
    name: str  # the error table's operation name, and the HTML page's title
    admin: bool  # the Administrator API's JSON and error shapes, else the REST API's
    methods: frozenset[str]
    handler: Handler
    hot: bool = False  # called all the time (status, cancel): dispatched ahead of the router, maybe inline


class Endpoint:
    """The ASGI app of one operation."""

    def __init__(self, op: Operation, services: Services, waits: JobWaits, options: DialectOptions) -> None:
        self.op, self.services, self.waits, self.options = op, services, waits, options

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = QueryParams(scope.get("query_string", b""))
        fmt = _format(query.get("f"), default=wire.Format.HTML)
        try:
            if scope["method"] not in self.op.methods:
                raise MethodRefused()
            form = await _read_form(scope, receive, self.options.max_body_bytes)
            params = {**query, **form}
            fmt = _format(params.get("f"), default=wire.Format.HTML)
            if fmt is None:
                fmt = wire.Format.JSON
                raise BadInput("'f' must be html, json or pjson.")
            path = {k: str(v) for k, v in scope.get("path_params", {}).items()}
            inline = self.op.hot and self.options.inline_hot_path
            call = Call(self.services, self.waits, self.options, scope, params, form, path, inline)
            payload = await self.op.handler(call)
            response = self._render(payload, fmt)
        except ClientGone:
            return
        except Exception as exc:
            response = self._refusal(exc, fmt or wire.Format.JSON, scope)
        await response(scope, receive, send)

    def _render(self, payload: Mapping[str, Any], fmt: wire.Format, status: int = 200) -> Response:
        json_media = wire.JSON_ADMIN if self.op.admin else wire.JSON_REST
        media = wire.HTML if fmt is wire.Format.HTML else json_media
        return Response(wire.encode(payload, fmt, self.op.name), status, media_type=media)

    def _refusal(self, exc: Exception, fmt: wire.Format, scope: Scope) -> Response:
        job = str(scope.get("path_params", {}).get("job_id", ""))
        request_id = scope.get("state", {}).get("request_id", "-")
        payload, _code, http = wire_error(exc, self.op.name, self.op.admin, job, request_id)
        if http >= 500:  # not a refusal: a fault, logged under the request id (the client sees none of it)
            log.error("arcgis %s failed (request %s)", self.op.name, request_id, exc_info=exc)
        # arcgis.md: ArcGIS answers refusals with HTTP 200 and the code in the body; an HTML page carries
        # the status; a body over the cap is 413, a busy server 503 and a fault 500 whatever f says
        status = http if fmt is wire.Format.HTML or http in (413, 500, 503) else 200
        return self._render(payload, fmt, status)


def _format(value: str | None, default: wire.Format) -> wire.Format | None:
    if value is None or value == "":
        return default
    try:
        return wire.Format(value.lower())
    except ValueError:
        return None


async def _read_form(scope: Scope, receive: Receive, limit: int) -> dict[str, str]:
    """The form-encoded body's fields (arcgis.md: requests are form-encoded); none for a body-less call."""
    if scope["method"] in ("GET", "HEAD"):
        return {}
    body = await read_body(scope, receive, limit)
    if not body.strip():
        return {}
    media = Headers(scope=scope).get("content-type", FORM).split(";")[0].strip().lower()
    if media != FORM:
        raise BadInput("Send the parameters form-encoded (application/x-www-form-urlencoded).")
    try:
        pairs = await form_pairs(body, MAX_FIELDS, strict=True)
    except (UnicodeDecodeError, ValueError):
        raise BadInput("The form body is not valid UTF-8 form data, or has too many fields.") from None
    return dict(pairs)


# -- the operations ------------------------------------------------------------------------------------
def _expiry_param(call: Call) -> str | None:
    return call.form.get("expiration")


async def rest_token(call: Call) -> Mapping[str, Any]:
    issued = await _issue(call)
    return wire.rest_token(issued.token, auth.expires_ms(issued), ssl=call.scope.get("scheme") == "https")


async def admin_token(call: Call) -> Mapping[str, Any]:
    issued = await _issue(call)
    return wire.admin_token(issued.token, auth.expires_ms(issued))


async def _issue(call: Call) -> IssuedToken:
    """Credentials come from the body only ([GP]: POST, credentials in the body), never the URL."""
    form, client = call.form, str((call.scope.get("client") or ("", 0))[0])
    username, password, expiration = form.get("username", ""), form.get("password", ""), _expiry_param(call)
    identity = call.services.identity
    return await run_in_threadpool(auth.generate_token, identity, username, password, expiration, client)


async def admin_job(call: Call) -> Mapping[str, Any]:
    _, job = await call.as_caller(operations.job, call.path["job_id"], call.path["service"], admin=True)
    return wire.admin_job(job, call.base_url + wire.rest_job_path(job), _MACHINE)


async def admin_query(call: Call) -> Mapping[str, Any]:
    asked = _job_query(call)
    _, (total, page) = await call.as_caller(operations.query, asked, admin=True)
    jobs = [wire.admin_job(job, call.base_url + wire.rest_job_path(job), _MACHINE) for job in page]
    return wire.job_page(total, asked.start, jobs)


def _job_query(call: Call) -> operations.JobQuery:
    params = call.params
    since = _whole(params.get("startTime"), "startTime", minimum=0)
    if since is None:
        raise BadInput("'startTime' (milliseconds since the epoch) is required.")
    until = _whole(params.get("endTime"), "endTime", minimum=0)
    status = params.get("jobStatus") or None
    states = wire.admin_states(status) if status else None
    if status and not states:
        raise BadInput(f"'jobStatus' must be one of {', '.join(sorted(set(wire.ADMIN_STATUS.values())))}.")
    return operations.JobQuery(
        call.path["service"], wire.from_millis(since), None if until is None else wire.from_millis(until), states,
        params.get("userName") or None, _whole(params.get("start"), "start", minimum=1) or 1,
        min(_whole(params.get("number"), "number", minimum=1) or 10, MAX_PAGE),
    )  # fmt: skip


def _whole(value: str | None, name: str, minimum: int) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadInput(f"'{name}' must be a whole number.") from None
    if number < minimum or number > 10**15:
        raise BadInput(f"'{name}' must be a whole number from {minimum}.")
    return number


async def admin_cancel(call: Call) -> Mapping[str, Any]:
    # seed 004: admin POSTs carry the token in the body
    args = (call.path["job_id"], call.path["service"])
    await call.as_caller(operations.admin_cancel, *args, admin=True, body_only=True)
    return wire.SUCCESS


async def admin_delete(call: Call) -> Mapping[str, Any]:
    text, jobs = call.path["job_id"], call.jobs
    actor, pending = await call.as_caller(operations.start_delete, text, call.path["service"], admin=True,
                                          body_only=True)  # fmt: skip
    if pending is not None:  # a running task was asked to stop: hide the job once it has
        grace = jobs.runtime.cancel_grace_s + jobs.runtime.cancel_margin_s
        await _until_ended(call, actor, pending.id, grace)
        await run_in_threadpool(operations.finish_delete, jobs, actor, pending.id, text)
    return wire.SUCCESS


async def _until_ended(call: Call, actor: Actor, job_id: int, timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while (left := deadline - loop.time()) > 0:
        current = await run_in_threadpool(call.jobs.get, actor, job_id)
        if is_terminal(current.state):
            return
        await call.waits.changed(job_id, current.state, left)


async def submit_job(call: Call) -> Mapping[str, Any]:
    inputs = {name: _input(value) for name, value in call.params.items() if name not in wire.RESERVED}
    _, job = await call.as_caller(operations.submit, call.path["service"], call.path["task"], inputs)
    return wire.submitted(job)


def _input(value: str) -> Any:
    """A GP input: JSON objects and arrays pass the JSON gate (its depth and size caps); the rest stay text."""
    stripped = value.strip()
    if stripped[:1] in ("{", "["):
        return parse_json(stripped.encode())
    return value


async def job_status(call: Call) -> Mapping[str, Any]:
    """GP job status; with `wait=<s>` (jobgate extension) it answers once the state changes or time is up."""
    wait_s = _wait_seconds(call.params.get("wait"))
    messages = call.params.get("returnMessages", "true").lower() != "false"
    where = (call.path["job_id"], call.path["service"], call.path["task"])
    actor, (job, events) = await call.as_caller(operations.job_with_messages, *where)
    if wait_s > 0 and not is_terminal(job.state) and await call.waits.changed(job.id, job.state, wait_s):
        # the waiters one change wakes, asking as the same user about the same job, share one re-read
        job, events = await call.waits.read_once(
            (actor, *where), lambda: operations.job_with_messages(call.jobs, actor, *where)
        )
    return wire.rest_job(job, events if messages else None)


def _wait_seconds(value: str | None) -> float:
    if value is None or not value.strip():
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        raise BadInput(f"'wait' must be a number of seconds from 0 to {MAX_WAIT_S:g}.") from None
    if not 0 <= seconds <= MAX_WAIT_S:
        raise BadInput(f"'wait' must be a number of seconds from 0 to {MAX_WAIT_S:g}.")
    return seconds


async def rest_cancel(call: Call) -> Mapping[str, Any]:
    where = (call.path["job_id"], call.path["service"], call.path["task"])
    _, job = await call.as_caller(operations.rest_cancel, *where)
    return wire.rest_cancelled(job)


async def job_parameter(call: Call) -> Mapping[str, Any]:
    """GP `…/jobs/<jobId>/results/<name>` and `…/inputs/<name>` (what Esri's getResult fetches)."""
    path = call.path
    where = (path["job_id"], path["service"], path["task"], path["kind"], path["name"])
    _, found = await call.as_caller(operations.job_parameter, *where)
    return dict(found)


async def invalid_url(call: Call) -> Mapping[str, Any]:
    raise JobNotFound(call.scope.get("path", ""))


_MACHINE: Final = platform.node() or "jobgate"


# -- the routing table ---------------------------------------------------------------------------------
JOB: Final = "/jobs/{job_id}"
ADMIN_JOB: Final = f"{wire.ADMIN}/services/{{service}}{wire.GP_SUFFIX}{JOB}"
GP_TASK: Final = f"{wire.REST}/{{service}}/GPServer/{{task}}"

MAX_PAGE: Final = 1_000
HOT: Final = (
    # first what Esri's clients poll (each request tries these in order)
    (f"{GP_TASK}{JOB}", Operation("status", False, READS, job_status, hot=True)),
    (f"{GP_TASK}{JOB}/cancel", Operation("cancel", False, READS, rest_cancel, hot=True)),
    # before the job's own path, which would take `query` for a job id
    (f"{wire.ADMIN}/services/{{service}}{wire.GP_SUFFIX}/jobs/query", Operation("query", True, READS, admin_query)),
    (ADMIN_JOB, Operation("job", True, READS, admin_job, hot=True)),
    (f"{ADMIN_JOB}/cancel", Operation("cancel", True, POSTS, admin_cancel, hot=True)),
)
COLD: Final = (
    (f"{ADMIN_JOB}/delete", Operation("delete", True, POSTS, admin_delete)),
    (f"{wire.ADMIN}/generateToken", Operation("generateToken", True, POSTS, admin_token)),
    (f"{wire.ROOT}/tokens/generateToken", Operation("generateToken", False, POSTS, rest_token)),
    (f"{GP_TASK}/submitJob", Operation("submitJob", False, READS, submit_job)),
    (f"{GP_TASK}{JOB}/{{kind}}/{{name}}", Operation("parameter", False, READS, job_parameter)),
)
FALLBACK: Final = (f"{wire.ROOT}/{{rest:path}}", Operation("invalid", False, frozenset(EVERY_METHOD), invalid_url))


def build(services: Services, options: DialectOptions) -> tuple[list[BaseRoute], list[BaseRoute]]:
    """(every route, the hot ones); each path also answers with a trailing slash (arcgis.md [REC])."""
    waits = JobWaits(services.jobs)

    def routes(table: tuple[tuple[str, Operation], ...]) -> list[BaseRoute]:
        made: list[BaseRoute] = []
        for path, op in table:
            endpoint = Endpoint(op, services, waits, options)
            made += [Route(p, endpoint, methods=EVERY_METHOD) for p in (path, path + "/")]
        return made

    hot = routes(HOT)
    fallback = Route(FALLBACK[0], Endpoint(FALLBACK[1], services, waits, options), methods=EVERY_METHOD)
    return [*hot, *routes(COLD), fallback], hot
