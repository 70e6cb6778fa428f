"""node's `soap` package (npm), unmodified, against a real `jobgate serve`: a Birst client built from the served
WSDL runs the whole cycle over SOAP 1.1 (port CommandWebServiceSoap) and SOAP 1.2 (CommandWebServiceSoap12),
and reads the faults in the right version's words. The client is tests/e2e/node/birst.js; `.ci/run` installs
its one dependency (`npm ci --prefix tests/e2e/node`)."""

import json
import uuid
from collections.abc import Callable

import pytest

from support.birst import PATH, BirstUser, add_birst_users
from support.casjobs import cancel_events, jobgate_json, show
from support.server import JobgateServer
from support.toolkits import NODE_DIR, checked, node


@pytest.fixture(scope="module")
def server(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=2)


@pytest.fixture(scope="module")
def alice(server: JobgateServer) -> BirstUser:
    return add_birst_users(server, "alice")["alice"]


@pytest.mark.parametrize(("port", "client_code"), [("CommandWebServiceSoap", "Client"),
                                                   ("CommandWebServiceSoap12", "Sender")])  # fmt: skip
def test_the_node_soap_client_runs_the_whole_cycle(
    server: JobgateServer, alice: BirstUser, port: str, client_code: str
) -> None:
    space = str(uuid.uuid4())
    done = checked(node(), "birst.js", f"{server.url}{PATH}?WSDL", port, alice.name, alice.password, space,
                   cwd=NODE_DIR, timeout=120)  # fmt: skip

    out = json.loads(done)

    job = out.pop("jobToken")
    assert out == {
        "tokenLength": 32, "loadBefore": "Available", "started": True, "completeWhileRunning": False,
        "detailed": {"processingGroup": "Sales", "type": 0, "statusCode": "Running"},
        "loadWhileRunning": "Processing", "cancel": True, "ended": True, "detailedAfter": "Cancelled",
        "statusAfter": "Failed", "publishingComplete": True, "publishingStatus": ["Failed"], "cancelAgain": False,
        "clear": False, "clearCache": True,
        "notSupported": {"status": 500, "code": client_code, "text": "This operation is not supported by this server"},
        "badLogin": {"status": 500, "code": client_code, "text": "Unable to log in: invalid username or password"},
        "afterLogout": {"status": 500, "code": client_code, "text": "Invalid token"},
    }  # fmt: skip
    [found] = [j for j in jobgate_json(server, "job", "list") if j["key"] == job]
    assert [(e["actor"], e["protocol"]) for e in cancel_events(show(server, found["id"]))] == [("alice", "birst")]
