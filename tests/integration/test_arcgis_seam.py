"""The ArcGIS dialect through the seam: listed on the index page and in the banner, its requests counted under
its own metrics label, its status and cancel routes dispatched ahead of the router."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Match

from jobgate.app import create_app
from jobgate.dialects import registry
from jobgate.ops import HotRoutes
from jobgate.server import banner
from support.factories import settings_for

STATUS = f"/arcgis/rest/services/demo/GPServer/sleep/jobs/j{'0' * 32}"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Starlette]:
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'jobgate.db'}", tmp_path / "data"))
    try:
        yield app
    finally:
        app.state.components.engine.dispose()


def get(app: Starlette, *paths: str) -> list[httpx.Response]:
    async def fetch() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            return [await http.get(path) for path in paths]

    return asyncio.run(fetch())


def test_the_index_page_and_the_banner_list_arcgis(app: Starlette, tmp_path: Path) -> None:
    [page] = get(app, "/")

    assert "ArcGIS Server" in page.text
    assert 'href="/arcgis/tokens/generateToken"' in page.text
    text = banner(settings_for("sqlite://", tmp_path, port=8123), registry())
    assert any("http://127.0.0.1:8123/arcgis/rest/services/" in line for line in text.splitlines())


def test_arcgis_requests_are_counted_under_their_own_label(app: Starlette) -> None:
    get(app, f"{STATUS}?f=json", "/arcgis/nowhere?f=json")

    [metrics] = get(app, "/metrics")

    assert 'jobgate_request_seconds_count{dialect="arcgis",status="200"} 2.0' in metrics.text


def test_status_and_cancel_are_hot_routes(app: Starlette) -> None:
    [hot] = [m.kwargs["routes"] for m in app.user_middleware if m.cls is HotRoutes]
    scope = {"type": "http", "path": STATUS, "method": "GET", "root_path": ""}
    cancel = {**scope, "path": f"{STATUS}/cancel", "method": "POST"}
    assert any(route.matches(scope)[0] is Match.FULL for route in hot)
    assert any(route.matches(cancel)[0] is Match.FULL for route in hot)
