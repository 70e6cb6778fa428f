"""Trans-WS' control operations (cancelJob, suspendJob, resumeJob) on the fast lane must answer exactly as the
Spyne path does — same status, content type, headers and XML structure, same faults — on SOAP 1.1 and 1.2,
and change the store in the same way. Two apps share one database: one with the lane, one without."""

import asyncio
import base64
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from lxml import etree
from starlette.applications import Starlette

from jobgate.app import create_app
from jobgate.domain.model import ADMIN_GROUP, Actor, Channel, JobSpec, TaskResult
from jobgate.domain.states import JobState
from support.factories import settings_for
from support.spyne import spyne_calls
from support.xmlcompare import assert_same_structure

TNS = "urn:oasis:names:tc:wstrans:v1:types"
ENVELOPES = {"soap11": "http://schemas.xmlsoap.org/soap/envelope/", "soap12": "http://www.w3.org/2003/05/soap-envelope"}
CONTENT_TYPES = {"soap11": "text/xml; charset=utf-8", "soap12": "application/soap+xml; charset=utf-8"}
ROOT = Actor("operator", Channel.CLI, frozenset({ADMIN_GROUP}))
USERS = {"alice": "alice-pw", "bob": "bob-pw", "root": "root-pw"}


@dataclass
class World:
    fast: Starlette
    spyne: Starlette


def call(app: Starlette, version: str, op: str, user: str, ticket: dict[str, str] | None) -> httpx.Response:
    ns = ENVELOPES[version]
    root = etree.Element(f"{{{ns}}}Envelope", nsmap={"soapenv": ns})
    request = etree.SubElement(etree.SubElement(root, f"{{{ns}}}Body"), f"{{{TNS}}}{op}Request", nsmap={None: TNS})
    if ticket is not None:
        etree.SubElement(request, f"{{{TNS}}}ticket", ticket)
    basic = base64.b64encode(f"{user}:{USERS.get(user, 'wrong')}".encode()).decode()
    headers = {"content-type": CONTENT_TYPES[version], "authorization": f"Basic {basic}"}

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://jobgate") as client:
            return await client.post("/transws", content=etree.tostring(root), headers=headers)

    return asyncio.run(send())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    where = tmp_path_factory.mktemp("transws-fastlane")
    url = f"sqlite:///{where / 'jobgate.db'}"
    fast = create_app(settings_for(url, where / "data", inline_hot_path="on", fast_lane=True))
    spyne = create_app(settings_for(url, where / "data", inline_hot_path="on", fast_lane=False))
    identity = fast.state.components.identity
    for name, password in USERS.items():
        identity.add_user(name, password, [ADMIN_GROUP] if name == "root" else [])
    for app in (fast, spyne):  # the lane only opens for credentials this app has already verified
        for user in USERS:
            call(app, "soap11", "retrieveActiveJobsList", user, None)
    yield World(fast, spyne)
    for app in (fast, spyne):
        app.state.components.engine.dispose()


def job_in(world: World, state: JobState, project: str = "p") -> dict[str, str]:
    """A fresh job of alice's in `state`, and the ticket naming it."""
    parts = world.fast.state.components
    alice = Actor("alice", Channel.CLI)
    job = parts.jobs.submit(alice, JobSpec("sleep", {"seconds": 60}, project))
    if state is JobState.SUSPENDED:
        parts.jobs.suspend(ROOT, job.id)
    elif state is not JobState.SUBMITTED:
        claimed = parts.runners.claim_next("runner", ["sleep"])
        while claimed is not None and claimed.id != job.id:  # a job resumed by an earlier case goes first
            claimed = parts.runners.claim_next("runner", ["sleep"])
        assert claimed is not None
        if state is JobState.FINISHED:
            parts.runners.finish(claimed, TaskResult(rows=0))
    return {"jobId": job.key, "projectId": project, "userId": "alice"}


def history(world: World, ticket: dict[str, str]) -> list[tuple[object, ...]]:
    job, events = world.fast.state.components.jobs.history(ROOT, ticket["jobId"])
    return [(job.state,)] + [(e.stage, e.actor, e.protocol, e.from_state, e.to_state) for e in events]


def assert_same_answer(fast: httpx.Response, slow: httpx.Response, fast_key: str, slow_key: str) -> None:
    """The same answer but for the job each names (each path acts on a job of its own)."""
    assert fast.status_code == slow.status_code
    assert fast.headers["content-type"] == slow.headers["content-type"]
    assert fast.headers.get("www-authenticate") == slow.headers.get("www-authenticate")
    assert_same_structure(fast.content.replace(fast_key.encode(), slow_key.encode()), slow.content)


CASES = {  # op, caller, the job's state, how the ticket is changed
    "cancel of a running job": ("cancelJob", "alice", JobState.EXECUTING, {}),
    "cancel of a job not started": ("cancelJob", "alice", JobState.SUBMITTED, {}),
    "cancel of a suspended job": ("cancelJob", "alice", JobState.SUSPENDED, {}),
    "cancel of a finished job": ("cancelJob", "alice", JobState.FINISHED, {}),
    "cancel by an administrator": ("cancelJob", "root", JobState.EXECUTING, {}),
    "cancel by another user in his own name": ("cancelJob", "bob", JobState.EXECUTING, {"userId": "bob"}),
    "cancel by another user in the owner's name": ("cancelJob", "bob", JobState.EXECUTING, {}),
    "cancel naming another project": ("cancelJob", "alice", JobState.EXECUTING, {"projectId": "q"}),
    "cancel of no job": ("cancelJob", "alice", JobState.EXECUTING, {"jobId": "0" * 32}),
    "cancel with attributes left out": ("cancelJob", "alice", JobState.EXECUTING, {"projectId": None}),
    "cancel with no ticket": ("cancelJob", "alice", JobState.EXECUTING, None),
    "suspend of a job not started": ("suspendJob", "alice", JobState.SUBMITTED, {}),
    "suspend of a running job": ("suspendJob", "alice", JobState.EXECUTING, {}),
    "resume of a suspended job": ("resumeJob", "alice", JobState.SUSPENDED, {}),
    "resume of a running job": ("resumeJob", "alice", JobState.EXECUTING, {}),
}


@pytest.mark.parametrize("version", ["soap11", "soap12"])
@pytest.mark.parametrize("case", list(CASES))
def test_the_fast_lane_answers_and_acts_as_spyne_does(world: World, version: str, case: str) -> None:
    op, caller, state, change = CASES[case]
    tickets = [job_in(world, state) for _ in range(2)]
    sent: list[dict[str, str] | None] = []
    for ticket in tickets:
        if change is None:
            sent.append(None)
        else:
            changed = {**ticket, **change}
            sent.append({k: v for k, v in changed.items() if v is not None})
    before = [history(world, ticket) for ticket in tickets]

    with spyne_calls() as calls:
        fast = call(world.fast, version, op, caller, sent[0])
    assert calls == [], "the fast lane did not answer"
    with spyne_calls() as calls:
        slow = call(world.spyne, version, op, caller, sent[1])
    assert calls, "Spyne did not answer"

    assert_same_answer(fast, slow, tickets[0]["jobId"], tickets[1]["jobId"])
    if fast.status_code == 200:
        ticket = etree.fromstring(fast.content).find(f".//{{{TNS}}}ticket")
        assert ticket is not None
        assert dict(ticket.attrib) == {"jobId": "", "projectId": "", "userId": "", **(sent[0] or {})}
    after = [history(world, ticket) for ticket in tickets]
    assert [len(a) - len(b) for a, b in zip(after, before, strict=True)] in ([0, 0], [1, 1])
    assert after[0][0] == after[1][0]  # the same state
    assert after[0][len(before[0]) :] == after[1][len(before[1]) :]  # the same new events, if any


def test_the_fast_lane_is_taken_only_with_verified_credentials(world: World) -> None:
    """A caller whose password this app has not verified yet goes through Spyne (off the event loop): the
    lane never hashes a password on the loop."""
    world.fast.state.components.identity.add_user("carol", "carol-pw")
    USERS["carol"] = "carol-pw"
    ticket = {**job_in(world, JobState.EXECUTING), "userId": "carol"}
    with spyne_calls() as first:
        call(world.fast, "soap11", "cancelJob", "carol", ticket)
    with spyne_calls() as again:
        call(world.fast, "soap11", "cancelJob", "carol", ticket)
    assert (len(first), len(again)) == (1, 0)
