"""The ArcGIS part of /openapi.json: a valid OpenAPI 3.1 document (openapi-spec-validator) that describes
every ArcGIS operation the app serves."""

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.applications import Starlette

from jobgate.app import create_app
from jobgate.dialects.arcgis.routes import COLD, HOT
from support.factories import settings_for


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Starlette]:
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'jobgate.db'}", tmp_path / "data"))
    try:
        yield app
    finally:
        app.state.components.engine.dispose()


def served_document(app: Starlette) -> Any:
    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            return await http.get("/openapi.json")

    answer = asyncio.run(fetch())
    assert answer.status_code == 200
    return answer.json()


def test_the_served_document_is_valid_openapi_3_1(app: Starlette) -> None:
    document = served_document(app)

    validate(document)
    assert document["openapi"].startswith("3.1")


def test_every_arcgis_operation_is_described(app: Starlette) -> None:
    paths = served_document(app)["paths"]

    served = {path for path, _ in (*HOT, *COLD)}
    assert served <= set(paths)
    for path in served:
        for operation in paths[path].values():
            assert operation["operationId"].startswith("arcgis")
            assert "200" in operation["responses"]
