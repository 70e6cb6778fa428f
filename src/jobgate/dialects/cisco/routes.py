"""The Cisco routes: one pure-ASGI app under /webacs/api/ that reads the path, the method, the format and
the credentials, calls operations.py in a worker thread, and writes the answer, or the errorDocument of
whatever the request ended in (errors.ERRORS, applied here and nowhere else)."""

import json
import logging
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from jobgate.dialects.cisco import auth, operations, wire
from jobgate.dialects.cisco.document import Node, Version, to_json, to_xml
from jobgate.dialects.cisco.errors import (
    ERRORS,
    UNEXPECTED,
    MethodNotAllowed,
    NoCredentials,
    NotAcceptable,
    RateLimited,
    UnknownResource,
    UnsupportedMediaType,
)
from jobgate.dialects.cisco.payload import ids_of
from jobgate.dialects.cisco.query import DEFAULT_MAX, LIMIT_MAX, parse_query, parse_runs
from jobgate.dialects.cisco.wire import Operation, Urls
from jobgate.dialects.common.body import ClientGone, read_body
from jobgate.dialects.common.http import request_base_url
from jobgate.dialects.common.seam import DialectOptions, Services
from jobgate.domain.errors import BadCredentials
from jobgate.domain.model import Actor, Credentials

log = logging.getLogger(__name__)

OPERATION_PATH: Final = wire.PREFIX + "/{version}/op/jobService/{op}"
ANY_PATH: Final = wire.PREFIX + "/{rest:path}"
WRITE_METHODS: Final = ("PUT", "POST")  # cisco.md: PUT documented, POST accepted [REC]
READ_METHODS: Final = ("GET", "HEAD")
INLINE_BODY_MAX: Final = 2048  # a payload this small is cheap enough to answer on the event loop
_XML_TYPES: Final = frozenset({"application/xml", "text/xml"})
_ANY_TYPES: Final = frozenset({"*/*", "application/*"})
VERSIONS: Final = frozenset(version.value for version in Version)


@dataclass(frozen=True, slots=True)
class Target:
    """What a path names: an operation, runhistory, JobSummary (all of them, or one), or the rate limits."""

    kind: str  # "operation", "runhistory", "summaries", "summary", "ratelimits"
    operation: Operation | None = None
    job_id: int | None = None

    @property
    def writes(self) -> bool:
        return self.operation is not None


@dataclass(frozen=True, slots=True)
class Call:
    version: Version
    json: bool
    method: str
    uri_path: str  # the path below /webacs/api/<v>, as errorDocument writes it
    base: str  # scheme://host/webacs/api/<v>
    params: tuple[tuple[str, str], ...]
    range: str | None = None  # a Range header (`instances=0-3`: JobSummary paging)

    def urls(self, section: str) -> Urls:
        """requestUrl is the URL asked for (with `.json` when used; cisco.md [REC]); rootUrl its section's."""
        return Urls(self.base + self.uri_path, f"{self.base}/{section}")


@dataclass(frozen=True, slots=True)
class Answer:
    root: str
    tree: Node
    sort: bool = True  # v2/v3 sort keys (seed 003); the errorDocument keeps its order everywhere
    headers: tuple[tuple[str, str], ...] = ()


class CiscoApi:
    def __init__(self, services: Services, options: DialectOptions) -> None:
        self.jobs, self.identity, self.options = services.jobs, services.identity, options
        self.in_flight = auth.InFlight(options.max_in_flight_per_user)
        # workers for requests naming many ids; started when first needed, idle ones cost nothing
        self.batch = (ThreadPoolExecutor(options.batch_workers, thread_name_prefix="cisco-batch")
                      if options.batch_workers > 1 else None)  # fmt: skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        call = _call(scope, self.options.public_url)
        headers: dict[str, str] = {}
        try:
            status, answer = 200, await self._answer(scope, receive, call)
            headers = dict(answer.headers)
        except ClientGone:
            return
        except Exception as exc:  # the one place errors become errorDocuments
            status, answer, headers = self._refusal(scope, call, exc)
        try:
            body = _render(call, answer)
        except Exception as exc:  # an answer that cannot be written is a server error, never a traceback
            status, answer, headers = self._refusal(scope, call, exc)
            body = _render(call, answer)
        headers |= {"content-type": wire.JSON_MEDIA if call.json else wire.XML_MEDIA, "content-length": str(len(body))}
        raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": b"" if call.method == "HEAD" else body})

    async def _answer(self, scope: Scope, receive: Receive, call: Call) -> Answer:
        target = _target(call)
        allowed = WRITE_METHODS if target.writes else READ_METHODS
        if call.method not in allowed:
            raise MethodNotAllowed(", ".join(allowed))
        _negotiate(scope, call)
        creds = auth.credentials(scope)
        body = await read_body(scope, receive, self.options.max_body_bytes) if target.writes else b""
        json_body = _body_is_json(scope, call) if target.writes else False

        def work() -> Answer:
            actor = auth.login(self.identity, creds, write=target.writes)
            with self.in_flight.slot(actor.name):
                return self._work(actor, target, call, body, json_body)

        if self._may_inline(creds, target, body):
            return work()  # the password was checked moments ago: no hash, a few milliseconds of work
        return await anyio.to_thread.run_sync(work)

    def _may_inline(self, creds: Credentials, target: Target, body: bytes) -> bool:
        """A few ids, or one job's summary: a few milliseconds of work, cheaper than a thread hop."""
        small = (target.writes and len(body) <= INLINE_BODY_MAX) or target.kind == "summary"
        return self.options.inline_hot_path and small and auth.is_verified(self.identity, creds)

    def _work(self, actor: Actor, target: Target, call: Call, body: bytes, json_body: bool) -> Answer:
        if target.operation is not None:
            ids = ids_of(body, wire.PAYLOADS[target.operation], json=json_body)
            verdicts = operations.operate(self.jobs, actor, target.operation, ids, self.batch)
            return Answer("mgmtResponse", wire.operation_result(target.operation, call.urls("op"), verdicts))
        if target.kind == "runhistory":
            runs = operations.run_histories(self.jobs, actor, parse_runs(call.params))
            return Answer("mgmtResponse", wire.run_history(call.urls("op"), runs))
        if target.kind == "ratelimits":
            limits = wire.RateLimits(DEFAULT_MAX, LIMIT_MAX, self.options.max_in_flight_per_user)
            return Answer("mgmtResponse", wire.rate_limits(call.urls("op"), limits))
        return self._summaries(actor, target, call)

    def _summaries(self, actor: Actor, target: Target, call: Call) -> Answer:
        urls = call.urls("data")

        def entity_url(job_id: int) -> str:
            return f"{call.base}/data/{wire.SUMMARY_TYPE}/{job_id}"

        if target.job_id is not None:
            job = operations.summary(self.jobs, actor, target.job_id)
            item = wire.summary_entity(job, entity_url(job.id))
            return Answer("queryResponse", wire.query_response(urls, wire.Page(0, 1), [item], full=True, single=True))
        query = parse_query(call.params, call.range)
        count, page = operations.summaries(self.jobs, actor, query)
        build = wire.summary_entity if query.full else wire.entity_id
        items = [build(job, entity_url(job.id)) for job in page]
        tree = wire.query_response(urls, wire.Page(query.first, count), items, full=query.full)
        ranged = (("content-range", wire.content_range(query.first, len(items), count)),) if call.range else ()
        return Answer("queryResponse", tree, headers=ranged)

    def _refusal(self, scope: Scope, call: Call, exc: Exception) -> tuple[int, Answer, dict[str, str]]:
        row = ERRORS.lookup(exc) or UNEXPECTED
        document = row.document(exc)
        if row is UNEXPECTED:
            request_id = scope.get("state", {}).get("request_id", "-")
            log.error("unhandled error in %s %s (request id %s)", call.method, call.uri_path, request_id, exc_info=exc)
            document = wire.ErrorDocument(document.status, document.id, f"{document.message} (request id {request_id})")
        query = json.dumps({name: value for name, value in call.params})
        tree = wire.error_document(document, call.method, call.uri_path, query)
        return document.status, Answer("errorDocument", tree, sort=False), _headers_for(exc)


def _render(call: Call, answer: Answer) -> bytes:
    if call.json:
        return to_json(answer.root, answer.tree, call.version, sort=answer.sort)
    return to_xml(answer.root, answer.tree)


def _headers_for(exc: Exception) -> dict[str, str]:
    if isinstance(exc, MethodNotAllowed):
        return {"allow": exc.allow}
    if isinstance(exc, RateLimited):
        return {"retry-after": "1"}
    if isinstance(exc, NoCredentials | BadCredentials):
        return {"www-authenticate": wire.REALM}
    return {}


def _call(scope: Scope, public_url: str | None) -> Call:
    """The facts of the request; a path whose version is not served is answered as v3 would be."""
    below = scope["path"][len(wire.PREFIX) :]
    segment, _, rest = below.lstrip("/").partition("/")
    known = segment in VERSIONS
    version = Version(segment) if known else Version.V3
    uri_path = "/" + rest if known else below
    query = urllib.parse.parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    base = f"{request_base_url(scope, public_url)}{wire.PREFIX}/{version}"
    wanted = Headers(scope=scope).get("range")
    return Call(version, _wants_json(scope, uri_path), scope["method"], uri_path, base, tuple(query), wanted)


def _wants_json(scope: Scope, uri_path: str) -> bool:
    """cisco.md [REC]: the `.json` suffix, else an Accept naming application/json, else XML."""
    if uri_path.endswith(wire.JSON_SUFFIX):
        return True
    accept = Headers(scope=scope).get("accept", "")
    return wire.JSON_MEDIA in accept and not any(kind in accept for kind in _XML_TYPES)


def _negotiate(scope: Scope, call: Call) -> None:
    accept = Headers(scope=scope).get("accept")
    if accept is None or call.json:
        return
    kinds = {part.split(";")[0].strip() for part in accept.split(",")}
    if not kinds & (_XML_TYPES | _ANY_TYPES | {wire.JSON_MEDIA, ""}):
        raise NotAcceptable()


def _body_is_json(scope: Scope, call: Call) -> bool:
    """The request body's format follows its Content-Type, else the path's suffix (cisco.md [REC])."""
    media = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
    if not media:
        return call.json
    if media == wire.JSON_MEDIA or media.endswith("+json"):
        return True
    if media in _XML_TYPES or media.endswith("+xml"):
        return False
    raise UnsupportedMediaType()


def _target(call: Call) -> Target:
    path = call.uri_path.removesuffix(wire.JSON_SUFFIX)
    parts = path.strip("/").split("/")
    if parts[:2] == ["op", "jobService"] and len(parts) == 3:
        if parts[2] in wire.OPERATIONS:
            return Target("operation", wire.OPERATIONS[parts[2]])
        if parts[2] == "runhistory":
            return Target("runhistory")
    if parts == ["op", "rateService", "rateLimits"]:
        return Target("ratelimits")
    if parts[:2] == ["data", wire.SUMMARY_TYPE]:
        if len(parts) == 2:
            return Target("summaries")
        if len(parts) == 3 and parts[2].isdecimal() and parts[2].isascii() and len(parts[2]) <= 18:
            return Target("summary", job_id=int(parts[2]))
    raise UnknownResource(parts[1] if parts[0] == "data" and len(parts) > 1 else path.strip("/"))


def routes(services: Services, options: DialectOptions) -> tuple[list[BaseRoute], list[BaseRoute]]:
    """(all routes, the hot ones): the job operations are hot; reads and unknown paths go through the router."""
    api = CiscoApi(services, options)
    hot: list[BaseRoute] = [Route(OPERATION_PATH, api)]
    return [*hot, Route(ANY_PATH, api)], hot
