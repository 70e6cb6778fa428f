"""Operations endpoints and cross-cutting HTTP concerns: health, readiness, metrics, the index page,
request ids and the one access-log line per request."""

import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from lxml import etree
from lxml.html import builder as h
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobgate.accesslog import AccessLog
from jobgate.dialects.common import IndexLink
from jobgate.domain.model import Channel
from jobgate.domain.states import Action
from jobgate.services import JobService

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_NOSNIFF: Final = (b"x-content-type-options", b"nosniff")

log = logging.getLogger(__name__)

OPS: Final = "ops"  # the label of requests no dialect answered (health, metrics, the index, unknown paths)


def dialect_of(scope: Scope) -> str:
    """The dialect whose route answered the request (set by its route as it handles it), else "ops"."""
    return str(scope.get("state", {}).get("dialect", OPS))


def openapi_document(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One OpenAPI 3.1 document from the REST dialects' parts (their paths and components, merged)."""
    paths: dict[str, Any] = {}
    components: dict[str, dict[str, Any]] = {}
    for part in parts:
        paths.update(part.get("paths", {}))
        for kind, entries in part.get("components", {}).items():
            components.setdefault(kind, {}).update(entries)
    info = {"title": "jobgate", "version": "1", "description": "The REST dialects of jobgate."}
    document: dict[str, Any] = {"openapi": "3.1.0", "info": info, "paths": paths}
    if components:
        document["components"] = components
    return document


@dataclass(frozen=True, slots=True)
class IndexSection:
    title: str
    description: str
    links: Sequence[IndexLink]


class _JobsByState(Collector):
    def __init__(self, jobs: JobService) -> None:
        self._jobs = jobs

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily("jobgate_jobs", "Jobs in the store by state", labels=["state"])
        for state, count in self._jobs.count_by_state().items():
            family.add_metric([state.value], count)
        yield family


class _Gauges(Collector):
    """Figures read when /metrics is scraped: label values → value."""

    def __init__(self, name: str, text: str, labels: Sequence[str], read: Callable[[], Mapping[str, float]]) -> None:
        self._name, self._text, self._labels, self._read = name, text, list(labels), read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(self._name, self._text, labels=self._labels)
        for label, value in self._read().items():
            family.add_metric([label] if self._labels else [], value)
        yield family


class Metrics:
    """One registry per app (no process-global state), scraped at /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.transitions = Counter(
            "jobgate_transitions", "State transitions by action and protocol", ["action", "protocol"],
            registry=self.registry,
        )  # fmt: skip
        self.requests = Histogram(
            "jobgate_request_seconds", "HTTP requests by dialect and status", ["dialect", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )  # fmt: skip
        self.password_checks = Counter(
            "jobgate_password_checks",
            "Password hashes checked (argon2id), known users or not: a guesser shows as a rise here, a throttled "
            "one does not",
            registry=self.registry,
        )
        self.access_lines_dropped = Counter(
            "jobgate_access_log_dropped_lines",
            "Access-log lines dropped because the queue to the log writer was full (stderr slow or blocked)",
            registry=self.registry,
        )

        self._timers: dict[tuple[str, int], Any] = {}  # labels() is costly per call: keep the children

    def request_timer(self, dialect: str, status: int) -> Any:
        timer = self._timers.get((dialect, status))
        if timer is None:
            timer = self._timers[(dialect, status)] = self.requests.labels(dialect, str(status))
        return timer

    def observe_transition(self, action: Action, protocol: Channel) -> None:
        self.transitions.labels(action.value, protocol.value).inc()

    def watch_jobs(self, jobs: JobService) -> None:
        self.registry.register(_JobsByState(jobs))

    def watch(self, name: str, text: str, label: str | None, read: Callable[[], Mapping[str, float]]) -> None:
        """A gauge family read at each scrape (with `label`: one series per key; without: the value of key "")."""
        self.registry.register(_Gauges(name, text, [label] if label else [], read))


class RequestContext:
    """Pure-ASGI middleware: a request id on every response, one access-log line, latency metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics, access: AccessLog | None = None) -> None:
        self.app, self.metrics, self.access = app, metrics, access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = incoming if _INCOMING_ID.match(incoming) else secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        start, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # nosniff: no answer (an echoed path in an error text, say) is ever sniffed into HTML
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode()), _NOSNIFF]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            dialect = dialect_of(scope)
            self.metrics.request_timer(dialect, status).observe(elapsed)
            if self.access is not None:
                # the path only: query strings carry passwords in CasJobs' HTTP GET binding
                self.access.record(scope["method"], scope["path"], status, elapsed, request_id, dialect)


class HotRoutes:
    """Pure-ASGI middleware, innermost: requests for the routes the dialects mark hot (their service
    endpoints) go straight to them; everything else goes on to Starlette's exception handling and router,
    whose walk and wrapping of `send` would cost every hot call (docs/PERFORMANCE.md). The routes are
    grouped by the first segment of their path, so a request tries only those that could match it."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        segments = [_first_segment(getattr(route, "path", "")) for route in routes]
        anywhere = [route for route, segment in zip(routes, segments, strict=True) if segment is None]
        self._by_segment: dict[str | None, tuple[BaseRoute, ...]] = {
            segment: tuple(r for r, s in zip(routes, segments, strict=True) if s in (segment, None))
            for segment in set(segments) - {None}
        }
        self._anywhere = tuple(anywhere)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self._by_segment.get(_first_segment(scope["path"]), self._anywhere):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _first_segment(path: str) -> str | None:
    """The first segment of a path, lower-cased, or None when it is not a literal (a route's parameter, or a
    route that names no path): such a route is tried for every request."""
    if not path.startswith("/"):
        return None
    segment = path.split("/", 2)[1]
    return None if not segment or "{" in segment else segment.lower()


def routes(
    jobs: JobService, metrics: Metrics, index_sections: Sequence[IndexSection], openapi: Mapping[str, Any]
) -> list[Route]:
    def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    def readyz(request: Request) -> Response:
        try:
            jobs.ready()
        except Exception:
            log.warning("readiness check: the store does not answer", exc_info=True)
            return PlainTextResponse("store unreachable", status_code=503)
        return PlainTextResponse("ready")

    def scrape(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    index_page = render_index(index_sections)
    openapi_json = json.dumps(openapi, indent=1).encode()

    def describe(request: Request) -> Response:
        return Response(openapi_json, media_type="application/json")

    def index(request: Request) -> Response:
        return Response(index_page, media_type="text/html; charset=utf-8")

    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/metrics", scrape, methods=["GET"]),
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/openapi.json", describe, methods=["GET", "HEAD"]),
    ]


def render_index(index_sections: Sequence[IndexSection]) -> bytes:
    sections = []
    for section in index_sections:
        items = [h.LI(h.A(link.label, href=link.href)) for link in section.links]
        sections += [h.H2(section.title), h.P(section.description), h.UL(*items)]
    ops = [h.LI(h.A(path, href=path)) for path in ("/healthz", "/readyz", "/metrics", "/openapi.json")]
    page = h.HTML(
        h.HEAD(h.META(charset="utf-8"), h.TITLE("jobgate")),
        h.BODY(
            h.H1("jobgate"),
            h.P("One job store, spoken to in several vendors' job-control dialects."),
            *sections,
            h.H2("Operations"),
            h.UL(*ops),
        ),
    )
    return b"<!DOCTYPE html>\n" + bytes(etree.tostring(page, method="html", encoding="utf-8"))


__all__ = ["IndexSection", "Metrics", "RequestContext", "openapi_document", "routes"]
