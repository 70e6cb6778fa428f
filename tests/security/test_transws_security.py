"""What only Trans-WS has, at its front door, in this process (httpx's ASGI transport): faults in the request's
SOAP version (1.1 Client/Server, 1.2 Sender/Receiver), HTTP 500, in the plain SOAP shape (no ASMX wording); a wrong
Content-Type is a Client fault, never a 200; mustUnderstand headers; the ticket's rules for submissions and lists.
(The ownership matrix, hostile XML, body limits, hygiene and the fuzzer run over every dialect's kit: see
test_ownership.py, test_hostile_xml.py, test_real_server.py, test_hygiene.py and test_fuzz_seeds.py.)
"""

import base64
from collections.abc import Iterator
from typing import Final

import httpx
import pytest
from lxml import etree
from starlette.applications import Starlette

from jobgate.domain.model import Actor, Channel, JobSpec
from support.kits.base import LOOPBACK, OperatorView, app_in_process, assert_no_leak, assert_unchanged, request
from support.kits.casjobs import add_user
from support.transws import (
    PATH,
    TNS,
    VERSIONS,
    Ticket,
    User,
    Version,
    answer_of,
    assert_fault,
    control_answer,
    envelope,
)

OWNER, OTHER, ROOT = User("alice", "alice-Pw-1"), User("bob", "bob-Pw-1"), User("root", "root-Pw-1")
NOT_FOUND: Final = "Job not found"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    with app_in_process(tmp_path_factory.mktemp("transws")) as built:
        for n, user in enumerate((OWNER, OTHER, ROOT)):
            add_user(built, user.name, user.password, 9001 + n, admin=user is ROOT)
        yield built


@pytest.fixture(scope="module")
def operator(app: Starlette) -> OperatorView:
    return OperatorView(str(app.state.components.settings.database_url))


def new_job(app: Starlette, finished: bool = False) -> Ticket:
    """A Submitted sleep job of alice's in project `books` (no runners here); with `finished`, one that ran
    to its end inside the call (a synchronous job)."""
    jobs = app.state.components.jobs
    owner, spec = Actor(OWNER.name, Channel.CLI), JobSpec("sleep", {"seconds": 0}, "books")
    job = jobs.execute(owner, spec)[0] if finished else jobs.submit(owner, spec)
    return Ticket(job.key, "books", OWNER.name)


def send(
    app: Starlette, version: Version, body: bytes, headers: dict[str, str] | None = None, content_type: str = "",
    client: tuple[str, int] = LOOPBACK,
) -> httpx.Response:  # fmt: skip
    sent = {"content-type": content_type or version.content_type, **(headers or {})}
    return request(app, "POST", PATH, content=body, headers=sent, client=client)


def basic(user: User) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user.name}:{user.password}".encode()).decode()}


# -- the front door ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS, ids=str)
class TestFrontDoor:
    def test_a_wrong_content_type_is_a_client_fault_never_a_200(self, app: Starlette, version: Version) -> None:
        body = envelope(version, "retrieveActiveJobsListRequest")
        for content_type in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
            answer = send(app, version, body, basic(OWNER), content_type)
            assert_fault(answer, Version.SOAP11, "Client", status=415)

    def test_xml_that_is_not_well_formed_is_a_client_fault_in_the_plain_shape(
        self, app: Starlette, version: Version
    ) -> None:
        answer = send(app, version, b"<soap:Envelope><unclosed>", basic(OWNER))

        fault = assert_fault(answer, version, "Client")
        assert not fault.text.startswith("Server was unable")  # a plain SOAP service: no ASMX wording
        assert_no_leak(answer)

    def test_a_doctype_is_refused_before_anything_reads_the_body(self, app: Starlette, version: Version) -> None:
        body = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>' + envelope(version, "cancelJobRequest")[38:]

        assert_fault(
            send(app, version, body, basic(OWNER)), version, "Client", "DTD is prohibited in this XML document."
        )

    def test_an_unknown_request_element_is_a_client_fault(self, app: Starlette, version: Version) -> None:
        answer = send(app, version, envelope(version, "deleteEverythingRequest"), basic(OWNER))

        assert_fault(answer, version, "Client", f"Unknown operation: {{{TNS}}}deleteEverythingRequest.")

    def test_soap_action_is_ignored_whatever_it_names(self, app: Starlette, version: Version) -> None:
        body = envelope(version, "retrieveActiveJobsListRequest")
        if version is Version.SOAP11:
            headers = {**basic(OWNER), "soapaction": '"urn:something-else"'}
            answer = send(app, version, body, headers)
        else:
            answer = send(app, version, body, basic(OWNER), version.content_type + '; action="urn:else"')

        answer_of(answer, "retrieveActiveJobsListResponse")

    def test_a_request_without_a_ticket_is_a_client_fault(self, app: Starlette, version: Version) -> None:
        answer = send(app, version, envelope(version, "cancelJobRequest"), basic(OWNER))

        assert_fault(answer, version, "Client", "The request needs a ticket with jobId, projectId and userId.")

    def test_a_ticket_attribute_left_out_reads_as_empty(self, app: Starlette, version: Version) -> None:
        body = envelope(version, "cancelJobRequest", new_job(app)).replace(b' projectId="books"', b"")

        answer = send(app, version, body, basic(OWNER))

        assert control_answer(answer, "cancelJobResponse") == ("0", NOT_FOUND)  # project "" is not the job's

    def test_a_security_header_that_must_be_understood_is_understood(self, app: Starlette, version: Version) -> None:
        ticket = new_job(app)
        body = envelope(version, "retrieveJobInformationRequest", ticket, token=OWNER)
        assert b"mustUnderstand" in body

        answer_of(send(app, version, body), "retrieveJobInformationResponse")

    def test_another_header_that_must_be_understood_is_a_must_understand_fault(
        self, app: Starlette, version: Version, operator: OperatorView
    ) -> None:
        ticket = new_job(app)
        root = etree.fromstring(envelope(version, "cancelJobRequest", ticket, token=OWNER))
        header = root.find(f"{{{version.envelope_ns}}}Header")
        assert header is not None
        extra = etree.SubElement(header, "{urn:example:billing}Charge")
        extra.set(f"{{{version.envelope_ns}}}mustUnderstand", "1")
        before = operator.around()

        answer = send(app, version, etree.tostring(root))

        assert_fault(answer, version, "MustUnderstand", "SOAP header Charge was not understood.")
        assert_unchanged(before, operator.around())

    def test_an_envelope_of_the_other_version_is_a_version_mismatch(self, app: Starlette, version: Version) -> None:
        other = Version.SOAP11 if version is Version.SOAP12 else Version.SOAP12
        answer = send(app, version, envelope(other, "retrieveActiveJobsListRequest"), basic(OWNER))

        assert_fault(answer, Version.SOAP11, "VersionMismatch")

    def test_a_get_without_wsdl_is_refused_and_no_operation_page_exists(self, app: Starlette, version: Version) -> None:
        assert request(app, "GET", PATH).status_code == 405
        assert request(app, "GET", f"{PATH}?op=cancelJob").status_code == 405
        assert request(app, "POST", f"{PATH}/cancelJob", content=b"x=1").status_code == 404


@pytest.mark.parametrize("version", VERSIONS, ids=str)
def test_a_job_is_submitted_in_the_callers_own_name_only(
    app: Starlette, operator: OperatorView, version: Version
) -> None:
    before = operator.around()
    fields = {"service": "sleep", "info": "seconds=1"}

    for caller in (OTHER, ROOT):
        body = envelope(version, "submitJobRequest", Ticket("", "books", OWNER.name), fields)
        answer = send(app, version, body, basic(caller))
        assert_fault(answer, version, "Client", "The ticket's userId must be the authenticated user.")

    assert_unchanged(before, operator.around())


@pytest.mark.parametrize(
    ("fields", "project", "text"),
    [
        ({"service": "sql", "info": "query=SELECT 1"}, "books", "Unknown service 'sql'; this server runs: sleep."),
        ({"service": "sleep", "info": "seconds"}, "books", "'seconds' in info is not a name=value parameter."),
        ({"service": "sleep", "info": "seconds=soon"}, "books", "The sleep service needs info 'seconds=<number>'."),
        ({"service": "sleep", "info": "seconds=1"}, "p" * 256, "A projectId has at most 255 characters."),
    ],
)
def test_a_submission_jobgate_cannot_run_is_a_client_fault_that_submits_nothing(
    app: Starlette, operator: OperatorView, fields: dict[str, str], project: str, text: str
) -> None:
    before = operator.around()
    body = envelope(Version.SOAP12, "submitJobRequest", Ticket("", project, OWNER.name), fields)

    assert_fault(send(app, Version.SOAP12, body, basic(OWNER)), Version.SOAP12, "Client", text)
    assert_unchanged(before, operator.around())


@pytest.mark.parametrize("version", VERSIONS, ids=str)
@pytest.mark.parametrize("request_name", ["retrieveActiveJobsList", "retrieveFullJobsList"])
def test_the_lists_show_a_user_their_own_jobs_and_an_administrator_everyones(
    app: Starlette, version: Version, request_name: str
) -> None:
    ticket = new_job(app)

    def keys(user: User) -> set[str]:
        answer = send(app, version, envelope(version, f"{request_name}Request"), basic(user))
        return {str(t.get("jobId")) for t in answer_of(answer, f"{request_name}Response").iter(f"{{{TNS}}}ticket")}

    assert ticket.jobId in keys(OWNER)
    assert ticket.jobId not in keys(OTHER)
    assert ticket.jobId in keys(ROOT)


def test_a_ws_security_token_wins_over_basic_credentials(app: Starlette) -> None:
    ticket = new_job(app)
    body = envelope(Version.SOAP11, "cancelJobRequest", ticket, token=OTHER)

    answer = send(app, Version.SOAP11, body, basic(OWNER))

    assert control_answer(answer, "cancelJobResponse") == ("0", NOT_FOUND)
