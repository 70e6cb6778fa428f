"""Trans-WS through other SOAP toolkits, each fed the WSDL a real `jobgate serve` publishes at `/transws?wsdl`
(all installed by .ci/run):

- node's `soap` package (npm, tests/e2e/node/), over SOAP 1.1 and 1.2, with its WSSecurity and Basic auth;
- Mono: `wsdl` generates the proxy (`-protocol:SOAP12` for 1.2), `mcs` compiles it with tests/e2e/dotnet/,
  `mono` runs it; faults arrive as SoapException with the version's code;
- gSOAP: `wsdl2h` and `soapcpp2` accept the WSDL and write a proxy with every operation.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from support.server import JobgateServer
from support.toolkits import NODE_DIR, dotnet_client, mono, run
from support.transws import PATH, Ticket, User, add_users, show

NODE_CLIENT: Final = NODE_DIR / "transws_client.js"
GSOAP_IMPORT: Final = Path("/usr/share/gsoap/import")
OPERATIONS: Final = ("submitJob", "retrieveJobInformation", "retrieveActiveJobsList", "retrieveFullJobsList",
                     "cancelJob", "suspendJob", "resumeJob", "rejectJob", "retrieveJob")  # fmt: skip


@pytest.fixture(scope="module")
def server(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=0)  # jobs stay Submitted: every answer is deterministic


@pytest.fixture(scope="module")
def users(server: JobgateServer) -> dict[str, User]:
    return add_users(server, "alice", "carol")


@pytest.fixture(scope="module")
def wsdl_url(server: JobgateServer) -> str:
    return f"{server.url}{PATH}?wsdl"


# -- node's soap package --------------------------------------------------------------------------------------
class NodeClient:
    def __init__(self, wsdl_url: str, version: str, auth: str, user: User) -> None:
        self.wsdl_url, self.version, self.auth, self.user = wsdl_url, version, auth, user

    def call(self, op: str, **params: Any) -> dict[str, Any]:
        """{"result": …} or {"fault": …}, as node's soap package hands them to its caller."""
        done = run("node", NODE_CLIENT, self.wsdl_url, self.version, self.auth, self.user.name, self.user.password,
                   op, json.dumps(params))  # fmt: skip
        assert done.returncode == 0, done.stderr
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer

    def result(self, op: str, **params: Any) -> Any:
        answer = self.call(op, **params)
        assert "result" in answer, answer
        return answer["result"]


def as_ticket(ticket: Ticket) -> dict[str, Any]:
    return {"attributes": ticket.attributes()}


def fault_code(fault: dict[str, Any]) -> str:
    """`Client.Authentication` (SOAP 1.1) or `Sender.Authentication` (SOAP 1.2) from node's fault object."""
    if "faultcode" in fault:
        return str(fault["faultcode"]).rpartition(":")[2]
    code = str(fault["Code"]["Value"]).rpartition(":")[2]
    subcode = (fault["Code"].get("Subcode") or {}).get("Value")
    return code + (f".{subcode}" if subcode else "")


@pytest.mark.parametrize("version", ["soap11", "soap12"])
@pytest.mark.parametrize("auth", ["token", "basic"])
def test_node_soap_runs_every_operation(
    server: JobgateServer, users: dict[str, User], wsdl_url: str, version: str, auth: str
) -> None:
    node = NodeClient(wsdl_url, version, auth, users["alice"])
    client_code = "Sender" if version == "soap12" else "Client"

    made = node.result("submitJob", ticket=as_ticket(Ticket("", "books", "alice")), service="sleep",
                       info="seconds=600")  # fmt: skip
    ticket = Ticket(**made["ticket"]["attributes"])
    assert made["acknowledgement"] == "Job submitted"
    listed = node.result("retrieveActiveJobsList")["ticket"]
    assert ticket.jobId in [t["attributes"]["jobId"] for t in (listed if isinstance(listed, list) else [listed])]
    for op, info in (("suspendJob", "Suspension succeeded"), ("resumeJob", "Resumption succeeded"),
                     ("cancelJob", "Cancellation succeeded")):  # fmt: skip
        answer = node.result(op, ticket=as_ticket(ticket))
        assert (answer["succeeded"], answer["info"]) == (True, info)
    assert ticket.jobId in json.dumps(node.result("retrieveFullJobsList"))
    events = node.result("retrieveJobInformation", ticket=as_ticket(ticket))["history"]["event"]
    assert [(e["attributes"]["stage"], e["attributes"]["status"]) for e in events] == [
        ("job", "start"), ("job", "suspended"), ("job", "resumed"), ("job", "cancelled")]  # fmt: skip
    for op in ("retrieveJob", "rejectJob"):
        fault = node.call(op, ticket=as_ticket(ticket))["fault"]
        assert fault_code(fault) == client_code, fault
    wrong = NodeClient(wsdl_url, version, auth, User("carol", "not-her-password")).call("retrieveActiveJobsList")
    assert fault_code(wrong["fault"]) == f"{client_code}.Authentication", wrong
    assert show(server, ticket)["state"] == "Cancelled"


# -- Mono: a proxy generated from ?wsdl ---------------------------------------------------------------------
@pytest.mark.parametrize(("protocol", "client_code"), [("SOAP", "Client"), ("SOAP12", "Sender")])
def test_a_dotnet_proxy_generated_from_the_wsdl_runs_every_operation(
    server: JobgateServer, users: dict[str, User], wsdl_url: str, tmp_path: Path, protocol: str, client_code: str
) -> None:
    program = dotnet_client(wsdl_url, protocol, "TransWsClient.cs", tmp_path)

    printed = mono(program, f"{server.url}{PATH}", "alice", users["alice"].password, client_code)

    assert "FAIL" not in printed, printed
    assert "ok bad password fault:" in printed, printed  # its last check ran


# -- gSOAP ----------------------------------------------------------------------------------------------------
def test_gsoap_accepts_the_wsdl_and_writes_a_proxy_with_every_operation(server: JobgateServer, tmp_path: Path) -> None:
    with httpx.Client(timeout=10.0) as http:
        (tmp_path / "transws.wsdl").write_bytes(http.get(f"{server.url}{PATH}?wsdl").content)

    header = run("wsdl2h", "-o", "transws.h", "transws.wsdl", cwd=tmp_path)
    assert header.returncode == 0, header.stdout + header.stderr
    stubs = run("soapcpp2", "-j", "-C", "-x", f"-I{GSOAP_IMPORT}", "transws.h", cwd=tmp_path)
    assert stubs.returncode == 0, stubs.stdout + stubs.stderr

    proxies = list(tmp_path.glob("soap*Proxy.h"))
    assert proxies, sorted(p.name for p in tmp_path.iterdir())
    text = "".join(p.read_text() for p in proxies)
    assert [op for op in OPERATIONS if f"virtual int {op}(" not in text] == []
