"""Real SOAP clients, unmodified, against a real `jobgate serve`: zeep over SOAP 1.1 and SOAP 1.2 and
suds-community (SOAP 1.1, the only version it writes), each built from the served
`CommandWebService.asmx?WSDL`, through a Birst client's whole cycle (Login, getLoadStatus, publishData, the
status operations, cancelJob, Logout) and its faults."""

import contextlib
import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import suds
import suds.client
import zeep
import zeep.exceptions

from support.birst import (
    PATH,
    TNS,
    BirstUser,
    add_birst_users,
    login,
    new_space,
    running_job,
)
from support.casjobs import cancel_events, jobgate_json, show
from support.server import JobgateServer
from support.wait import wait_until

INVALID_TOKEN = "Invalid token"
UNKNOWN_JOB = "Invalid job token"
BAD_LOGIN = "Unable to log in: invalid username or password"
BAD_SPACE = "Space ID must be 36 characters"
NOT_SUPPORTED = "This operation is not supported by this server"


@pytest.fixture(scope="module")
def server(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=3)


@pytest.fixture(scope="module")
def users(server: JobgateServer) -> dict[str, BirstUser]:
    return add_birst_users(server, "alice", "brian", admin=["admin"])


@pytest.fixture(scope="module")
def http(server: JobgateServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@dataclass
class BirstClient:
    """One SOAP client library bound to one port, with its answers and faults read the same way."""

    name: str
    service: Any
    version: str  # "1.1" or "1.2"
    subgroups: Callable[[list[str]], Any]
    set_headers: Callable[[dict[str, str]], Any]

    def call(self, op: str, *args: Any) -> Any:
        return getattr(self.service, op)(*args)

    def fault_of(self, op: str, *args: Any) -> tuple[str, str]:
        """(fault code without its prefix, fault text) of a call that must fault."""
        try:
            self.call(op, *args)
        except zeep.exceptions.Fault as fault:
            return str(fault.code).rpartition(":")[2], str(fault.message)
        except suds.WebFault as fault:
            return str(fault.fault.faultcode).rpartition(":")[2], str(fault.fault.faultstring)
        raise AssertionError(f"{self.name}: {op} did not fault")

    @property
    def client_code(self) -> str:
        return "Sender" if self.version == "1.2" else "Client"


def status_code(result: Any) -> str:
    return str(result.statusCode)


@pytest.fixture(scope="module")
def zeep_client(server: JobgateServer) -> zeep.Client:
    return zeep.Client(f"{server.url}{PATH}?WSDL")


# suds-community writes SOAP 1.1 envelopes whatever port it is given, so it runs over SOAP 1.1 only
@pytest.fixture(params=["zeep-soap11", "zeep-soap12", "suds-soap11"])
def birst(request: pytest.FixtureRequest, server: JobgateServer, zeep_client: zeep.Client) -> BirstClient:
    soap12 = request.param == "zeep-soap12"
    port = "CommandWebServiceSoap12" if soap12 else "CommandWebServiceSoap"
    version = "1.2" if soap12 else "1.1"
    if request.param.startswith("zeep"):
        array = zeep_client.get_type("ns0:ArrayOfString")  # as Birst's zeep scripts build it
        return BirstClient(
            request.param, zeep_client.bind("CommandWebService", port), version, lambda items: array(string=items),
            lambda extra: zeep_client.settings(extra_http_headers=extra),
        )  # fmt: skip
    client = suds.client.Client(f"{server.url}{PATH}?WSDL")  # one per test: set_options sticks

    def array_of(items: list[str]) -> Any:
        made = client.factory.create("ArrayOfString")
        made.string = items
        return made

    def set_suds_headers(extra: dict[str, str]) -> Any:
        client.set_options(headers=extra)
        return contextlib.nullcontext()

    return BirstClient(request.param, client.service[port], version, array_of, set_suds_headers)


class TestWholeCycle:
    def test_login_publish_watch_cancel_and_logout(
        self, birst: BirstClient, server: JobgateServer, users: dict[str, BirstUser]
    ) -> None:
        alice, space = users["alice"], new_space()
        token = str(birst.call("Login", alice.name, alice.password))
        assert len(token) == 32
        assert birst.call("getLoadStatus", token, space) == "Available"

        when = datetime.datetime(2024, 4, 18, 12, 34, 56)
        job = str(birst.call("publishData", token, space, birst.subgroups(["Sales", "seconds=600"]), when))
        wait_until(lambda: status_code(birst.call("getJobStatus", token, job)) == "Running", 15, 0.02, "Running")
        assert birst.call("isJobComplete", token, job) is False
        assert status_code(birst.call("getDetailedJobStatus", token, job)) == "Running"
        assert birst.call("getLoadStatus", token, space) == "Processing"
        detailed = birst.call("getDetailedJobStatus", token, job)
        assert (detailed.processingGroup, detailed.type) == ("Sales", 0)

        assert birst.call("cancelJob", token, space, job) is True

        wait_until(lambda: birst.call("isJobComplete", token, job) is True, 15, 0.02, "the job to end")
        assert status_code(birst.call("getDetailedJobStatus", token, job)) == "Cancelled"
        assert status_code(birst.call("getJobStatus", token, job)) == "Failed"  # Birst's legacy words
        assert birst.call("isPublishingComplete", token, job) is True
        assert list(_strings(birst.call("getPublishingStatus", token, job))) == ["Failed"]
        assert birst.call("cancelJob", token, space, job) is False  # a completed job
        assert birst.call("clearJobStatus", token, space, job) is False
        assert birst.call("clearCacheInSpace", token, space) is True
        assert birst.call("getLoadStatus", token, space) == "Available"
        shown = show(server, _job_id(server, job))
        assert [(e["actor"], e["protocol"]) for e in cancel_events(shown)] == [("alice", "birst")]
        assert shown["history"][0]["protocol"] == "birst"

        assert birst.call("Logout", token) is None
        assert birst.fault_of("isJobComplete", token, job) == (birst.client_code, INVALID_TOKEN)

    def test_a_short_publish_completes(self, birst: BirstClient, users: dict[str, BirstUser]) -> None:
        alice, space = users["alice"], new_space()
        token = str(birst.call("Login", alice.name, alice.password))
        job = str(birst.call("publishData", token, space, birst.subgroups(["seconds=0"]), datetime.datetime.now()))

        wait_until(lambda: birst.call("isJobComplete", token, job) is True, 15, 0.02, "the job to finish")
        assert status_code(birst.call("getJobStatus", token, job)) == "Complete"
        assert status_code(birst.call("getDetailedJobStatus", token, job)) == "Complete"


class TestFaults:
    def test_bad_credentials_on_login_are_a_client_fault(self, birst: BirstClient, users: dict[str, BirstUser]) -> None:
        assert birst.fault_of("Login", "alice", "wrong-password") == (birst.client_code, BAD_LOGIN)

    @pytest.mark.parametrize(
        ("username", "password", "text"),
        [("abc", "long-enough", "username must be longer than 3 characters"),
         ("alice", "short", "password must be longer than 5 characters"),
         ("a" * 256, "long-enough", "username must be shorter than 256 characters")],
    )  # fmt: skip
    def test_login_lengths_are_checked_as_the_wsdl_declares(
        self, birst: BirstClient, username: str, password: str, text: str
    ) -> None:
        assert birst.fault_of("Login", username, password) == (birst.client_code, text)

    @pytest.mark.parametrize("token", ["0" * 32, "short", "0" * 33])
    def test_an_unknown_or_malformed_token_is_a_client_fault(self, birst: BirstClient, token: str) -> None:
        assert birst.fault_of("isJobComplete", token, "0" * 32) == (birst.client_code, INVALID_TOKEN)
        assert birst.fault_of("cancelJob", token, new_space(), "0" * 32) == (birst.client_code, INVALID_TOKEN)

    def test_a_space_id_of_the_wrong_length_is_a_client_fault(
        self, birst: BirstClient, http: httpx.Client, users: dict[str, BirstUser]
    ) -> None:
        token = login(http, users["alice"])
        assert birst.fault_of("cancelJob", token, "space", "0" * 32) == (birst.client_code, BAD_SPACE)
        assert birst.fault_of("getLoadStatus", token, "x" * 37) == (birst.client_code, BAD_SPACE)

    def test_an_unsupported_operation_is_a_client_fault(
        self, birst: BirstClient, http: httpx.Client, users: dict[str, BirstUser]
    ) -> None:
        token = login(http, users["alice"])
        assert birst.fault_of("deleteSpace", token, new_space()) == (birst.client_code, NOT_SUPPORTED)
        assert birst.fault_of("copySpace", token, new_space(), new_space(), "copy", "") == (
            birst.client_code, NOT_SUPPORTED,
        )  # fmt: skip
        assert birst.fault_of("swapSpaceContents", token, new_space(), new_space()) == (
            birst.client_code, NOT_SUPPORTED,
        )  # fmt: skip

    def test_another_users_job_is_false_to_cancel_and_unknown_to_read_and_changes_nothing(
        self, birst: BirstClient, server: JobgateServer, http: httpx.Client, users: dict[str, BirstUser]
    ) -> None:
        owner, other, space = login(http, users["alice"]), login(http, users["brian"]), new_space()
        with running_job(http, owner, space) as job:
            before = show(server, _job_id(server, job))

            assert birst.call("cancelJob", other, space, job) is False
            assert birst.call("clearJobStatus", other, space, job) is False
            assert birst.fault_of("getJobStatus", other, job) == (birst.client_code, UNKNOWN_JOB)
            assert birst.fault_of("isJobComplete", other, "f" * 32) == (birst.client_code, UNKNOWN_JOB)

            assert show(server, _job_id(server, job)) == before

    def test_an_admin_may_cancel_any_users_job(
        self, birst: BirstClient, server: JobgateServer, http: httpx.Client, users: dict[str, BirstUser]
    ) -> None:
        owner, admin, space = login(http, users["alice"]), login(http, users["admin"]), new_space()
        with running_job(http, owner, space) as job:
            assert birst.call("cancelJob", admin, space, job) is True
            assert [e["actor"] for e in cancel_events(show(server, _job_id(server, job)))] == ["admin"]

    def test_a_soap_action_naming_another_operation_is_a_client_fault(
        self, birst: BirstClient, http: httpx.Client, users: dict[str, BirstUser]
    ) -> None:
        token, action = login(http, users["alice"]), f"{TNS}cancelJob"
        header = (
            {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'}
            if birst.version == "1.2"
            else {"SOAPAction": f'"{action}"'}
        )

        with birst.set_headers(header):
            code, text = birst.fault_of("isJobComplete", token, "0" * 32)

        assert (code, text) == (
            birst.client_code,
            f"Server did not recognize the value of HTTP Header SOAPAction: {action}.",
        )


def _strings(result: Any) -> list[str]:
    """ArrayOfString: zeep unwraps it into a list, suds keeps an object with string[]."""
    if result is None or isinstance(result, list):
        return result or []
    return list(getattr(result, "string", []))


def _job_id(server: JobgateServer, key: str) -> int:
    [found] = [job["id"] for job in jobgate_json(server, "job", "list") if job["key"] == key]
    return int(found)
