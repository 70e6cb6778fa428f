"""Birst and CasJobs over one job store: a job submitted through CasJobs is cancelled through Birst (its
jobToken is the job's key; a job with no project is named by an empty spaceID), both dialects then reporting the
same final state. (32 concurrent cancels over CasJobs, Birst and Trans-WS: test_three_soap_dialects.py.)"""

from collections.abc import Callable, Iterator
from typing import Final

import httpx
import pytest

from support.birst import call, detailed_status, login, text
from support.casjobs import (
    CANCELING,
    CANCELLED,
    CasUser,
    add_users,
    cancel_events,
    show,
    start_endless_job,
    wait_for_status,
)
from support.server import JobgateServer

NO_SPACE: Final = ""  # the job has no project: an empty spaceID names it (docs/INTERFACE-EXTENSIONS.md)
SAME_STATE: Final = {CANCELING: "Cancelling", CANCELLED: "Cancelled"}  # CasJobs status → Birst's detailed word


@pytest.fixture(scope="module")
def server(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=2)


@pytest.fixture(scope="module")
def alice(server: JobgateServer) -> CasUser:
    return add_users(server, "alice")["alice"]


@pytest.fixture(scope="module")
def http(server: JobgateServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def key_of(server: JobgateServer, job_id: int) -> str:
    return str(show(server, job_id)["key"])


def test_a_job_submitted_over_casjobs_is_cancelled_over_birst(
    server: JobgateServer, http: httpx.Client, alice: CasUser
) -> None:
    job_id = start_endless_job(http, alice)
    token, key = login(http, alice), key_of(server, job_id)

    answer = call(http, "cancelJob", token=token, spaceID=NO_SPACE, jobToken=key)

    assert text(answer, "cancelJob") == "true"
    final = wait_for_status(http, alice, job_id, {CANCELLED})
    assert detailed_status(http, token, key) == SAME_STATE[final]
    shown = show(server, job_id)
    assert [(e["actor"], e["protocol"], e["from_state"]) for e in cancel_events(shown)] == [
        ("alice", "birst", "Executing")
    ]
    assert shown["history"][0]["protocol"] == "casjobs"
