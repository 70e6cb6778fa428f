"""One job, several dialects: a job submitted over CasJobs is watched and cancelled over Trans-WS (and the other
way round) under the same ownership rules, its history says who did what over which protocol. (32 cancels
racing over CasJobs, Birst and Trans-WS: test_three_soap_dialects.py.)"""

from collections.abc import Callable, Iterator

import httpx
import pytest

from support import casjobs
from support.server import JobgateServer
from support.transws import VERSIONS, Ticket, User, answer_of, call, control_answer, history_of

RACERS = 32


@pytest.fixture(scope="module")
def server(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=2)


@pytest.fixture(scope="module")
def alice(server: JobgateServer) -> casjobs.CasUser:
    return casjobs.add_users(server, "alice")["alice"]


@pytest.fixture(scope="module")
def http(server: JobgateServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def ticket_of(server: JobgateServer, job_id: int) -> Ticket:
    shown = casjobs.show(server, job_id)
    return Ticket(shown["key"], shown["project"], shown["owner"])


def test_a_casjobs_job_is_cancelled_over_trans_ws_and_both_dialects_agree(
    server: JobgateServer, http: httpx.Client, alice: casjobs.CasUser
) -> None:
    job_id = casjobs.start_endless_job(http, alice)
    ticket, transws_alice = ticket_of(server, job_id), User(alice.name, alice.password)

    answer = call(http, VERSIONS[1], transws_alice, "cancelJobRequest", ticket)

    assert control_answer(answer, "cancelJobResponse") == ("1", "Cancellation succeeded")
    casjobs.wait_for_status(http, alice, job_id, {casjobs.CANCELLED})
    events = casjobs.cancel_events(casjobs.show(server, job_id))
    assert [(e["actor"], e["protocol"]) for e in events] == [("alice", "transws")]
    history = history_of(call(http, VERSIONS[0], transws_alice, "retrieveJobInformationRequest", ticket))
    assert history == [("job", "start"), ("translation", "start"), ("job", "cancelled")]


def test_a_job_cancelled_over_casjobs_shows_one_cancelled_event_with_actor_and_protocol_in_trans_ws(
    server: JobgateServer, http: httpx.Client, alice: casjobs.CasUser
) -> None:
    job_id = casjobs.start_endless_job(http, alice)
    casjobs.cancel(http, alice, job_id)
    ticket = ticket_of(server, job_id)

    answer = call(http, VERSIONS[0], User(alice.name, alice.password), "retrieveJobInformationRequest", ticket)

    events = list(answer_of(answer, "retrieveJobInformationResponse").iter("{*}event"))
    cancelled = [e for e in events if (e.get("stage"), e.get("status")) == ("job", "cancelled")]
    assert [e.get("additionalInformation") for e in cancelled] == ["actor=alice; protocol=casjobs"]
