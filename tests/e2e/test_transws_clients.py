"""Real Trans-WS clients, unmodified, against a real `jobgate serve`: zeep over SOAP 1.1 and SOAP 1.2 and
suds-community, each built from the served `?wsdl`, authenticated by a WS-Security UsernameToken (their
own plug-ins) or by HTTP Basic (suds answers the server's 401 challenge). Every operation, every binding.

suds-community has no SOAP 1.2 binding: on the WSDL's SOAP 1.2 port it still sends a SOAP 1.1 envelope as
text/xml, so suds runs over SOAP 1.1 only.
"""

import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import suds
import suds.client
import suds.wsse
import zeep
import zeep.exceptions
import zeep.transports
import zeep.wsse.username

from support.server import JobgateServer
from support.transws import PATH, SEED_PROJECT, Ticket, User, add_users, show, submit, wait_for_state

# urllib's Basic auth handler (under suds) retries a 401 challenge without closing the challenge's response;
# the socket is freed by the garbage collector later. The fixture collects it before each test ends.
pytestmark = pytest.mark.filterwarnings("ignore:unclosed <socket:ResourceWarning")

CLIENTS = ["zeep-soap11-token", "zeep-soap12-basic", "zeep-soap12-token", "suds-soap11-basic", "suds-soap11-token"]


@dataclass
class Refused(Exception):
    code: str  # the fault code's local name, with a dotted subcode for SOAP 1.1 (Client.Authentication)
    text: str


class TransWsClient:
    """One client library on one port, with one way of proving who it is; calls by operation name."""

    def __init__(self, kind: str, server: JobgateServer, user: User) -> None:
        self.kind, self.user = kind, user
        library, version, auth = kind.split("-")
        self.soap12 = version == "soap12"
        wsdl = f"{server.url}{PATH}?wsdl"
        self.session = requests.Session()  # closed by the fixture that made the client
        if library == "zeep":
            session = self.session
            if auth == "basic":
                session.auth = (user.name, user.password)
            wsse = zeep.wsse.username.UsernameToken(user.name, user.password) if auth == "token" else None
            client = zeep.Client(wsdl, wsse=wsse, transport=zeep.transports.Transport(session=session))
            self.service = client.bind("TransWS", "TransWSSoap12" if self.soap12 else "TransWSSoap")
            self.zeep = True
        else:
            if auth == "basic":
                client = suds.client.Client(wsdl, username=user.name, password=user.password)
            else:
                client = suds.client.Client(wsdl)
                security = suds.wsse.Security()
                security.tokens.append(suds.wsse.UsernameToken(user.name, user.password))
                client.set_options(wsse=security)
            self.factory, self.service, self.zeep = client.factory, client.service["TransWSSoap"], False

    def ticket(self, ticket: Ticket) -> Any:
        if self.zeep:
            return ticket.attributes()
        made = self.factory.create("ticket")
        made._jobId, made._projectId, made._userId = ticket.jobId, ticket.projectId, ticket.userId
        return made

    def read_ticket(self, found: Any) -> Ticket:
        if self.zeep:
            return Ticket(found.jobId, found.projectId, found.userId)
        return Ticket(found._jobId, found._projectId, found._userId)

    def call(self, op: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.service, op)(**kwargs)
        except zeep.exceptions.Fault as fault:
            code = str(fault.code).rpartition(":")[2] + "".join(f".{s.localname}" for s in fault.subcodes or [])
            raise Refused(code, fault.message) from None
        except suds.WebFault as fault:
            _close_error_responses(fault)
            raise Refused(str(fault.fault.faultcode).rpartition(":")[2], str(fault.fault.faultstring)) from None

    def control(self, op: str, ticket: Ticket) -> tuple[bool, str]:
        answer = self.call(op, ticket=self.ticket(ticket))
        assert self.read_ticket(answer.ticket) == ticket  # the ticket comes back as it was sent
        return bool(answer.succeeded), str(answer.info)

    def history(self, ticket: Ticket) -> list[tuple[str, str]]:
        answer = self.call("retrieveJobInformation", ticket=self.ticket(ticket))
        events = answer.history.event or []
        if self.zeep:
            return [(e.stage, e.status) for e in events]
        return [(e._stage, e._status) for e in events]

    def keys(self, op: str) -> list[str]:
        answer = self.call(op)
        if self.zeep:
            return [t.jobId for t in (answer or [])]
        return [t._jobId for t in (answer if isinstance(answer, list) else getattr(answer, "ticket", []))]

    def client_code(self) -> str:
        return "Sender" if self.soap12 else "Client"


Make = Callable[[JobgateServer, User], TransWsClient]


def _close_error_responses(error: BaseException | None) -> None:
    """suds keeps the HTTP error response (its socket) in the TransportError behind a WebFault: close it."""
    while error is not None:
        response = getattr(error, "fp", None)
        if response is not None:
            response.close()
        error = error.__context__


# -- servers: one without runners (jobs stay Submitted), one whose runners start them ---------------------
@pytest.fixture(scope="module")
def idle(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=0)


@pytest.fixture(scope="module")
def busy(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=2)


@pytest.fixture(scope="module")
def idle_users(idle: JobgateServer) -> dict[str, User]:
    return add_users(idle, "alice", "bob", "root", "carol", admin=("root",))


@pytest.fixture(scope="module")
def busy_users(busy: JobgateServer) -> dict[str, User]:
    return add_users(busy, "alice")


@pytest.fixture(params=CLIENTS)
def client_for(request: pytest.FixtureRequest) -> Iterator[Make]:
    """Makes clients of this kind; their HTTP sessions are closed after the test."""
    made: list[TransWsClient] = []

    def make(server: JobgateServer, user: User) -> TransWsClient:
        made.append(TransWsClient(request.param, server, user))
        return made[-1]

    yield make
    for client in made:
        client.session.close()
    gc.collect()  # the 401 challenges' responses (see pytestmark), while this module's warning filter holds


class TestLifeCycle:
    def test_submit_hold_release_cancel_and_read_back_every_step(
        self, client_for: Make, idle: JobgateServer, idle_users: dict[str, User]
    ) -> None:
        alice = client_for(idle, idle_users["alice"])

        made = alice.call("submitJob", ticket=alice.ticket(Ticket("", "books", "alice")), service="sleep",
                          info="seconds=600", domain="legal")  # fmt: skip
        ticket = alice.read_ticket(made.ticket)
        assert (ticket.projectId, ticket.userId, len(ticket.jobId)) == ("books", "alice", 32)
        assert str(made.acknowledgement) == "Job submitted"
        assert ticket.jobId in alice.keys("retrieveActiveJobsList")

        assert alice.control("suspendJob", ticket) == (True, "Suspension succeeded")
        assert alice.control("resumeJob", ticket) == (True, "Resumption succeeded")
        assert alice.control("resumeJob", ticket) == (False, "Job is not suspended")
        assert alice.control("cancelJob", ticket) == (True, "Cancellation succeeded")
        assert alice.control("cancelJob", ticket) == (False, "Job is complete")

        assert alice.history(ticket) == [("job", "start"), ("job", "suspended"), ("job", "resumed"),
                                         ("job", "cancelled")]  # fmt: skip
        assert ticket.jobId not in alice.keys("retrieveActiveJobsList")
        assert ticket.jobId in alice.keys("retrieveFullJobsList")
        with pytest.raises(Refused) as not_done:
            alice.call("retrieveJob", ticket=alice.ticket(ticket))
        assert (not_done.value.code, not_done.value.text) == (alice.client_code(), "Job is not complete")
        job = show(idle, ticket)
        assert job["state"] == "Cancelled"
        assert {(e["actor"], e["protocol"]) for e in job["history"]} == {("alice", "transws")}

    def test_a_finished_job_is_retrieved_then_rejected_with_a_reason(
        self, client_for: Make, busy: JobgateServer, busy_users: dict[str, User]
    ) -> None:
        alice = client_for(busy, busy_users["alice"])
        made = alice.call("submitJob", ticket=alice.ticket(Ticket("", SEED_PROJECT, "alice")), service="sleep",
                          info="seconds=0")  # fmt: skip
        ticket = alice.read_ticket(made.ticket)
        wait_for_state(busy, ticket, "Finished")

        alice.call("retrieveJob", ticket=alice.ticket(ticket))
        rejected = alice.call("rejectJob", ticket=alice.ticket(ticket), reason="wrong glossary")

        assert str(rejected.acknowledgement) == "Job rejected with reason: wrong glossary"
        assert alice.history(ticket) == [("job", "start"), ("translation", "start"), ("translation", "complete"),
                                         ("job", "complete"), ("job", "rejected")]  # fmt: skip
        assert alice.control("cancelJob", ticket) == (False, "Job is complete")

    def test_cancel_of_an_executing_job_is_accepted_and_the_runner_stops_it(
        self, client_for: Make, busy: JobgateServer, busy_users: dict[str, User]
    ) -> None:
        alice = client_for(busy, busy_users["alice"])
        ticket = submit(busy, "alice")
        wait_for_state(busy, ticket, "Executing")

        assert alice.control("cancelJob", ticket) == (True, "Cancellation succeeded")
        again = alice.control("cancelJob", ticket)  # still Canceling, or Cancelled once the runner stopped it
        assert again in ((True, "Cancellation already requested"), (False, "Job is complete"))
        assert alice.control("suspendJob", ticket)[0] is False

        wait_for_state(busy, ticket, "Cancelled")
        assert alice.history(ticket).count(("job", "cancelled")) == 1


class TestRefusals:
    def test_another_users_job_is_not_found_and_left_alone(
        self, client_for: Make, idle: JobgateServer, idle_users: dict[str, User]
    ) -> None:
        ticket = submit(idle, "bob")
        before = show(idle, ticket)
        alice = client_for(idle, idle_users["alice"])

        for op in ("cancelJob", "suspendJob", "resumeJob"):
            assert alice.control(op, ticket) == (False, "Job not found")
            assert alice.control(op, Ticket(ticket.jobId, ticket.projectId, "alice")) == (False, "Job not found")
        with pytest.raises(Refused) as missing:
            alice.call("retrieveJobInformation", ticket=alice.ticket(ticket))
        assert (missing.value.code, missing.value.text) == (alice.client_code(), "Job not found")
        assert show(idle, ticket) == before

    def test_an_administrator_acts_on_any_job_under_its_owners_ticket(
        self, client_for: Make, idle: JobgateServer, idle_users: dict[str, User]
    ) -> None:
        ticket = submit(idle, "bob")
        root = client_for(idle, idle_users["root"])

        assert root.control("cancelJob", Ticket(ticket.jobId, "another project", "bob")) == (False, "Job not found")
        assert root.control("cancelJob", ticket) == (True, "Cancellation succeeded")
        assert [(e["actor"], e["stage"]) for e in show(idle, ticket)["history"]][-1] == ("root", "cancel")

    def test_a_wrong_password_is_an_authentication_fault(
        self, client_for: Make, idle: JobgateServer, idle_users: dict[str, User]
    ) -> None:
        wrong = client_for(idle, User("carol", "not-her-password"))  # an account no other test logs in with

        with pytest.raises(Refused) as refused:
            wrong.call("retrieveActiveJobsList")

        assert refused.value.code == f"{wrong.client_code()}.Authentication"
        assert refused.value.text == "Invalid user name or password."

    def test_an_unknown_service_is_a_client_fault_and_submits_nothing(
        self, client_for: Make, idle: JobgateServer, idle_users: dict[str, User]
    ) -> None:
        alice = client_for(idle, idle_users["alice"])
        before = alice.keys("retrieveFullJobsList")

        with pytest.raises(Refused) as refused:
            alice.call("submitJob", ticket=alice.ticket(Ticket("", "p", "alice")), service="sql", info="query=x")

        assert refused.value.code.startswith(alice.client_code()), refused.value
        assert refused.value.text == "Unknown service 'sql'; this server runs: sleep."
        assert alice.keys("retrieveFullJobsList") == before


def test_no_password_reaches_the_server_log(client_for: Make, idle: JobgateServer, idle_users: dict[str, User]) -> None:
    """After every call above (UsernameTokens and Basic, good and bad passwords): none is in the log."""
    with pytest.raises(Refused):
        client_for(idle, User("carol", "not-her-password-either")).call("retrieveActiveJobsList")

    log = idle.log_text()
    assert "transws" in log
    secrets = [user.password for user in idle_users.values()] + ["not-her-password"]
    assert [secret for secret in secrets if secret in log] == []
    assert "not-her-password-either" not in log
