"""Cisco against a real `jobgate serve`, as scripts drive it: requests and httpx with HTTP Basic; a CasJobs
job cancelled through cancelrunning, watched through CasJobs GetJobStatus; one cancelrunning of 500 runIds."""

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import httpx
import pytest
import requests
from requests.auth import HTTPBasicAuth

from jobgate.domain.model import Actor, Channel, JobSpec, TaskResult
from jobgate.domain.states import JobState
from jobgate.services import JobService, RunnerService
from support.casjobs import CANCELING_OR_CANCELLED, CasUser, show, status, submit, wait_for_status
from support.cisco import PREFIX, NbiUser, add_nbi_users, operation, running_job, verdicts, wait_for_state
from support.factories import components, settings_for
from support.server import JobgateServer

STARTED, CANCELLED = 1, 3  # casjobs.md status codes
S = JobState
STOPPING: Final = "Run cancelled; the run is stopping"


@pytest.fixture(scope="module")
def server(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=3)


@pytest.fixture(scope="module")
def users(server: JobgateServer) -> dict[str, NbiUser]:
    return add_nbi_users(server, ops=("nbi-write", "nbi-read"), other=("nbi-write", "nbi-read"))


@pytest.fixture
def http(server: JobgateServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def test_a_script_with_requests_cancels_its_run_and_finds_it_cancelled(
    server: JobgateServer, users: dict[str, NbiUser]
) -> None:
    job_id = running_job(server, "ops")
    auth = HTTPBasicAuth(*users["ops"].auth)
    url = f"{server.url}{PREFIX}/v2/op/jobService/cancelrunning.json"
    payload = {"jobRunOperationPayload": {"runIds": {"runId": [job_id]}}}
    answer = requests.put(url, json=payload, auth=auth, headers={"Accept": "application/json"}, timeout=10)
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["mgmtResponse"]["operationResult"]
    assert result["success"]["success"] == [{"id": job_id, "message": STOPPING, "status": "Success"}]
    wait_for_state(server, job_id, "Cancelled")
    found = requests.get(f"{server.url}{PREFIX}/v2/data/JobSummary.json", params={".full": "true", "runId": job_id},
                         auth=auth, timeout=10).json()  # fmt: skip
    assert found["queryResponse"]["@count"] == 1
    assert found["queryResponse"]["entity"][0]["jobSummaryDTO"]["runStatus"] == "CANCELLED"


def test_a_casjobs_job_cancelled_through_cancelrunning_goes_canceling_then_cancelled_in_casjobs(
    server: JobgateServer, http: httpx.Client
) -> None:
    wsid = server.cli.add_user("cas", "cas-Pa55", "--group", "nbi-write")
    cas = CasUser("cas", "cas-Pa55", wsid)
    job_id = submit(http, cas)
    wait_for_status(http, cas, job_id, {STARTED})
    found = verdicts(operation(http, NbiUser("cas", "cas-Pa55"), "v3", "cancelrunning", [job_id], as_json=False))
    assert found.success == {job_id: STOPPING}
    assert status(http, cas, job_id) in CANCELING_OR_CANCELLED
    wait_for_status(http, cas, job_id, {CANCELLED})
    moves = [(e["from_state"], e["to_state"], e["protocol"]) for e in show(server, job_id)["history"]]
    assert ("Executing", "Canceling", "cisco") in moves
    assert moves[-1][:2] == ("Canceling", "Cancelled")


def test_one_cancelrunning_of_500_run_ids_judges_each_on_its_own_and_leaves_nothing_half_done(
    jobgate_server: Callable[..., JobgateServer],
) -> None:
    server = jobgate_server(JOBGATE_RUNNERS=0)
    user = add_nbi_users(server, bulk=("nbi-write",))["bulk"]
    with components(settings_for(server.env["JOBGATE_DATABASE_URL"], Path(server.env["JOBGATE_DATA_DIR"]))) as parts:
        mine = Actor("bulk", Channel.CLI)
        theirs = parts.identity.add_user("else", "else-Pa55")
        made = _jobs_in_states(parts.jobs, parts.runners, mine, Actor.of(theirs, Channel.CLI))
        ids = [job_id for group in made.values() for job_id in group] + list(range(10**9, 10**9 + 100))
        random.Random(18).shuffle(ids)
        assert len(ids) == 500
        before = {job_id: _snapshot(parts.jobs, job_id) for job_id in _known(made)}
        with server.client() as http:
            found = verdicts(operation(http, user, "v3", "cancelrunning", ids, as_json=True))
        after = {job_id: _snapshot(parts.jobs, job_id) for job_id in before}
    assert found.message == "250 succeeded, 250 failed"
    assert found.success == {i: STOPPING for i in made["executing"]} | {i: "Run cancelled" for i in made["submitted"]}
    assert found.failure == (
        {i: "Run is not running" for i in [*made["suspended"], *made["finished"]]}
        | {i: "Run not found" for i in [*made["theirs"], *range(10**9, 10**9 + 100)]}
    )
    for job_id in made["executing"]:
        assert after[job_id][0] is S.CANCELING
        assert after[job_id][1] == before[job_id][1] + 1  # one event: the cancel
    for job_id in made["submitted"]:
        assert (after[job_id][0], after[job_id][1]) == (S.CANCELLED, before[job_id][1] + 1)
    for job_id in [*made["suspended"], *made["finished"], *made["theirs"]]:
        assert after[job_id] == before[job_id]  # refused: nothing changed, no event


def _jobs_in_states(jobs: JobService, runners: RunnerService, mine: Actor, theirs: Actor) -> dict[str, list[int]]:
    """Jobs of a task no runner serves, brought into their states by the test itself."""
    made: dict[str, list[int]] = {}
    for name, count, owner in (("executing", 100, mine), ("submitted", 150, mine), ("suspended", 50, mine),
                               ("finished", 50, mine), ("theirs", 50, theirs)):  # fmt: skip
        task = f"bulk-{name}"
        made[name] = [jobs.submit(owner, JobSpec(task, {})).id for _ in range(count)]
        if name in ("executing", "finished", "theirs"):
            for _ in range(count):
                claimed = runners.claim_next("test-runner", {task})
                assert claimed is not None
                if name == "finished":
                    runners.finish(claimed, TaskResult(rows=0))
        elif name == "suspended":
            for job_id in made[name]:
                jobs.suspend(owner, job_id)
    return made


def _known(made: dict[str, list[int]]) -> list[int]:
    return [job_id for group in made.values() for job_id in group]


def _snapshot(jobs: JobService, job_id: int) -> tuple[JobState, int]:
    job, events = jobs.history(Actor("root", Channel.CLI, frozenset({"admin"})), job_id)
    return job.state, len(events)
