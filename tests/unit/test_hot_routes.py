"""The service endpoints are dispatched ahead of Starlette's router; everything else still reaches it."""

import asyncio
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
