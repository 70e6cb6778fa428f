"""The seam: a dialect defined here, in this module, registers through the same door as the built-in ones
(`registry()` over module names, each exposing DIALECT) and shows up everywhere the app derives from the
registry: the index page, the start-up banner, the metrics labels, hot dispatch and `make wsdl`."""

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from jobgate.app import create_app
from jobgate.dialects import REGISTRY, registry
from jobgate.dialects.common import BannerLine, Dialect, DialectOptions, IndexLink, Mounted
from jobgate.dialects.documents import write_documents
from jobgate.server import banner
from jobgate.services import JobService
from support.factories import settings_for


class _Probe:
    """A hot route's app: says whether Starlette's router saw the request (it sets scope["router"])."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("routed" if "router" in scope else "hot")(scope, receive, send)


def _cold(request: Request) -> Response:
    return PlainTextResponse("routed" if "router" in request.scope else "hot")


def mount(jobs: JobService, options: DialectOptions) -> Mounted:
    hot = Route("/toy/hot", _Probe())
    return Mounted(routes=[hot, Route("/toy/cold", _cold)], hot=[hot], links=[IndexLink("toy — hot", "/toy/hot")])


DIALECT: Final = Dialect(
    name="toy",
    title="Toy dialect",
    description="A dialect that exists only in this test.",
    mount=mount,
    banner=[BannerLine("toy", "/toy/hot", "(the test's own)")],
    documents=lambda: {"toy.wsdl": b"<definitions/>"},
    openapi=lambda: {"paths": {"/toy/cold": {"get": {"responses": {"200": {"description": "routed"}}}}}},
)


@pytest.fixture
def dialects() -> tuple[Dialect, ...]:
    return registry([*REGISTRY, __name__])


class Client:
    """Requests to the ASGI app in this process, from a loopback address."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    def get(self, path: str) -> httpx.Response:
        async def fetch() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=("127.0.0.1", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                return await http.get(path)

        return asyncio.run(fetch())


@pytest.fixture
def client(dialects: tuple[Dialect, ...], tmp_path: Path) -> Iterator[Client]:
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'jobgate.db'}", tmp_path / "data"), dialects=dialects)
    try:
        yield Client(app)
    finally:
        app.state.components.engine.dispose()


def test_the_registered_dialect_is_listed_on_the_index_page(client: Client) -> None:
    page = client.get("/").text

    assert "Toy dialect" in page
    assert 'href="/toy/hot"' in page
    assert "CasJobs" in page  # the built-in ones are still there


def test_the_banner_names_the_registered_dialect(dialects: tuple[Dialect, ...], tmp_path: Path) -> None:
    text = banner(settings_for("sqlite://", tmp_path, port=8123), dialects)

    assert "  toy       http://127.0.0.1:8123/toy/hot  (the test's own)" in text.splitlines()
    assert any("/CasJobs/services/jobs.asmx" in line for line in text.splitlines())


def test_requests_to_the_dialect_are_counted_under_its_own_label(client: Client) -> None:
    assert client.get("/toy/cold").status_code == 200

    metrics = client.get("/metrics").text

    assert 'jobgate_request_seconds_count{dialect="toy",status="200"} 1.0' in metrics


def test_routes_the_dialect_marks_hot_skip_the_router_and_the_others_do_not(client: Client) -> None:
    assert client.get("/toy/hot").text == "hot"
    assert client.get("/toy/cold").text == "routed"


def test_make_wsdl_writes_the_dialect_s_documents(dialects: tuple[Dialect, ...], tmp_path: Path) -> None:
    written = write_documents(tmp_path, dialects)

    assert (tmp_path / "toy.wsdl").read_bytes() == b"<definitions/>"
    assert {path.name for path in written} >= {"toy.wsdl", "casjobs.wsdl", "casusers.wsdl"}


def test_the_dialect_s_part_of_the_openapi_document_is_served(client: Client) -> None:
    document = client.get("/openapi.json").json()

    assert document["openapi"].startswith("3.1")
    assert document["paths"]["/toy/cold"]["get"]["responses"]["200"]["description"] == "routed"
