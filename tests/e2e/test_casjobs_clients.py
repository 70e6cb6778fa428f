"""Real CasJobs clients, unmodified, against a real `jobgate serve`: the PyPI `casjobs` client over HTTP GET
and HTTP POST, zeep over SOAP 1.1 and SOAP 1.2, and suds-community, both built from the served WSDL."""

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import suds
import suds.client
import zeep
import zeep.exceptions
import zeep.xsd
from casjobs import CasJobs

from support.casjobs import (
    CANCELING_OR_CANCELLED,
    ENDLESS_QUERY,
    JOBS_PATH,
    QUICK_CSV,
    QUICK_QUERY,
    START_TIMEOUT_S,
    STARTED,
    TNS,
    USERS_PATH,
    CasUser,
    add_users,
    cancel_events,
    endless_job,
    show,
    status,
    submit,
)
from support.server import JobgateServer
from support.wait import wait_until

CJJOB_FIELDS = ("JobID", "Rows", "WebServicesID", "TimeSubmit", "TimeStart", "TimeEnd", "Status", "Queue",
                "TaskName", "OutputLoc", "Error", "Query", "Context", "Type")  # fmt: skip  # casjobs.md, CJJob
VALUE_FIELDS = CJJOB_FIELDS[:8]  # value types and times: always written
NOT_OWNER = "You may only cancel your own jobs."
BAD_LOGIN = "Invalid WebServicesID or password."
MISSING_JOB_ID = "Missing parameter: jobId."
SERVER_PREFIX = "Server was unable to process request. ---> "
READ_PREFIX = "Server was unable to read request. ---> "


@pytest.fixture(scope="module")
def server(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=3)


@pytest.fixture(scope="module")
def users(server: JobgateServer) -> dict[str, CasUser]:
    return add_users(server, "alice", "bob")


@pytest.fixture(scope="module")
def alice(users: dict[str, CasUser]) -> CasUser:
    return users["alice"]


@pytest.fixture(scope="module")
def bob(users: dict[str, CasUser]) -> CasUser:
    return users["bob"]


@pytest.fixture(scope="module")
def http(server: JobgateServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


# -- the PyPI casjobs client ----------------------------------------------------------------------------------
@pytest.fixture(params=["GET", "POST"])
def casjobs_for(request: pytest.FixtureRequest, server: JobgateServer) -> Callable[..., CasJobs]:
    """casjobs.CasJobs for a user, over HTTP GET or HTTP POST, exactly as its README shows it."""

    def make(user: CasUser, password: str | None = None) -> CasJobs:
        return CasJobs(
            userid=user.wsid, password=password or user.password, base_url=server.url + JOBS_PATH,
            request_type=request.param, context="MyDB",
        )  # fmt: skip

    return make


def wait_for_client_status(client: CasJobs, job_id: int, wanted: tuple[int, str]) -> None:
    seen: list[tuple[int, str]] = []

    def reached() -> bool:
        seen.append(client.status(job_id))
        return seen[-1] == wanted

    wait_until(reached, START_TIMEOUT_S, 0.02, lambda: f"job {job_id} to be {wanted}; last {seen[-1:]}")


class TestCasJobsClient:
    def test_an_endless_query_starts_and_cancel_ends_it_cancelled(
        self, casjobs_for: Callable[..., CasJobs], server: JobgateServer, alice: CasUser
    ) -> None:
        client = casjobs_for(alice)
        job_id = client.submit(ENDLESS_QUERY, task_name="endless")
        wait_for_client_status(client, job_id, (1, "started"))

        client.cancel(job_id)

        assert client.status(job_id)[0] in CANCELING_OR_CANCELLED  # seed 001: returns once Canceling
        assert client.monitor(job_id, timeout=0.1) == (3, "cancelled")
        shown = show(server, job_id)
        assert shown["state"] == "Cancelled"
        assert [(e["actor"], e["protocol"]) for e in cancel_events(shown)] == [("alice", "casjobs")]

    def test_quick_returns_the_csv_and_count_counts_the_rows(
        self, casjobs_for: Callable[..., CasJobs], alice: CasUser
    ) -> None:
        client = casjobs_for(alice)

        assert client.quick(QUICK_QUERY) == QUICK_CSV
        assert client.count("FROM (SELECT 1 UNION ALL SELECT 2)") == 2

    def test_job_info_returns_the_job_with_the_documented_fields(
        self, casjobs_for: Callable[..., CasJobs], alice: CasUser
    ) -> None:
        client = casjobs_for(alice)
        job_id = client.submit("SELECT 1 AS a", task_name="info")
        wait_for_client_status(client, job_id, (5, "finished"))

        # the client reads firstChild.data of every child element: an empty element would raise here
        [info] = client.job_info(jobid=job_id)

        assert [f for f in CJJOB_FIELDS if f in info] == list(info), "fields out of CJJob's order or unknown"
        assert set(VALUE_FIELDS) <= set(info)
        expected = {"JobID": str(job_id), "WebServicesID": str(alice.wsid), "Status": "5", "TaskName": "info",
                    "Query": "SELECT 1 AS a", "Context": "MyDB", "Type": "QUERY"}  # fmt: skip
        assert {k: info[k] for k in expected} == expected
        assert "Error" not in info

    def test_cancel_of_another_users_job_raises_and_changes_nothing(
        self,
        casjobs_for: Callable[..., CasJobs],
        server: JobgateServer,
        http: httpx.Client,
        alice: CasUser,
        bob: CasUser,
    ) -> None:
        with endless_job(http, alice) as job_id:
            with pytest.raises(Exception, match=NOT_OWNER):
                casjobs_for(bob).cancel(job_id)

            shown = show(server, job_id)
            assert shown["state"] == "Executing"
            assert cancel_events(shown) == []

    def test_a_bad_password_raises_and_submits_nothing(
        self, casjobs_for: Callable[..., CasJobs], server: JobgateServer, alice: CasUser
    ) -> None:
        client = casjobs_for(alice, password="not-" + alice.password)

        with pytest.raises(Exception, match=BAD_LOGIN):
            client.submit("SELECT 1")
        with pytest.raises(Exception, match=BAD_LOGIN):
            client.status(1)

    def test_cancel_of_a_finished_job_raises_and_changes_nothing(
        self, casjobs_for: Callable[..., CasJobs], server: JobgateServer, alice: CasUser
    ) -> None:
        client = casjobs_for(alice)
        job_id = client.submit("SELECT 1 AS a", task_name="done")
        wait_for_client_status(client, job_id, (5, "finished"))
        before = show(server, job_id)

        with pytest.raises(Exception, match=f"Job {job_id} cannot be cancelled: status is finished."):
            client.cancel(job_id)

        assert show(server, job_id) == before


# -- SOAP clients built from the served WSDL ------------------------------------------------------------------
@dataclass
class SoapClient:
    """One SOAP client library bound to one port, with its answers and faults read the same way."""

    name: str
    jobs: Any
    users: Any
    version: str  # "1.1" or "1.2"
    set_headers: Callable[[dict[str, str]], Any]

    def call(self, op: str, **params: Any) -> Any:
        return getattr(self.jobs, op)(**params)

    def left_out(self, name: str) -> dict[str, Any]:
        """The keyword that makes the library leave element `name` out of the request."""
        return {name: zeep.xsd.SkipValue} if self.name.startswith("zeep") else {}

    def fault_of(self, call: Callable[[], Any]) -> tuple[str, str]:
        """(fault code without its prefix, fault text) of a call that must fault."""
        try:
            call()
        except zeep.exceptions.Fault as fault:
            return str(fault.code).rpartition(":")[2], str(fault.message)
        except suds.WebFault as fault:
            return str(fault.fault.faultcode).rpartition(":")[2], str(fault.fault.faultstring)
        raise AssertionError(f"{self.name}: the call did not fault")


def items(result: Any, item: str) -> list[Any]:
    """Array answers: zeep unwraps ArrayOfX into a list (None when empty), suds keeps an object with X[]."""
    if result is None or isinstance(result, list):
        return result or []
    return list(getattr(result, item, []))


@pytest.fixture(scope="module")
def zeep_clients(server: JobgateServer) -> tuple[zeep.Client, zeep.Client]:
    jobs = zeep.Client(f"{server.url}{JOBS_PATH}?WSDL")
    users = zeep.Client(f"{server.url}{USERS_PATH}?WSDL")
    return jobs, users


@pytest.fixture(params=["zeep-soap11", "zeep-soap12", "suds-soap11"])
def soap(request: pytest.FixtureRequest, server: JobgateServer, zeep_clients: Any) -> SoapClient:
    if request.param.startswith("zeep"):
        jobs, users = zeep_clients
        port = "Soap12" if request.param.endswith("12") else "Soap"
        return SoapClient(
            request.param, jobs.bind("Jobs", f"Jobs{port}"), users.bind("CasUsers", f"CasUsers{port}"),
            "1.2" if port == "Soap12" else "1.1", lambda extra: jobs.settings(extra_http_headers=extra),
        )  # fmt: skip
    jobs_suds = suds.client.Client(f"{server.url}{JOBS_PATH}?WSDL")  # one per test: set_options sticks
    users_suds = suds.client.Client(f"{server.url}{USERS_PATH}?WSDL")

    def set_suds_headers(extra: dict[str, str]) -> Any:
        jobs_suds.set_options(headers=extra)
        return contextlib.nullcontext()

    return SoapClient(
        request.param, jobs_suds.service["JobsSoap"], users_suds.service["CasUsersSoap"], "1.1", set_suds_headers
    )


class TestSoapClients:
    def test_submit_status_and_cancel_of_an_endless_query(
        self, soap: SoapClient, server: JobgateServer, alice: CasUser
    ) -> None:
        login = {"wsid": alice.wsid, "pw": alice.password}
        job_id = int(soap.call("SubmitJob", **login, qry=ENDLESS_QUERY, context="MyDB", taskname=soap.name, estimate=1))
        wait_until(
            lambda: soap.call("GetJobStatus", wsId=alice.wsid, pw=alice.password, jobId=job_id) == STARTED,
            START_TIMEOUT_S, 0.02, f"job {job_id} to start",
        )  # fmt: skip

        assert soap.call("CancelJob", wsId=alice.wsid, pw=alice.password, jobId=job_id) is None

        assert soap.call("GetJobStatus", wsId=alice.wsid, pw=alice.password, jobId=job_id) in CANCELING_OR_CANCELLED
        shown = show(server, job_id)
        assert shown["state"] in ("Canceling", "Cancelled")
        assert [(e["actor"], e["protocol"]) for e in cancel_events(shown)] == [("alice", "casjobs")]

    def test_get_jobs_finds_a_job_by_its_id(self, soap: SoapClient, http: httpx.Client, alice: CasUser) -> None:
        job_id = submit(http, alice, "SELECT 1 AS a", taskname=soap.name)

        found = items(
            soap.call("GetJobs", owner_wsid=alice.wsid, owner_pw=alice.password, conditions=f"JobID : {job_id}",
                      includeSystem=False),
            "CJJob",
        )  # fmt: skip

        assert [(j.JobID, j.WebServicesID, j.TaskName, j.Query, j.Context, j.Type) for j in found] == [
            (job_id, alice.wsid, soap.name, "SELECT 1 AS a", "MyDB", "QUERY")
        ]

    def test_queues_and_job_types_are_listed(self, soap: SoapClient, alice: CasUser) -> None:
        queues = items(soap.call("GetQueues", wsid=alice.wsid, pw=alice.password), "CJQueue")
        types = items(soap.call("GetJobTypes", wsid=alice.wsid, pw=alice.password), "CJType")

        assert [(q.Context, q.Timeout) for q in queues] == [("MyDB", 60), ("MyDB", 500)]
        assert [t.Type for t in types] == ["QUERY", "QUICK", "EXTRACT", "UPLOAD"]

    def test_execute_quick_job_returns_the_csv(self, soap: SoapClient, alice: CasUser) -> None:
        answer = soap.call("ExecuteQuickJob", wsid=alice.wsid, pw=alice.password, qry=QUICK_QUERY, context="MyDB",
                           taskname="quick", isSystem=False)  # fmt: skip

        assert str(answer) == QUICK_CSV

    def test_web_service_id_of_a_user_name_and_password_and_minus_one_for_a_bad_one(
        self, soap: SoapClient, alice: CasUser
    ) -> None:
        assert soap.users.GetWebServiceId(userid="alice", password=alice.password) == alice.wsid
        assert soap.users.GetWebServiceId(userid="alice", password="wrong") == -1

    def test_cancel_of_another_users_job_is_a_server_fault_and_changes_nothing(
        self, soap: SoapClient, http: httpx.Client, alice: CasUser, bob: CasUser
    ) -> None:
        with endless_job(http, alice) as job_id:
            code, text = soap.fault_of(lambda: soap.call("CancelJob", wsId=bob.wsid, pw=bob.password, jobId=job_id))

            assert (code, text) == ("Receiver" if soap.version == "1.2" else "Server", SERVER_PREFIX + NOT_OWNER)
            assert status(http, alice, job_id) == STARTED

    def test_a_bad_password_is_a_server_fault(self, soap: SoapClient, alice: CasUser) -> None:
        code, text = soap.fault_of(lambda: soap.call("GetJobStatus", wsId=alice.wsid, pw="wrong", jobId=1))

        assert (code, text) == ("Receiver" if soap.version == "1.2" else "Server", SERVER_PREFIX + BAD_LOGIN)

    @pytest.mark.parametrize("op", ["GetJobStatus", "CancelJob"])
    def test_a_call_without_its_job_id_is_a_client_fault_naming_it(
        self, soap: SoapClient, alice: CasUser, op: str
    ) -> None:
        code, text = soap.fault_of(lambda: soap.call(op, wsId=alice.wsid, pw=alice.password, **soap.left_out("jobId")))

        # reading the request failed, so the caller is at fault: Client (Sender), with ASMX's read prefix
        assert code == ("Sender" if soap.version == "1.2" else "Client")
        assert text == READ_PREFIX + MISSING_JOB_ID

    def test_a_soap_action_naming_another_operation_is_a_client_fault(self, soap: SoapClient, alice: CasUser) -> None:
        action = f"{TNS}/CancelJob"
        header = (
            {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'}
            if soap.version == "1.2"
            else {"SOAPAction": f'"{action}"'}
        )

        with soap.set_headers(header):
            code, text = soap.fault_of(lambda: soap.call("GetJobStatus", wsId=alice.wsid, pw=alice.password, jobId=1))

        assert (code, text) == (
            "Sender" if soap.version == "1.2" else "Client",
            f"Server did not recognize the value of HTTP Header SOAPAction: {action}.",
        )
