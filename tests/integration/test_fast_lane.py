"""The fast lane answers CancelJob and GetJobStatus without Spyne; it must answer exactly as the Spyne path
does — same status, content type and XML structure, same faults — on every binding, and change the store
in the same way. Two apps share one database: one with the lane, one without."""

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from lxml import etree
from starlette.applications import Starlette

from jobgate.app import create_app
from jobgate.domain.model import Actor, Channel, JobSpec, TaskResult
from jobgate.domain.states import JobState
from support.factories import settings_for
from support.spyne import spyne_calls
from support.xmlcompare import assert_same_structure

TNS = "http://Services.Cas.jhu.edu"
PATH = "/CasJobs/services/jobs.asmx"
ENVELOPES = {"soap11": "http://schemas.xmlsoap.org/soap/envelope/", "soap12": "http://www.w3.org/2003/05/soap-envelope"}
BINDINGS = ["soap11", "soap12", "http-get", "http-post"]


@dataclass
class World:
    fast: Starlette
    spyne: Starlette
    alice_jobs: list[int]
    finished: int


def request(app: Starlette, binding: str, op: str, **params: Any) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://jobgate") as client:
            if binding == "http-get":
                return await client.get(f"{PATH}/{op}", params=params)
            if binding == "http-post":
                return await client.post(f"{PATH}/{op}", data={k: str(v) for k, v in params.items()})
            return await client.post(PATH, content=envelope(binding, op, params), headers=soap_headers(binding, op))

    return asyncio.run(send())


def envelope(binding: str, op: str, params: dict[str, Any]) -> bytes:
    ns = ENVELOPES[binding]
    root = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap": ns})
    call = etree.SubElement(etree.SubElement(root, f"{{{ns}}}Body"), f"{{{TNS}}}{op}", nsmap={None: TNS})
    for name, value in params.items():
        etree.SubElement(call, f"{{{TNS}}}{name}").text = str(value)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def soap_headers(binding: str, op: str) -> dict[str, str]:
    if binding == "soap12":
        return {"content-type": "application/soap+xml; charset=utf-8"}
    return {"content-type": "text/xml; charset=utf-8", "soapaction": f'"{TNS}/{op}"'}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    where = tmp_path_factory.mktemp("fastlane")
    url = f"sqlite:///{where / 'jobgate.db'}"
    fast = create_app(settings_for(url, where / "data", inline_hot_path="on", fast_lane=True))
    spyne = create_app(settings_for(url, where / "data", inline_hot_path="on", fast_lane=False))
    jobs = fast.state.components.jobs
    runners = fast.state.components.runners
    identity = fast.state.components.identity
    alice = Actor.of(identity.add_user("alice", "alice-pw", numbered={"wsid": 1}), Channel.CLI)
    identity.add_user("bob", "bob-pw", numbered={"wsid": 2})
    submitted = [jobs.submit(alice, JobSpec("sleep", {"seconds": 60})).id for _ in range(2 * len(BINDINGS) + 2)]
    while runners.claim_next("runner", ["sleep"]) is not None:
        pass
    finished = jobs.get(alice, submitted.pop())
    runners.finish(finished, TaskResult(rows=0))
    for app in (fast, spyne):  # the lane only opens for credentials this app has already verified
        for wsid, pw in ((1, "alice-pw"), (2, "bob-pw")):
            request(app, "soap11", "GetJobStatus", wsId=wsid, pw=pw, jobId=submitted[0])
    yield World(fast, spyne, submitted, finished.id)
    for app in (fast, spyne):
        app.state.components.engine.dispose()


def both(world: World, binding: str, op: str, **params: Any) -> tuple[httpx.Response, httpx.Response]:
    """The call sent to the app with the lane and to the one without; each must have taken its own path."""
    with spyne_calls() as calls:
        fast = request(world.fast, binding, op, **params)
    assert calls == [], "the fast lane did not answer"
    with spyne_calls() as calls:
        slow = request(world.spyne, binding, op, **params)
    assert calls, "Spyne did not answer"
    return fast, slow


def assert_same_answer(fast: httpx.Response, slow: httpx.Response, binding: str) -> None:
    assert (fast.status_code, fast.headers["content-type"]) == (slow.status_code, slow.headers["content-type"])
    if binding.startswith("soap"):
        assert_same_structure(fast.content, slow.content)
    else:
        assert fast.content == slow.content


CASES = {
    "own job's status": ("GetJobStatus", 1, "alice-pw", "running"),
    "someone else's job's status": ("GetJobStatus", 2, "bob-pw", "running"),
    "status of no job": ("GetJobStatus", 1, "alice-pw", 999_999),
    "cancel of no job": ("CancelJob", 1, "alice-pw", 999_999),
    "cancel of someone else's job": ("CancelJob", 2, "bob-pw", "running"),
    "cancel of a finished job": ("CancelJob", 1, "alice-pw", "finished"),
}


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize("case", list(CASES))
def test_the_fast_lane_answers_as_spyne_does(world: World, binding: str, case: str) -> None:
    op, wsid, pw, job = CASES[case]
    job_id = {"running": world.alice_jobs[0], "finished": world.finished}.get(job, job)  # type: ignore[call-overload]

    fast, slow = both(world, binding, op, wsId=wsid, pw=pw, jobId=job_id)

    assert_same_answer(fast, slow, binding)


@pytest.mark.parametrize("binding", BINDINGS)
def test_a_fast_cancel_moves_the_job_and_writes_history_as_spyne_does(world: World, binding: str) -> None:
    n = BINDINGS.index(binding)
    fast_job, slow_job = world.alice_jobs[1 + 2 * n], world.alice_jobs[2 + 2 * n]

    with spyne_calls() as calls:
        fast = request(world.fast, binding, "CancelJob", wsId=1, pw="alice-pw", jobId=fast_job)
    assert calls == [], "the fast lane did not answer"
    with spyne_calls() as calls:
        slow = request(world.spyne, binding, "CancelJob", wsId=1, pw="alice-pw", jobId=slow_job)
    assert calls, "Spyne did not answer"

    assert_same_answer(fast, slow, binding)
    jobs = world.fast.state.components.jobs
    admin = Actor("operator", Channel.CLI, frozenset({"admin"}))
    for job_id in (fast_job, slow_job):
        job, events = jobs.history(admin, job_id)
        assert job.state is JobState.CANCELING
        last = events[-1]
        assert (last.stage, last.actor, last.protocol, last.from_state) == (
            "cancel", "alice", Channel.CASJOBS, JobState.EXECUTING,
        )  # fmt: skip
