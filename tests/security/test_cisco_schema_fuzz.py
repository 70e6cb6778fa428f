"""Schemathesis fuzzes every Cisco operation that /openapi.json describes, on the app built in this process,
with a bounded number of examples each: no 5xx, no traceback or internals in any answer, every refusal an
errorDocument, and a refused call leaves the store as it was."""

import base64
from collections.abc import Iterator
from typing import Any, Final

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from starlette.applications import Starlette

from jobgate.domain.model import Actor, Channel, JobSpec
from jobgate.services import JobService
from support.kits.base import app_in_process, assert_no_leak

EXAMPLES: Final = 15  # per operation and path (22 of them, XML and .json): about 15 s in all
ROOT: Final = Actor("root", Channel.CLI, frozenset({"admin"}))
AUTH: Final = {"Authorization": "Basic " + base64.b64encode(b"fuzz:fuzz-Pa55").decode()}


@pytest.fixture(scope="module")
def cisco_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    with app_in_process(tmp_path_factory.mktemp("cisco-fuzz")) as app:
        jobs: JobService = app.state.components.jobs
        app.state.components.identity.add_user("fuzz", "fuzz-Pa55", ["nbi-write", "nbi-read"])
        app.state.components.identity.add_user("else", "else-Pa55", ["nbi-write"])
        for owner in ("fuzz", "else"):
            for _ in range(3):
                jobs.submit(Actor(owner, Channel.CLI), JobSpec("held", {}))
        yield app


def _store(app: Starlette) -> list[tuple[int, str, int]]:
    jobs: JobService = app.state.components.jobs
    found = []
    for job in jobs.list_jobs(ROOT):
        _, events = jobs.history(ROOT, job.id)
        found.append((job.id, str(job.state), len(events)))
    return found


def test_every_cisco_operation_survives_fuzzing(cisco_app: Starlette) -> None:
    # driven by hand: schemathesis' pytest plugin reads a pytest-internal attribute pytest 9 no longer has
    schema = schemathesis.openapi.from_asgi("/openapi.json", cisco_app).include(path_regex="^/webacs/")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == (4 * 2 + 4) * 2  # 4 operations × PUT/POST, 4 reads; each with and without .json
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def survives(case: Any) -> None:
            before = _store(cisco_app)
            response = case.call(headers=AUTH)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
            assert_no_leak(response)
            if response.status_code != 200:
                assert "errorDocument" in response.text, response.text
                assert _store(cisco_app) == before

        survives()
