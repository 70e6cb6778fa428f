"""CasJobs through the toolkits ASMX services are consumed with in the wild, against a real `jobgate serve`, each fed
the WSDL jobs.asmx serves (issue 17, Real clients: the same .NET and node checks as Birst's and Trans-WS's):

- Mono: `wsdl` generates the Jobs proxy (`-protocol:SOAP12` for 1.2), `mcs` compiles it with
  tests/e2e/dotnet/CasJobsClient.cs, `mono` runs a job's whole cycle; faults arrive as SoapException with the
  version's code (Server / Receiver for an operation's error);
- node's `soap` package (tests/e2e/node/casjobs.js), over ports JobsSoap and JobsSoap12.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import pytest

from support.casjobs import ENDLESS_QUERY, JOBS_PATH, QUICK_CSV, CasUser, add_users, cancel_events, show
from support.server import JobgateServer
from support.toolkits import NODE_DIR, checked, dotnet_client, mono, node

BAD_LOGIN: Final = "Server was unable to process request. ---> Invalid WebServicesID or password."


@pytest.fixture(scope="module")
def server(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=2)


@pytest.fixture(scope="module")
def alice(server: JobgateServer) -> CasUser:
    return add_users(server, "alice", "bob")["alice"]


def assert_cancelled_over_casjobs(server: JobgateServer, job: int) -> None:
    assert show(server, job)["state"] == "Cancelled"
    assert [(e["actor"], e["protocol"]) for e in cancel_events(show(server, job))] == [("alice", "casjobs")]


@pytest.mark.parametrize(("protocol", "server_code"), [("SOAP", "Server"), ("SOAP12", "Receiver")])
def test_a_generated_dotnet_proxy_runs_a_jobs_whole_cycle(
    server: JobgateServer, alice: CasUser, tmp_path: Path, protocol: str, server_code: str
) -> None:
    url = f"{server.url}{JOBS_PATH}"
    program = dotnet_client(f"{url}?WSDL", protocol, "CasJobsClient.cs", tmp_path)

    lines = mono(program, url, str(alice.wsid), alice.password, ENDLESS_QUERY, cwd=tmp_path)

    seen = dict(line.split("=", 1) for line in lines.splitlines() if "=" in line)
    job = int(seen.pop("job"))
    cancel_again = seen.pop("cancelAgain")
    assert seen == {
        "queues": "True", "started": "True", "listed": "1/True/dotnet", "ended": "True",
        "quick": QUICK_CSV.replace("\n", "\\n"),
        "badLogin": f"{server_code}|{BAD_LOGIN}", "unknownWsid": f"{server_code}|{BAD_LOGIN}",
    }  # fmt: skip
    assert cancel_again.startswith(f"{server_code}|"), cancel_again
    assert "cannot be cancelled" in cancel_again, cancel_again
    assert_cancelled_over_casjobs(server, job)


@pytest.mark.parametrize(("port", "server_code"), [("JobsSoap", "Server"), ("JobsSoap12", "Receiver")])
def test_the_node_soap_client_runs_a_jobs_whole_cycle(
    server: JobgateServer, alice: CasUser, port: str, server_code: str
) -> None:
    done = checked(node(), NODE_DIR / "casjobs.js", f"{server.url}{JOBS_PATH}?WSDL", port, str(alice.wsid),
                   alice.password, ENDLESS_QUERY, cwd=NODE_DIR, timeout=120)  # fmt: skip

    out: dict[str, Any] = json.loads(done)

    job = int(out.pop("job"))
    cancel_again = out.pop("cancelAgain")
    assert out == {
        "queues": True, "started": True, "listed": [[True, "node"]], "ended": True,
        "quick": QUICK_CSV.rstrip("\n"),  # node's soap package trims a text value (.NET shows the final newline)
        "badLogin": {"status": 500, "code": server_code, "text": BAD_LOGIN},
    }  # fmt: skip
    assert (cancel_again["status"], cancel_again["code"]) == (500, server_code), cancel_again
    assert "cannot be cancelled" in cancel_again["text"], cancel_again
    assert_cancelled_over_casjobs(server, job)
