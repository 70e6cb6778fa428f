"""The service endpoints are dispatched ahead of Starlette's router; everything else still reaches it."""

import asyncio
import re
from typing import Any

from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from jobgate.ops import HotRoutes


class _Prefix(BaseRoute):
    def __init__(self, prefix: str, served: list[str]) -> None:
        self.prefix, self.served = prefix, served

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            return Match.FULL, {"matched": self.prefix}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.served.append(f"{self.prefix} {scope['path']} {scope.get('matched')}")


def _call(scope: dict[str, Any]) -> list[str]:
    served: list[str] = []

    async def rest(scope: Scope, receive: Receive, send: Send) -> None:
        served.append(f"router {scope['type']} {scope.get('path', '')}")

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(message: dict[str, Any]) -> None:
        return None

    app = HotRoutes(rest, routes=[_Prefix("/a/", served), _Prefix("/b/", served)])
    asyncio.run(app(scope, receive, send))
    return served


def test_a_request_for_a_hot_route_goes_straight_to_it_with_its_match() -> None:
    assert _call({"type": "http", "path": "/b/x"}) == ["/b/ /b/x /b/"]


def test_other_requests_and_other_scopes_go_on_to_the_router() -> None:
    assert _call({"type": "http", "path": "/healthz"}) == ["router http /healthz"]
    assert _call({"type": "lifespan"}) == ["router lifespan "]


class _Named(_Prefix):
    """A route with a path of its own, which notes every request it is asked to match."""

    def __init__(self, path: str, served: list[str], tried: list[str]) -> None:
        super().__init__(path.split("{")[0], served)
        self.path, self.tried = path, tried

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        self.tried.append(self.path)
        pattern = re.sub(r"\{[^}]*\}", "[^/]+", self.path)
        if re.fullmatch(pattern + "(/.*)?", scope["path"]):
            return Match.FULL, {"matched": self.prefix}
        return Match.NONE, {}


def _dispatch(paths: list[str], request: str) -> tuple[list[str], list[str]]:
    """(the routes asked to match `request`, in order; what served it)"""
    served, tried = [], []  # type: ignore[var-annotated]

    async def rest(scope: Scope, receive: Receive, send: Send) -> None:
        served.append("router")

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(message: dict[str, Any]) -> None:
        return None

    routes = [_Prefix(p, served) if p.startswith("*") else _Named(p, served, tried) for p in paths]
    asyncio.run(HotRoutes(rest, routes=routes)({"type": "http", "path": request}, receive, send))
    return tried, served


def test_a_request_tries_only_the_routes_under_its_first_segment() -> None:
    paths = ["/casjobs/jobs", "/arcgis/rest/{job}", "/arcgis/admin/{job}", "/webacs/api"]
    tried, served = _dispatch(paths, "/arcgis/admin/j1")
    assert tried == ["/arcgis/rest/{job}", "/arcgis/admin/{job}"]
    assert served == ["/arcgis/admin/ /arcgis/admin/j1 /arcgis/admin/"]


def test_the_first_segment_is_compared_without_case_and_each_route_still_decides() -> None:
    tried, served = _dispatch(["/CasJobs/jobs", "/other"], "/casjobs/JOBS")
    assert tried == ["/CasJobs/jobs"]  # asked, though its own match is case-sensitive here
    assert served == ["router"]


def test_a_route_whose_path_starts_with_a_parameter_is_tried_for_every_request_in_its_place() -> None:
    tried, _ = _dispatch(["/a/x", "/{any}/y", "/b/z"], "/b/z")
    assert tried == ["/{any}/y", "/b/z"]
    tried, served = _dispatch(["/a/x", "/{any}/y"], "/nowhere")
    assert tried == ["/{any}/y"]
    assert served == ["router"]
