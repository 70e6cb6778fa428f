"""The Cisco dialect in the security tier, on the app built in this process.

Ownership: every Cisco operation × {the owner, another user, an administrator, a user in NBI Read only,
anonymous, a bad password}. The owner and the administrator act on the owner's job; another user sees a
failure "not found" (operations) or 404 (reads) and the job does not appear in their JobSummary; the NBI Read
user may not operate (403); anonymous and bad passwords get 401. A refused call changes nothing.

Fuzzing: seed 003's request payloads mutated by hypothesis (XML and JSON; bytes, structure, values, media
types), aimed at jobs no call can change: every answer is 200 (a parsed payload) or 400/413/415, an
errorDocument or mgmtResponse, never a traceback, and the store is unchanged.
"""

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from soapkit import assert_no_leak
from starlette.applications import Starlette

from jobgate.domain.model import Actor, Channel, JobSpec
from jobgate.domain.states import JobState
from jobgate.services import JobService
from security.inprocess import LOOPBACK, REMOTE, app_in_process, request

API: Final = "/webacs/api/v3"
SEEDS: Final = Path(__file__).parents[1] / "contract" / "cisco" / "cancelrunning"
USERS: Final = {"owner": ("nbi-write", "nbi-read"), "other": ("nbi-write", "nbi-read"), "root": ("admin",),
                "reader": ("nbi-read",)}  # fmt: skip
ROOT: Final = Actor("root", Channel.CLI, frozenset({"admin"}))
WRITES: Final = {"cancelrunning": JobState.SUBMITTED, "cancel": JobState.SUBMITTED, "suspend": JobState.SUBMITTED,
                 "resume": JobState.SUSPENDED}  # fmt: skip
AFTER: Final = {"cancelrunning": JobState.CANCELLED, "cancel": JobState.CANCELLED, "suspend": JobState.SUSPENDED,
                "resume": JobState.SUBMITTED}  # fmt: skip
READS: Final = ("runhistory", "summary", "summaries")
CALLERS: Final = ("owner", "other", "root", "reader", "anonymous", "bad password")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    with app_in_process(tmp_path_factory.mktemp("cisco-security")) as built:
        for name, groups in USERS.items():
            built.state.components.identity.add_user(name, f"{name}-Pa55", groups)
        for name in USERS:  # verified once, before any bad password puts an address under back-off
            assert request(built, "GET", f"{API}/data/JobSummary", headers=_auth(name)).status_code in (200, 403)
        yield built


def _auth(name: str, password: str | None = None) -> dict[str, str]:
    secret = f"{name}:{password or name + '-Pa55'}".encode()
    return {"Authorization": "Basic " + base64.b64encode(secret).decode()}


def _jobs(app: Starlette) -> JobService:
    service: JobService = app.state.components.jobs
    return service


def _owner_job(app: Starlette, state: JobState) -> int:
    jobs = _jobs(app)
    job = jobs.submit(Actor("owner", Channel.CLI), JobSpec("held", {}))
    if state is JobState.SUSPENDED:
        jobs.suspend(ROOT, job.id)
    return job.id


def _look(app: Starlette, job_id: int) -> tuple[JobState, int]:
    job, events = _jobs(app).history(ROOT, job_id)
    return job.state, len(events)


def _call(app: Starlette, caller: str, method: str, path: str, body: bytes | None = None) -> httpx.Response:
    headers = {} if caller == "anonymous" else _auth("owner", "wrong") if caller == "bad password" else _auth(caller)
    client = REMOTE if caller == "bad password" else LOOPBACK
    if body is not None:
        headers["Content-Type"] = "application/json"
    return request(app, method, API + path, content=body, headers=headers, client=client)


def _operate(app: Starlette, caller: str, op: str, job_id: int) -> httpx.Response:
    root, wrapper, item = (("jobRunOperationPayload", "runIds", "runId") if op == "cancelrunning"
                           else ("jobOperationPayload", "jobIds", "jobId"))  # fmt: skip
    body = json.dumps({root: {wrapper: {item: [job_id]}}}).encode()
    return _call(app, caller, "PUT", f"/op/jobService/{op}.json", body)


def _sides(answer: httpx.Response) -> tuple[list[int], list[str]]:
    [result] = answer.json()["mgmtResponse"]["operationResult"]
    return [s["id"] for s in result["success"]["success"]], [f["message"] for f in result["failure"]["failure"]]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("op", list(WRITES))
def test_operations_by_each_caller(app: Starlette, op: str, caller: str) -> None:
    job_id = _owner_job(app, WRITES[op])
    before = _look(app, job_id)
    answer = _operate(app, caller, op, job_id)
    assert_no_leak(answer)
    if caller in ("owner", "root"):
        assert _sides(answer) == ([job_id], [])
        assert _look(app, job_id) == (AFTER[op], before[1] + 1)
        return
    expected = {"other": 200, "reader": 403, "anonymous": 401, "bad password": 401}[caller]
    assert answer.status_code == expected, answer.text
    if caller == "other":
        assert _sides(answer) == ([], ["Run not found" if op == "cancelrunning" else "Job not found"])
    assert _look(app, job_id) == before


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("read", READS)
def test_reads_by_each_caller(app: Starlette, read: str, caller: str) -> None:
    job_id = _owner_job(app, JobState.SUBMITTED)
    path = {"runhistory": f"/op/jobService/runhistory.json?jobId={job_id}",
            "summary": f"/data/JobSummary/{job_id}.json",
            "summaries": f"/data/JobSummary.json?runId={job_id}"}[read]  # fmt: skip
    answer = _call(app, caller, "GET", path)
    assert_no_leak(answer)
    expected = {"owner": 200, "root": 200, "other": 404, "reader": 404, "anonymous": 401, "bad password": 401}[caller]
    if read == "summaries" and caller in ("other", "reader"):
        assert answer.status_code == 200, answer.text
        assert answer.json()["queryResponse"]["@count"] == 0  # not among the jobs they may see
        return
    assert answer.status_code == expected, answer.text
    if expected == 200:
        assert str(job_id) in answer.text


# -- fuzzing -----------------------------------------------------------------------------------------------------
FORMATS: Final = [(version, fmt) for version in ("v1", "v2", "v3") for fmt in ("xml", "json")]
MEDIA: Final = ["application/xml", "application/json", "text/xml", "text/plain", "", "application/json; charset=utf-8"]
VALUES: Final = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=12), st.booleans(), st.none(),
    st.floats(allow_nan=False), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers()),
)  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str, bytes, str]:
    version, fmt = draw(st.sampled_from(FORMATS))
    text = (SEEDS / f"{version}.request.{fmt}").read_text()
    how = draw(st.sampled_from(["value", "bytes", "truncate", "rename", "nest"]))
    if how == "value":
        value = draw(VALUES)
        text = text.replace("15", str(value) if fmt == "xml" else json.dumps(value), 1)
    elif how == "bytes":
        raw = bytearray(text.encode())
        for _ in range(draw(st.integers(1, 4))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
        text = raw.decode("latin-1")
    elif how == "truncate":
        text = text[: draw(st.integers(0, len(text) - 1))]
    elif how == "rename":
        name = draw(st.sampled_from(["jobRunOperationPayload", "runIds", "runId"]))
        text = text.replace(name, draw(st.sampled_from(["jobOperationPayload", "jobIds", "x", "runID", ""])))
    else:
        depth = draw(st.integers(1, 60))
        text = (
            ("<a>" * depth + text.split("?>")[-1] + "</a>" * depth)
            if fmt == "xml"
            else "[" * depth + text + "]" * depth
        )
    media = draw(st.sampled_from(MEDIA))
    path = f"/webacs/api/{version}/op/jobService/cancelrunning" + (".json" if fmt == "json" else "")
    return path, fmt, text.encode("latin-1", "replace"), media


@pytest.fixture(scope="module")
def targets(app: Starlette) -> list[int]:
    """A job no cancelrunning of the owner's can change: another user's (the seed's id 15 becomes its id
    wherever a mutation left it)."""
    jobs = _jobs(app)
    theirs = jobs.submit(Actor("other", Channel.CLI), JobSpec("held", {})).id
    return [theirs]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mutated())
def test_mutated_seed_payloads_are_refused_or_judged_and_change_nothing(
    app: Starlette, targets: list[int], case: tuple[str, str, bytes, str]
) -> None:
    path, _fmt, body, media = case
    body = body.replace(b"15", str(targets[0]).encode()).replace(b"25", b"999999")
    before = {job_id: _look(app, job_id) for job_id in targets}
    headers = {**_auth("owner"), **({"Content-Type": media} if media else {})}
    answer = request(app, "PUT", path, content=body, headers=headers)
    assert answer.status_code in (200, 400, 413, 415), answer.text
    assert_no_leak(answer, body)
    document = _document(answer)
    if answer.status_code == 200:
        assert "mgmtResponse" in document, answer.text
    else:
        assert "errorDocument" in document, answer.text
    assert {job_id: _look(app, job_id) for job_id in targets} == before


def _document(answer: httpx.Response) -> dict[str, Any]:
    if answer.headers["content-type"] == "application/json":
        parsed: dict[str, Any] = answer.json()
        return parsed
    return {etree.fromstring(answer.content).tag: True}
