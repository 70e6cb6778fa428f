"""A .NET client, as ASMX services are consumed in the wild: Mono's `wsdl` tool generates the
CommandWebService proxy from the served `?wsdl` (SOAP 1.1, and SOAP 1.2 with -protocol:SOAP12), `mcs`
compiles it with tests/e2e/dotnet/BirstClient.cs, `mono` runs the whole cycle against a real server; faults
arrive as SoapException with the version's code (Client / Sender). Debian's mono-devel (.ci/run installs it)."""

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Final

import pytest

from support.birst import PATH, BirstUser, add_birst_users
from support.casjobs import cancel_events, jobgate_json, show
from support.server import JobgateServer
from support.toolkits import dotnet_client, mono

NOT_SUPPORTED: Final = "This operation is not supported by this server"


@pytest.fixture(scope="module")
def server(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=2)


@pytest.fixture(scope="module")
def alice(server: JobgateServer) -> BirstUser:
    return add_birst_users(server, "alice")["alice"]


@pytest.mark.parametrize(("protocol", "client_code"), [("SOAP", "Client"), ("SOAP12", "Sender")])
def test_a_generated_dotnet_proxy_runs_the_whole_cycle(
    server: JobgateServer, alice: BirstUser, tmp_path: Path, protocol: str, client_code: str
) -> None:
    url = f"{server.url}{PATH}"
    program = dotnet_client(f"{url}?WSDL", protocol, "BirstClient.cs", tmp_path)

    lines = mono(program, url, alice.name, alice.password, str(uuid.uuid4()), cwd=tmp_path)

    seen = dict(line.split("=", 1) for line in lines.splitlines() if "=" in line)
    job = seen.pop("job")
    assert seen == {
        "tokenLength": "32", "loadBefore": "Available", "jobTokenLength": "32", "started": "True",
        "completeWhileRunning": "False", "detailed": "Sales/0/Running", "loadWhileRunning": "Processing",
        "cancel": "True", "ended": "True", "detailedAfter": "Cancelled", "statusAfter": "Failed",
        "publishingComplete": "True", "publishingStatus": "Failed", "cancelAgain": "False", "clear": "False",
        "clearCache": "True",
        "copySpace": f"{client_code}|{NOT_SUPPORTED}", "deleteSpace": f"{client_code}|{NOT_SUPPORTED}",
        "swapSpaceContents": f"{client_code}|{NOT_SUPPORTED}",
        "badLogin": f"{client_code}|Unable to log in: invalid username or password",
        "badSpace": f"{client_code}|Space ID must be 36 characters",
        "afterLogout": f"{client_code}|Invalid token",
    }  # fmt: skip
    [found] = [j for j in jobgate_json(server, "job", "list") if j["key"] == job]
    assert [(e["actor"], e["protocol"]) for e in cancel_events(show(server, found["id"]))] == [("alice", "birst")]
