"""What the server log holds after requests that carry a password: never the password, never a piece of a
request body, and for every request exactly one access-log line with its request id.

The server logs at debug level, so anything any logger would write at all is written.
"""

import re
import urllib.parse
from collections.abc import Callable, Iterator

import httpx
import pytest

from support.kits.casjobs_wire import (
    JOBS,
    SOAP_BINDINGS,
    Binding,
    User,
    World,
    call,
    envelope,
    open_world,
    post_soap,
    seed_cancel,
    submit_job,
)
from support.wait import wait_until

pytestmark = pytest.mark.e2e

PASSWORD = "pw-Zq7!secret"
WRONG = "pw-Wr0ng!Kx2"
ALICE = User("alice", PASSWORD, 6001)
BOB = User("bob", "bob-Lg-3", 6002)
FRAGMENTS = ("frag-N7q", "frag-T7q", "frag_Q7q", "frag-D7q", "frag-M7q", "frag-E7q")
SECRETS = (PASSWORD, WRONG, *FRAGMENTS)


@pytest.fixture(scope="module")
def world(module_jobgate_server) -> World:
    return open_world(module_jobgate_server, [ALICE, BOB], JOBGATE_LOG_LEVEL="debug")


@pytest.fixture(scope="module")
def http(world: World) -> Iterator[httpx.Client]:
    with world.server.client() as client:
        yield client


@pytest.fixture(scope="module")
def job(http: httpx.Client) -> int:
    return submit_job(http, ALICE, "mine")


def spellings(secret: str) -> set[str]:
    """The ways a secret could be written into a log line: as is, URL-encoded, escaped for XML or repr."""
    return {
        secret,
        urllib.parse.quote(secret),
        urllib.parse.quote_plus(secret),
        secret.replace("!", "&#33;"),
        repr(secret)[1:-1],
    }


def soap_requests(binding: Binding, job: int) -> dict[str, Callable[[httpx.Client], httpx.Response]]:
    valid = seed_cancel(binding, ALICE.wsid, PASSWORD, job).replace("</jobId>", "</jobId><note>frag-N7q</note>")
    truncated = seed_cancel(binding, ALICE.wsid, PASSWORD, "frag-M7q")[:-40]
    declaration, rest = seed_cancel(binding, ALICE.wsid, PASSWORD, "&d;").split("?>", 1)
    doctype = f'{declaration}?><!DOCTYPE e [<!ENTITY d "frag-D7q">]>{rest}'
    return {
        "valid CancelJob": lambda http: post_soap(http, binding, valid),
        "valid SubmitJob": lambda http: call(
            http,
            binding,
            "SubmitJob",
            {
                "wsid": ALICE.wsid,
                "pw": PASSWORD,
                "qry": "SELECT 'frag-T7q' AS a",
                "context": "MyDB",
                "taskname": "frag-T7q",
                "estimate": 1,
            },
        ),
        "failing quick job": lambda http: call(
            http,
            binding,
            "ExecuteQuickJob",
            {
                "wsid": ALICE.wsid,
                "pw": PASSWORD,
                "qry": "SELECT frag_Q7q FROM nowhere",
                "context": "MyDB",
                "taskname": "frag-E7q",
                "isSystem": "false",
            },
        ),
        "malformed": lambda http: post_soap(http, binding, truncated),
        "DOCTYPE": lambda http: post_soap(http, binding, doctype),
        "wrong password": lambda http: post_soap(http, binding, seed_cancel(binding, ALICE.wsid, WRONG, job)),
        "someone else's password": lambda http: post_soap(http, binding, seed_cancel(binding, BOB.wsid, PASSWORD, job)),
        "internal error": lambda http: post_soap(http, binding, seed_cancel(binding, ALICE.wsid, PASSWORD, 10**30)),
        "version mismatch": lambda http: post_soap(
            http,
            binding,
            envelope(
                Binding.SOAP12 if binding is Binding.SOAP11 else Binding.SOAP11,
                "CancelJob",
                {"wsId": ALICE.wsid, "pw": PASSWORD, "jobId": "frag-M7q"},
            ),
        ),
    }


def http_requests(binding: Binding, job: int) -> dict[str, Callable[[httpx.Client], httpx.Response]]:
    return {
        "valid CancelJob": lambda http: call(
            http, binding, "CancelJob", {"wsId": ALICE.wsid, "pw": PASSWORD, "jobId": job}
        ),
        "wrong password": lambda http: call(
            http, binding, "CancelJob", {"wsId": ALICE.wsid, "pw": WRONG, "jobId": job}
        ),
        "bad value": lambda http: call(
            http, binding, "CancelJob", {"wsId": ALICE.wsid, "pw": PASSWORD, "jobId": "frag-M7q"}
        ),
        "failing quick job": lambda http: call(
            http,
            binding,
            "ExecuteQuickJob",
            {
                "wsid": ALICE.wsid,
                "pw": PASSWORD,
                "qry": "SELECT frag_Q7q FROM nowhere",
                "context": "MyDB",
                "taskname": "frag-E7q",
                "isSystem": "false",
            },
        ),
        "unknown operation": lambda http: (
            http.get(f"{JOBS}/Nope", params={"pw": PASSWORD, "x": "frag-N7q"})
            if binding is Binding.GET
            else http.post(f"{JOBS}/Nope", data={"pw": PASSWORD, "x": "frag-N7q"})
        ),
    }


def extra_requests() -> dict[str, Callable[[httpx.Client], httpx.Response]]:
    return {
        "GetWebServiceId": lambda http: http.post(
            "/CasJobs/services/casusers.asmx/GetWebServiceId", data={"userid": "alice", "password": PASSWORD}
        ),
        "GetWebServiceId, wrong": lambda http: http.post(
            "/CasJobs/services/casusers.asmx/GetWebServiceId", data={"userid": "alice", "password": WRONG}
        ),
        "form with a JSON body": lambda http: http.post(
            f"{JOBS}/CancelJob",
            content=f'{{"pw": "{PASSWORD}", "x": "frag-N7q"}}',
            headers={"content-type": "application/json"},
        ),
        "body over the cap": lambda http: http.post(
            JOBS, content=(PASSWORD + "frag-N7q").encode() * 200_000, headers={"content-type": "text/xml"}
        ),
    }


def access_lines(log: str, request_id: str) -> list[str]:
    return [
        line for line in log.splitlines() if "logger='jobgate.access'" in line and f"request_id='{request_id}'" in line
    ]


def test_the_log_holds_no_password_and_no_body_but_every_request_id(world: World, http: httpx.Client, job: int) -> None:
    sent: dict[str, httpx.Response] = {}
    for binding in SOAP_BINDINGS:
        for name, send in soap_requests(binding, job).items():
            sent[f"{binding} {name}"] = send(http)
    for binding in (Binding.GET, Binding.POST):
        for name, send in http_requests(binding, job).items():
            sent[f"{binding} {name}"] = send(http)
    for name, send in extra_requests().items():
        sent[name] = send(http)

    ids = {name: response.headers.get("x-request-id", "") for name, response in sent.items()}
    assert all(ids.values()), f"responses without x-request-id: {[n for n, i in ids.items() if not i]}"
    assert len(set(ids.values())) == len(ids), "request ids repeat"
    wait_until(
        lambda: all(access_lines(world.server.log_text(), i) for i in ids.values()),
        10.0,
        message=lambda: (
            f"access-log lines for {[n for n, i in ids.items() if not access_lines(world.server.log_text(), i)]}"
        ),
    )
    log = world.server.log_text()
    statuses = {name: response.status_code for name, response in sent.items()}
    print(f"{len(sent)} requests, statuses {statuses}; log {len(log)} characters")
    for name, request_id in ids.items():
        lines = access_lines(log, request_id)
        assert len(lines) == 1, f"{name}: {len(lines)} access-log lines for request id {request_id}"
        assert f"status={statuses[name]}" in lines[0], lines[0]
    for secret in SECRETS:
        for spelling in spellings(secret):
            where = [line[:300] for line in log.splitlines() if spelling in line]
            assert not where, f"the server log holds {spelling!r}:\n" + "\n".join(where)
    assert not re.search(r"<\w*:?Envelope", log), "the server log holds an envelope"
