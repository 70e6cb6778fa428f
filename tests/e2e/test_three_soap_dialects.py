"""One job, the three SOAP dialects, a real server (issue 17, cross-dialect): a job submitted with CasJobs
SubmitJob is cancelled with Birst cancelJob, and Trans-WS retrieveJobInformation shows exactly one cancelled event
with its actor and protocol; 32 concurrent cancels of one running job spread over CasJobs, Birst and Trans-WS
(both SOAP versions where the dialect has them) write exactly one cancel event, and every dialect then reports the
same final state."""

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import httpx
import pytest
from lxml import etree

from support import birst, casjobs, transws
from support.server import JobgateServer

RACERS: Final = 32
NO_SPACE: Final = ""  # a CasJobs job has no project: an empty spaceID names it (docs/INTERFACE-EXTENSIONS.md)


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


def ticket_of(server: JobgateServer, job_id: int) -> transws.Ticket:
    shown = casjobs.show(server, job_id)
    return transws.Ticket(shown["key"], shown["project"], shown["owner"])


def cancelled_events(answer: httpx.Response) -> list[str | None]:
    """The additionalInformation of each ("job", "cancelled") event in a retrieveJobInformation answer."""
    events = transws.answer_of(answer, "retrieveJobInformationResponse").iter(f"{{{transws.TNS}}}event")
    return [e.get("additionalInformation") for e in events if (e.get("stage"), e.get("status")) == ("job", "cancelled")]


def test_submitted_over_casjobs_cancelled_over_birst_read_over_trans_ws(
    server: JobgateServer, http: httpx.Client, alice: casjobs.CasUser
) -> None:
    job_id = casjobs.start_endless_job(http, alice)  # SubmitJob, then Executing
    token, ticket = birst.login(http, birst.BirstUser(alice.name, alice.password)), ticket_of(server, job_id)

    cancelled = birst.call(http, "cancelJob", token=token, spaceID=NO_SPACE, jobToken=ticket.jobId)

    assert birst.text(cancelled, "cancelJob") == "true"
    casjobs.wait_for_status(http, alice, job_id, {casjobs.CANCELLED})
    user = transws.User(alice.name, alice.password)
    for version in transws.VERSIONS:
        answer = transws.call(http, version, user, "retrieveJobInformationRequest", ticket)
        assert cancelled_events(answer) == ["actor=alice; protocol=birst"]
    history = casjobs.show(server, job_id)["history"]
    assert history[0]["protocol"] == "casjobs"
    assert [(e["actor"], e["protocol"]) for e in casjobs.cancel_events({"history": history})] == [("alice", "birst")]


def test_32_concurrent_cancels_over_the_three_soap_dialects_make_one_event_and_one_final_state(
    server: JobgateServer, http: httpx.Client, alice: casjobs.CasUser
) -> None:
    job_id = casjobs.start_endless_job(http, alice)
    token, ticket = birst.login(http, birst.BirstUser(alice.name, alice.password)), ticket_of(server, job_id)
    user = transws.User(alice.name, alice.password)
    barrier = threading.Barrier(RACERS)

    def cancel(n: int) -> str:
        """Racer n: CasJobs (HTTP POST, SOAP 1.1), Birst (SOAP 1.1, 1.2) or Trans-WS (SOAP 1.1, 1.2) in turn."""
        version = ("soap11", "soap12")[n // 3 % 2]
        with server.client() as own:
            barrier.wait(timeout=30)
            if n % 3 == 0:
                reply = (casjobs.post(own, "CancelJob", wsId=alice.wsid, pw=alice.password, jobId=job_id)
                         if version == "soap11" else
                         own.post(casjobs.JOBS_PATH, content=_casjobs_cancel(alice, job_id),
                                  headers={"Content-Type": "text/xml; charset=utf-8",
                                           "SOAPAction": f'"{casjobs.TNS}/CancelJob"'}))  # fmt: skip
                return "casjobs " + ("ok" if reply.status_code == 200 else
                                     "complete" * ("cannot be cancelled" in reply.text))  # fmt: skip
            if n % 3 == 1:
                got = birst.call(own, "cancelJob", version, token=token, spaceID=NO_SPACE, jobToken=ticket.jobId)
                return "birst " + birst.text(got, "cancelJob")
            answer = transws.call(own, transws.Version(version), user, "cancelJobRequest", ticket)
            return "transws " + "/".join(transws.control_answer(answer, "cancelJobResponse"))

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(cancel, range(RACERS)))

    # each racer is accepted, or (once the runner has stopped the job) told in its dialect's words that it is over
    allowed = {"casjobs ok", "casjobs complete", "birst true", "birst false", "transws 1/Cancellation succeeded",
               "transws 1/Cancellation already requested", "transws 0/Job is complete"}  # fmt: skip
    assert set(outcomes) <= allowed, outcomes
    assert {o.split()[0] for o in outcomes} == {"casjobs", "birst", "transws"}
    final = casjobs.wait_for_status(http, alice, job_id, {casjobs.CANCELLED})
    events = casjobs.cancel_events(casjobs.show(server, job_id))
    assert len(events) == 1, events
    assert (events[0]["actor"], events[0]["protocol"] in ("casjobs", "birst", "transws")) == ("alice", True)
    # every dialect reports the same final state
    assert casjobs.status(http, alice, job_id) == final
    assert birst.detailed_status(http, token, ticket.jobId) == "Cancelled"
    for version in transws.VERSIONS:
        answer = transws.call(http, version, user, "retrieveJobInformationRequest", ticket)
        assert len(cancelled_events(answer)) == 1
        assert transws.control_answer(transws.call(http, version, user, "cancelJobRequest", ticket),
                                      "cancelJobResponse") == ("0", "Job is complete")  # fmt: skip
    assert [j["state"] for j in casjobs.jobgate_json(server, "job", "list") if j["id"] == job_id] == ["Cancelled"]


def _casjobs_cancel(alice: casjobs.CasUser, job_id: int) -> bytes:
    """Seed 001's CancelJob as a SOAP 1.1 client builds it."""
    soap = "http://schemas.xmlsoap.org/soap/envelope/"
    root = etree.Element(f"{{{soap}}}Envelope", nsmap={"soap": soap})
    request = etree.SubElement(etree.SubElement(root, f"{{{soap}}}Body"), f"{{{casjobs.TNS}}}CancelJob",
                               nsmap={None: casjobs.TNS})  # fmt: skip
    for name, value in (("wsId", alice.wsid), ("pw", alice.password), ("jobId", job_id)):
        etree.SubElement(request, f"{{{casjobs.TNS}}}{name}").text = str(value)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
