"""Schemathesis fuzzes every ArcGIS operation of /openapi.json, in process, with a bounded number of examples
each: no 5xx and no traceback, whatever the parameters, tokens and bodies it makes up; and nothing it sends
with made-up tokens changes the store."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from starlette.applications import Starlette

from jobgate.app import create_app
from jobgate.dialects.arcgis.openapi import document
from jobgate.domain.model import ADMIN_GROUP, Actor, Channel, JobSpec
from support.factories import settings_for
from support.kits.base import leaks

EXAMPLES = 25


def build_app(tmp: Path) -> Starlette:
    app = create_app(settings_for(f"sqlite:///{tmp / 'jobgate.db'}", tmp / "data"))
    jobs, identity = app.state.components.jobs, app.state.components.identity
    owner = identity.add_user("alice", "alice-Sc-1")
    identity.add_user("root", "root-Sc-1", groups=[ADMIN_GROUP])
    jobs.submit(Actor.of(owner, Channel.CLI), JobSpec("sleep", {"seconds": 60}, "demo"))
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    built = build_app(tmp_path_factory.mktemp("schemathesis"))
    try:
        yield built
    finally:
        built.state.components.engine.dispose()


OPERATIONS = [(path, method) for path, item in document()["paths"].items() for method in item]


@pytest.fixture(scope="module")
def api_schema(app: Starlette) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def snapshot(app: Starlette) -> list[tuple[int, str, int]]:
    root = Actor("root", Channel.CLI, frozenset({ADMIN_GROUP}))
    return [(j.id, j.state.value, j.version) for j in app.state.components.jobs.list_jobs(root)]


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_no_arcgis_operation_fails_inside_or_changes_the_store_for_a_made_up_token(
    api_schema: Any, app: Starlette, path: str, method: str
) -> None:
    operation = api_schema[path][method.upper()]

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)  # fmt: skip
    def check(case: Any) -> None:
        before = snapshot(app)
        response = case.call()
        assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
        assert not leaks(response.content, case.as_curl_command()), response.text[:500]
        assert response.headers.get("x-request-id")
        if not path.endswith("generateToken"):
            assert snapshot(app) == before

    check()
