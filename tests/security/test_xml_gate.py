"""What only CasJobs (ASMX) does at jobs.asmx's front door, on a real server: its 400 for XML that is not
well-formed, SOAPAction routing, its 415 and ASMX errors for the wrong content type, VersionMismatch with an
Upgrade header, and SQL-looking values in every binding. (DOCTYPEs, entity bombs, nesting, element counts,
processing instructions and the body cap run over every dialect's kit: test_hostile_xml.py, test_real_server.py.)

Each request gets its documented refusal, changes no job and no history (the operator's `job list`/`job show`
output is the same before and after), shows no internals, and leaves the server healthy.
"""

from collections.abc import Callable, Iterator

import httpx
import pytest
from lxml import etree

from support.kits.base import assert_no_leak, assert_unchanged
from support.kits.casjobs_wire import (
    BAD_LOGIN,
    READ_PREFIX,
    SOAP11,
    SOAP12,
    SOAP_BINDINGS,
    Binding,
    User,
    World,
    assert_denied,
    assert_fault,
    call,
    fault_of,
    open_world,
    post_soap,
    seed_cancel,
    soap_action,
    submit_job,
)

pytestmark = pytest.mark.e2e

ALICE = User("alice", "alice-Pw-7", 3001)
UNKNOWN_JOB = 987654


@pytest.fixture(scope="module")
def world(module_jobgate_server) -> World:
    return open_world(module_jobgate_server, [ALICE])


@pytest.fixture(scope="module")
def http(world: World) -> Iterator[httpx.Client]:
    with world.server.client() as client:
        yield client


@pytest.fixture(scope="module")
def job(http: httpx.Client) -> int:
    """Alice's Submitted job: every attack names it."""
    return submit_job(http, ALICE)


Refused = Callable[[Callable[[], httpx.Response], str | bytes], httpx.Response]


@pytest.fixture
def refused(world: World, http: httpx.Client, job: int) -> Refused:
    """Send one hostile request (and what it carried); it must change nothing, show no internals, and leave the
    server healthy. Nothing changed: the job list, and Alice's job with its full history, read the same."""

    def check(send: Callable[[], httpx.Response], sent: str | bytes) -> httpx.Response:
        before = world.view.around(job)
        response = send()
        assert response.headers.get("x-request-id"), "every response carries x-request-id"
        assert_no_leak(response, sent)
        world.healthy(http)
        assert_unchanged(before, world.view.around(job), f"a refused request ({response.status_code})")
        return response

    return check


class TestNotWellFormed:
    """ASMX answers XML that is not well-formed with 400 and an empty body."""

    @staticmethod
    def bodies(binding: Binding, job: int) -> dict[str, bytes]:
        good = seed_cancel(binding, ALICE.wsid, ALICE.password, job)
        return {
            "truncated": good[: len(good) // 2].encode(),
            "latin-1 bytes declared utf-8": seed_cancel(binding, ALICE.wsid, "pässwörd", job).encode("latin-1"),
            "utf-8 bytes declared utf-16": good.replace('encoding="utf-8"', 'encoding="utf-16"').encode(),
        }

    @pytest.mark.parametrize("case", ["truncated", "latin-1 bytes declared utf-8", "utf-8 bytes declared utf-16"])
    @pytest.mark.parametrize("binding", SOAP_BINDINGS)
    def test_xml_that_is_not_well_formed_gets_400_and_an_empty_body(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding, case: str
    ) -> None:
        body = self.bodies(binding, job)[case]
        response = refused(lambda: post_soap(http, binding, body), body)
        assert (response.status_code, response.content) == (400, b"")


class TestRouting:
    @pytest.mark.parametrize("binding", SOAP_BINDINGS)
    def test_a_soap_action_naming_another_operation_is_refused(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding
    ) -> None:
        body = seed_cancel(binding, ALICE.wsid, ALICE.password, job)
        action = soap_action("GetJobStatus")
        if binding is Binding.SOAP11:
            headers = {"soapaction": action}
        else:
            headers = {"content-type": f"{binding.content_type}; action={action}"}
        response = refused(lambda: post_soap(http, binding, body, headers), body)
        expected = (
            "Server did not recognize the value of HTTP Header SOAPAction: http://Services.Cas.jhu.edu/GetJobStatus."
        )
        assert_fault(response, binding, "Client", expected)

    @pytest.mark.parametrize("binding", SOAP_BINDINGS)
    def test_without_soap_action_the_body_routes_the_call(
        self, refused: Refused, world: World, http: httpx.Client, binding: Binding
    ) -> None:
        body = seed_cancel(binding, ALICE.wsid, ALICE.password, UNKNOWN_JOB)  # seed 001: an unknown id does nothing
        response = refused(lambda: post_soap(http, binding, body), body)
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize("binding", SOAP_BINDINGS)
    def test_a_json_content_type_gets_415_and_a_soap11_client_fault(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding
    ) -> None:
        body = seed_cancel(binding, ALICE.wsid, ALICE.password, job)
        headers = {"content-type": "application/json"}
        response = refused(lambda: post_soap(http, binding, body, headers), body)
        assert response.status_code == 415
        fault = fault_of(response)
        assert (fault.version, fault.code) == (SOAP11, "Client"), fault
        assert fault.text == READ_PREFIX + "Request format is invalid: application/json."

    def test_a_json_content_type_on_the_http_post_binding_is_an_asmx_error(
        self, refused: Refused, world: World, http: httpx.Client, job: int
    ) -> None:
        path = "/CasJobs/services/jobs.asmx/CancelJob"
        body = f'{{"wsId": {ALICE.wsid}, "pw": "{ALICE.password}", "jobId": {job}}}'
        response = refused(lambda: http.post(path, content=body, headers={"content-type": "application/json"}), body)
        assert_denied(response, Binding.POST, "Request format is invalid: application/json.")

    @pytest.mark.parametrize(("sent", "version"), [(Binding.SOAP11, SOAP12), (Binding.SOAP12, SOAP11)])
    def test_an_envelope_of_the_other_version_gets_a_version_mismatch_fault(
        self, refused: Refused, world: World, http: httpx.Client, job: int, sent: Binding, version: str
    ) -> None:
        other = Binding.SOAP12 if sent is Binding.SOAP11 else Binding.SOAP11
        body = seed_cancel(other, ALICE.wsid, ALICE.password, job)
        response = refused(lambda: post_soap(http, sent, body), body)
        fault = fault_of(response)
        assert (response.status_code, fault.version, fault.code) == (500, SOAP11, "VersionMismatch"), fault
        assert upgrade_offers(response) == ["upg:Envelope", "soap:Envelope"]  # SOAP 1.2 Part 1, App. A


def upgrade_offers(response: httpx.Response) -> list[str]:
    """The envelopes a VersionMismatch fault's Upgrade header offers (SOAP 1.2 Part 1, App. A)."""
    root = etree.fromstring(response.content, etree.XMLParser(resolve_entities=False, no_network=True))
    offers = root.findall(f"{{{SOAP11}}}Header/{{{SOAP12}}}Upgrade/{{{SOAP12}}}SupportedEnvelope")
    return [offer.get("qname") for offer in offers]


SQL_IDS = ("1 OR 1=1", "1;DROP TABLE jobs")


class TestSqlLookingValues:
    @pytest.mark.parametrize("value", SQL_IDS)
    @pytest.mark.parametrize("field", ["jobId", "wsId"])
    @pytest.mark.parametrize("binding", SOAP_BINDINGS)
    def test_sql_looking_ids_in_soap_elements_are_client_faults(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding, field: str, value: str
    ) -> None:
        params = {"wsId": ALICE.wsid, "jobId": job, field: value}
        body = seed_cancel(binding, params["wsId"], ALICE.password, params["jobId"])
        response = refused(lambda: post_soap(http, binding, body), body)
        fault = fault_of(response)
        assert (response.status_code, fault.code.split(".")[0]) == (500, binding.client_code), fault

    @pytest.mark.parametrize("value", SQL_IDS)
    @pytest.mark.parametrize("field", ["jobId", "wsId"])
    @pytest.mark.parametrize("binding", [Binding.GET, Binding.POST])
    def test_sql_looking_ids_in_http_parameters_cannot_be_converted(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding, field: str, value: str
    ) -> None:
        params = {"wsId": ALICE.wsid, "pw": ALICE.password, "jobId": job, field: value}
        response = refused(lambda: call(http, binding, "CancelJob", params), value)
        assert_denied(response, binding, f"Cannot convert {value} to System.Int64.")

    @pytest.mark.parametrize("binding", list(Binding))
    def test_a_sql_looking_password_is_a_bad_login(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding
    ) -> None:
        params = {"wsId": ALICE.wsid, "pw": "' OR '1'='1' --", "jobId": job}
        response = refused(lambda: call(http, binding, "CancelJob", params), "")
        assert_denied(response, binding, BAD_LOGIN)

    @pytest.mark.parametrize("binding", list(Binding))
    def test_sql_looking_getjobs_conditions_are_refused(
        self, refused: Refused, world: World, http: httpx.Client, job: int, binding: Binding
    ) -> None:
        params = {**ALICE.creds("GetJobs"), "conditions": "JobID : 1 OR 1=1", "includeSystem": "false"}
        response = refused(lambda: call(http, binding, "GetJobs", params), "")
        assert_denied(response, binding, "Bad value '1 OR 1=1' for condition key 'jobid'.")
