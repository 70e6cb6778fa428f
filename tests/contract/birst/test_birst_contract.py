"""CommandWebService.asmx against its samples: seed 002's cancelJob, and Login, Logout, publishData,
isJobComplete, getJobStatus, getDetailedJobStatus, clearJobStatus and getLoadStatus in the shapes birst.md
documents, each over SOAP 1.1 and SOAP 1.2.

Each request file is sent as written, with only its placeholders filled (README.md beside this file), and
each answer is compared by structure with the response file (support.xmlcompare).
"""

import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final
from xml.sax.saxutils import escape

import httpx
import pytest

from support.birst import (
    CONTENT_TYPES,
    PATH,
    TNS,
    BirstUser,
    add_birst_users,
    call,
    detailed_status,
    login,
    new_space,
    publish,
    running_job,
    text,
    wait_for_status,
)
from support.casjobs import cancel_events, jobgate_json, show
from support.server import JobgateServer
from support.xmlcompare import assert_same_structure

HERE: Final = Path(__file__).parent
BINDINGS: Final = ["soap11", "soap12"]


# -- sending a sample ---------------------------------------------------------------------------------------
def fill(text: str, values: Mapping[str, Any]) -> str:
    """Replace the text of the leaf elements named in `values`, in document order (a list fills repeated
    elements one by one); the rest of the file stays byte for byte."""
    for name, value in values.items():
        items = iter(value if isinstance(value, list) else [value])
        pattern = re.compile(rf"(<{name}>)[^<]*(</{name}>)")
        text, count = pattern.subn(lambda m, it=items: m.group(1) + escape(str(next(it))) + m.group(2), text)
        assert count >= 1, f"placeholder <{name}> not found"
    return text


def send(http: httpx.Client, op: str, binding: str, values: Mapping[str, Any]) -> httpx.Response:
    """Send `<op>/<binding>.request.xml` with the seed's headers (Host and Content-Length are httpx's)."""
    body = fill((HERE / op / f"{binding}.request.xml").read_text(), values)
    headers = {"Content-Type": CONTENT_TYPES[binding]}
    if binding == "soap11":
        headers["SOAPAction"] = f'"{TNS}{op}"'  # seed 002: "http://www.birst.com/cancelJob"
    return http.post(PATH, content=body.encode(), headers=headers)


def check_answer(
    answer: httpx.Response, op: str, binding: str, values: Mapping[str, Any], omit: tuple[str, ...] = ()
) -> None:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == CONTENT_TYPES[binding]
    expected = (HERE / op / f"{binding}.response.xml").read_text()
    expected = fill(expected, values) if values else expected
    for element in omit:
        expected = re.sub(rf"\s*<{element}>[^<]*</{element}>", "", expected)
    assert_same_structure(answer.content, expected)


# -- one server for the module ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=3)


@pytest.fixture(scope="module")
def http(server: JobgateServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def alice(server: JobgateServer) -> BirstUser:
    return add_birst_users(server, "alice")["alice"]


@pytest.fixture(scope="module")
def token(http: httpx.Client, alice: BirstUser) -> str:
    return login(http, alice)


@pytest.fixture(scope="module")
def space() -> str:
    return new_space()


@pytest.fixture(scope="module")
def running(http: httpx.Client, token: str, space: str) -> Iterator[str]:
    """One long publishData job of alice's, Running while the read-only samples run."""
    with running_job(http, token, space) as job_token:
        yield job_token


def job_id(server: JobgateServer, job_token: str) -> int:
    [found] = [job["id"] for job in jobgate_json(server, "job", "list") if job["key"] == job_token]
    return int(found)


# -- the samples --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("binding", BINDINGS)
class TestCancelJob:
    def test_cancel_of_a_running_job_answers_true_as_the_seed_and_leaves_it_canceling(
        self, binding: str, server: JobgateServer, http: httpx.Client, token: str, space: str
    ) -> None:
        with running_job(http, token, space) as job_token:
            answer = send(http, "cancelJob", binding, {"token": token, "spaceID": space, "jobToken": job_token})

            check_answer(answer, "cancelJob", binding, {"cancelJobResult": "true"})
            assert detailed_status(http, token, job_token) in ("Cancelling", "Cancelled")
            shown = show(server, job_id(server, job_token))
        assert [(e["actor"], e["protocol"], e["from_state"], e["to_state"]) for e in cancel_events(shown)] == [
            ("alice", "birst", "Executing", "Canceling")
        ]

    def test_cancel_of_a_completed_job_answers_false_and_changes_nothing(
        self, binding: str, server: JobgateServer, http: httpx.Client, token: str, space: str
    ) -> None:
        job_token = publish(http, token, space, seconds=0)
        wait_for_status(http, token, job_token, {"Complete"})
        before = show(server, job_id(server, job_token))

        answer = send(http, "cancelJob", binding, {"token": token, "spaceID": space, "jobToken": job_token})

        check_answer(answer, "cancelJob", binding, {"cancelJobResult": "false"})
        assert show(server, job_id(server, job_token)) == before

    def test_cancel_in_another_space_answers_false_and_changes_nothing(
        self, binding: str, server: JobgateServer, http: httpx.Client, token: str, space: str, running: str
    ) -> None:
        before = show(server, job_id(server, running))

        answer = send(http, "cancelJob", binding, {"token": token, "spaceID": new_space(), "jobToken": running})

        check_answer(answer, "cancelJob", binding, {"cancelJobResult": "false"})
        assert show(server, job_id(server, running)) == before


@pytest.mark.parametrize("binding", BINDINGS)
class TestSession:
    def test_login_answers_a_32_character_token_and_logout_ends_it(
        self, binding: str, http: httpx.Client, alice: BirstUser, running: str
    ) -> None:
        answer = send(http, "Login", binding, {"username": alice.name, "password": alice.password})

        check_answer(answer, "Login", binding, {})
        fresh = text(answer, "Login")
        assert re.fullmatch(r"[0-9a-f]{32}", fresh)
        assert call(http, "isJobComplete", token=fresh, jobToken=running).status_code == 200

        check_answer(send(http, "Logout", binding, {"token": fresh}), "Logout", binding, {})
        assert call(http, "isJobComplete", token=fresh, jobToken=running).status_code == 500


@pytest.mark.parametrize("binding", BINDINGS)
class TestJobs:
    def test_publish_answers_the_job_token_of_a_new_job_in_that_space(
        self, binding: str, server: JobgateServer, http: httpx.Client, token: str, space: str
    ) -> None:
        values = {"token": token, "spaceID": space, "string": ["Sales", "seconds=0"], "date": "2024-04-18T12:34:56"}

        answer = send(http, "publishData", binding, values)

        check_answer(answer, "publishData", binding, {})
        shown = show(server, job_id(server, text(answer, "publishData")))
        assert (shown["owner"], shown["project"], shown["task"]) == ("alice", space, "sleep")
        first = shown["history"][0]
        assert (first["stage"], first["actor"], first["protocol"]) == ("submit", "alice", "birst")

    def test_a_running_job_is_not_complete(self, binding: str, http: httpx.Client, token: str, running: str) -> None:
        answer = send(http, "isJobComplete", binding, {"token": token, "jobToken": running})

        check_answer(answer, "isJobComplete", binding, {"isJobCompleteResult": "false"})

    @pytest.mark.parametrize("op", ["getJobStatus", "getDetailedJobStatus"])
    def test_status_of_a_running_job_is_running_with_its_processing_group(
        self, binding: str, op: str, server: JobgateServer, http: httpx.Client, token: str, running: str
    ) -> None:
        answer = send(http, op, binding, {"token": token, "jobToken": running})

        known = {"processingGroup": "Sales", "type": 0, "loadid": job_id(server, running), "statusCode": "Running"}
        check_answer(answer, op, binding, known, omit=("message",))  # nothing to say yet: omitted

    def test_load_status_of_a_space_with_a_running_job_is_processing(
        self, binding: str, http: httpx.Client, token: str, space: str, running: str
    ) -> None:
        answer = send(http, "getLoadStatus", binding, {"token": token, "spaceID": space})

        check_answer(answer, "getLoadStatus", binding, {"getLoadStatusResult": "Processing"})

    def test_clear_job_status_of_a_running_job_asks_it_to_stop(
        self, binding: str, http: httpx.Client, token: str, space: str
    ) -> None:
        with running_job(http, token, space) as job_token:
            answer = send(http, "clearJobStatus", binding, {"token": token, "spaceID": space, "jobToken": job_token})

            check_answer(answer, "clearJobStatus", binding, {"clearJobStatusResult": "true"})
            assert wait_for_status(http, token, job_token, {"Cancelled"}) == "Cancelled"
