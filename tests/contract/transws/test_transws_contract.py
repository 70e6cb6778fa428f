"""/transws against its samples: seed 000's cancelJob, and the other operations in the shapes transws.md
records, each over SOAP 1.1 and SOAP 1.2.

Each request file is sent as written with HTTP Basic credentials and no SOAPAction (the seed sends none),
with only its ticket's jobId filled in; each answer is compared by structure with the response file beside
it (support.xmlcompare). README.md beside this file names the sources and the placeholders.
"""

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import httpx
import pytest
from lxml import etree

from support.server import JobgateServer
from support.transws import (
    SEED_JOB,
    SEED_PROJECT,
    SEED_USER,
    VERSIONS,
    Ticket,
    User,
    Version,
    add_users,
    answer_of,
    call,
    control_answer,
    post,
    show,
    submit,
    wait_for_state,
)
from support.xmlcompare import assert_same_structure, to_element

HERE: Final = Path(__file__).parent
STAMP: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")  # seed 000: 2005-01-01T12:00:00.000Z
KEY: Final = re.compile(r"[0-9a-f]{32}")


def sample(op: str, version: Version, kind: str, job_id: str | None) -> str:
    text = (HERE / op / f"{version}.{kind}.xml").read_text()
    return text if job_id is None else text.replace(f'jobId="{SEED_JOB}"', f'jobId="{job_id}"')


def send(http: httpx.Client, op: str, version: Version, user: User, job_id: str | None) -> httpx.Response:
    """The request file as written, its ticket's jobId replaced by `job_id` (None: not even that)."""
    return post(http, version, sample(op, version, "request", job_id), user)


def check(answer: httpx.Response, op: str, version: Version, job_id: str | None) -> etree._Element:
    """HTTP 200 in the request's SOAP version, shaped as the response file. A `timeStamp` must be UTC with
    milliseconds and `Z` (it then matches the `dateTime` the files write); a new job's key matches `job-001`."""
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == version.content_type
    actual = to_element(answer.content)
    for element in actual.iter():
        stamp = element.get("timeStamp")
        if stamp is not None:
            assert STAMP.fullmatch(stamp), f"timeStamp {stamp!r} is not UTC with milliseconds and Z"
            element.set("timeStamp", "dateTime")
        if job_id is None and KEY.fullmatch(element.get("jobId") or ""):
            element.set("jobId", SEED_JOB)
    assert_same_structure(actual, sample(op, version, "response", job_id))
    return actual


def cancel_events(server: JobgateServer, ticket: Ticket) -> list[tuple[str, str, str | None, str]]:
    return [(e["actor"], e["protocol"], e["from_state"], e["to_state"])
            for e in show(server, ticket)["history"] if e["stage"] == "cancel"]  # fmt: skip


# -- servers: one whose runners start jobs, one without runners (jobs stay Submitted) ----------------------
@pytest.fixture(scope="module")
def busy(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=2)


@pytest.fixture(scope="module")
def idle(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=0)


@pytest.fixture(scope="module")
def busy_http(busy: JobgateServer) -> Iterator[httpx.Client]:
    with busy.client() as client:
        yield client


@pytest.fixture(scope="module")
def idle_http(idle: JobgateServer) -> Iterator[httpx.Client]:
    with idle.client() as client:
        yield client


@pytest.fixture(scope="module")
def busy_user(busy: JobgateServer) -> User:
    return add_users(busy, SEED_USER)[SEED_USER]


@pytest.fixture(scope="module")
def idle_user(idle: JobgateServer) -> User:
    return add_users(idle, SEED_USER)[SEED_USER]


@pytest.mark.parametrize("version", VERSIONS, ids=str)
class TestCancelJob:
    def test_cancel_of_an_executing_job_answers_as_the_seed_and_adds_one_cancelled_event(
        self, version: Version, busy: JobgateServer, busy_http: httpx.Client, busy_user: User
    ) -> None:
        ticket = submit(busy, SEED_USER)
        wait_for_state(busy, ticket, "Executing")

        check(send(busy_http, "cancelJob", version, busy_user, ticket.jobId), "cancelJob", version, ticket.jobId)

        assert wait_for_state(busy, ticket, "Cancelled") == "Cancelled"  # a request: the runner stops the task
        assert cancel_events(busy, ticket) == [(SEED_USER, "transws", "Executing", "Canceling")]
        info = call(busy_http, VERSIONS[0], busy_user, "retrieveJobInformationRequest", ticket)
        events = answer_of(info, "retrieveJobInformationResponse").iter("{*}event")
        assert [(e.get("stage"), e.get("status")) for e in events].count(("job", "cancelled")) == 1

    def test_the_seed_request_sent_unchanged_is_answered_in_its_shape_with_job_not_found(
        self, version: Version, idle: JobgateServer, idle_http: httpx.Client, idle_user: User
    ) -> None:
        before = show(idle, submit(idle, SEED_USER))

        answer = send(idle_http, "cancelJob", version, idle_user, None)

        ticket = answer_of(answer, "cancelJobResponse").find("{*}ticket")
        assert ticket is not None
        assert dict(ticket.attrib) == {"jobId": SEED_JOB, "projectId": SEED_PROJECT, "userId": SEED_USER}
        assert control_answer(answer, "cancelJobResponse") == ("0", "Job not found")
        assert show(idle, Ticket(before["key"], SEED_PROJECT, SEED_USER)) == before


@pytest.mark.parametrize("version", VERSIONS, ids=str)
class TestHoldAndRelease:
    def test_suspend_of_a_submitted_job_answers_as_the_sample(
        self, version: Version, idle: JobgateServer, idle_http: httpx.Client, idle_user: User
    ) -> None:
        ticket = submit(idle, SEED_USER)

        check(send(idle_http, "suspendJob", version, idle_user, ticket.jobId), "suspendJob", version, ticket.jobId)

        assert show(idle, ticket)["state"] == "Suspended"

    def test_resume_of_a_suspended_job_answers_as_the_sample(
        self, version: Version, idle: JobgateServer, idle_http: httpx.Client, idle_user: User
    ) -> None:
        ticket = submit(idle, SEED_USER)
        assert control_answer(call(idle_http, VERSIONS[0], idle_user, "suspendJobRequest", ticket),
                              "suspendJobResponse") == ("1", "Suspension succeeded")  # fmt: skip

        check(send(idle_http, "resumeJob", version, idle_user, ticket.jobId), "resumeJob", version, ticket.jobId)

        assert show(idle, ticket)["state"] == "Submitted"


@pytest.mark.parametrize("version", VERSIONS, ids=str)
class TestJobs:
    def test_submit_answers_as_the_sample_and_makes_a_sleep_job_in_the_tickets_project(
        self, version: Version, idle: JobgateServer, idle_http: httpx.Client, idle_user: User
    ) -> None:
        answer = send(idle_http, "submitJob", version, idle_user, None)

        check(answer, "submitJob", version, None)
        [key] = [t.get("jobId") for t in answer_of(answer, "submitJobResponse").iter("{*}ticket")]
        job = show(idle, Ticket(str(key), SEED_PROJECT, SEED_USER))
        assert (job["owner"], job["project"], job["task"], job["state"]) == (SEED_USER, SEED_PROJECT, "sleep",
                                                                             "Submitted")  # fmt: skip
        assert [(e["stage"], e["actor"], e["protocol"]) for e in job["history"]] == [("submit", SEED_USER, "transws")]

    def test_job_information_shows_the_job_and_its_history_as_the_sample(
        self, version: Version, idle: JobgateServer, idle_http: httpx.Client, idle_user: User
    ) -> None:
        made = call(idle_http, VERSIONS[0], idle_user, "submitJobRequest", Ticket("", SEED_PROJECT, SEED_USER),
                    service="sleep", info="seconds=600")  # fmt: skip
        [key] = [t.get("jobId") for t in answer_of(made, "submitJobResponse").iter("{*}ticket")]
        ticket = Ticket(str(key), SEED_PROJECT, SEED_USER)
        assert control_answer(call(idle_http, VERSIONS[0], idle_user, "cancelJobRequest", ticket),
                              "cancelJobResponse") == ("1", "Cancellation succeeded")  # fmt: skip

        answer = send(idle_http, "retrieveJobInformation", version, idle_user, ticket.jobId)

        check(answer, "retrieveJobInformation", version, ticket.jobId)

    def test_a_finished_job_is_retrieved_and_rejected_as_the_samples_show(
        self, version: Version, busy: JobgateServer, busy_http: httpx.Client, busy_user: User
    ) -> None:
        ticket = submit(busy, SEED_USER, seconds=0)
        wait_for_state(busy, ticket, "Finished")

        check(send(busy_http, "retrieveJob", version, busy_user, ticket.jobId), "retrieveJob", version, ticket.jobId)
        check(send(busy_http, "rejectJob", version, busy_user, ticket.jobId), "rejectJob", version, ticket.jobId)

        job = show(busy, ticket)
        assert job["state"] == "Finished"
        assert [(e["stage"], e["reason"]) for e in job["history"]][-1] == ("reject", "Terminology not as agreed")


@pytest.mark.parametrize("version", VERSIONS, ids=str)
def test_the_active_jobs_list_names_each_job_that_has_not_completed(
    version: Version, jobgate_server: Callable[..., JobgateServer]
) -> None:
    server = jobgate_server(JOBGATE_RUNNERS=0)
    user = add_users(server, SEED_USER)[SEED_USER]
    active, done = submit(server, SEED_USER), submit(server, SEED_USER)
    with server.client() as http:
        assert control_answer(call(http, VERSIONS[0], user, "cancelJobRequest", done), "cancelJobResponse")[0] == "1"

        check(send(http, "retrieveActiveJobsList", version, user, active.jobId), "retrieveActiveJobsList", version,
              active.jobId)  # fmt: skip
