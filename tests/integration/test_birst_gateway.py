"""CommandWebService.asmx in this process: the fast lane answers cancelJob and getJobStatus exactly as Spyne
does; faults per SOAP version; what the gateway refuses (a wrong Content-Type, a SOAPAction naming another
operation, the Invoke form's POST from a remote caller); and every denied call (a bad, expired or logged-out
token, another user's job, the wrong space) leaves the job and its history unchanged."""

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import httpx
import pytest
from lxml import etree
from starlette.applications import Starlette

from jobgate.app import create_app
from jobgate.dialects.soap import spyne_apps
from jobgate.domain.model import Actor, Channel, JobSpec, TaskResult
from support.factories import expired_token, settings_for
from support.xmlcompare import assert_same_structure

TNS: Final = "http://www.birst.com/"
PATH: Final = "/CommandWebService.asmx"
ENVELOPES: Final = {
    "soap11": "http://schemas.xmlsoap.org/soap/envelope/",
    "soap12": "http://www.w3.org/2003/05/soap-envelope",
}
BINDINGS: Final = ["soap11", "soap12"]
LOOPBACK: Final = ("127.0.0.1", 40000)
REMOTE: Final = ("203.0.113.9", 5555)


@dataclass
class World:
    fast: Starlette
    spyne: Starlette
    space: str
    tokens: dict[str, str]  # alice, bob, admin, expired, logged-out
    running: list[str]  # alice's Executing jobs, by key
    finished: str

    def state_of(self, key: str) -> tuple[Any, ...]:
        jobs = self.fast.state.components.jobs
        job, events = jobs.history(Actor("admin", Channel.CLI, frozenset({"admin"})), key)
        return job.state, job.version, [(e.seq, e.to_state) for e in events]


def send(
    app: Starlette, binding: str, op: str, *, client: tuple[str, int] = LOOPBACK, headers: dict[str, str] | None = None,
    **params: str,
) -> httpx.Response:  # fmt: skip
    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://jobgate") as http:
            return await http.post(PATH, content=envelope(binding, op, params), headers=headers or soap(binding, op))

    return asyncio.run(post())


def get(app: Starlette, url: str, client: tuple[str, int] = LOOPBACK, **kw: Any) -> httpx.Response:
    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://jobgate") as http:
            return await http.request(kw.pop("method", "GET"), url, **kw)

    return asyncio.run(fetch())


def envelope(binding: str, op: str, params: dict[str, str]) -> bytes:
    ns = ENVELOPES[binding]
    root = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap": ns})
    call = etree.SubElement(etree.SubElement(root, f"{{{ns}}}Body"), f"{{{TNS}}}{op}", nsmap={None: TNS})
    for name, value in params.items():
        etree.SubElement(call, f"{{{TNS}}}{name}").text = value
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def soap(binding: str, op: str) -> dict[str, str]:
    if binding == "soap12":
        return {"content-type": "application/soap+xml; charset=utf-8"}
    return {"content-type": "text/xml; charset=utf-8", "soapaction": f'"{TNS}{op}"'}


def fault(answer: httpx.Response) -> tuple[int, str, str]:
    root = etree.fromstring(answer.content)
    s12 = ENVELOPES["soap12"]
    code = root.findtext(".//faultcode") or root.findtext(f".//{{{s12}}}Code/{{{s12}}}Value") or ""
    text = root.findtext(".//faultstring") or root.findtext(f".//{{{s12}}}Reason/{{{s12}}}Text") or ""
    return answer.status_code, code.rpartition(":")[2], text


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    where = tmp_path_factory.mktemp("birst")
    url = f"sqlite:///{where / 'jobgate.db'}"
    fast = create_app(settings_for(url, where / "data", inline_hot_path="on", fast_lane=True))
    spyne = create_app(settings_for(url, where / "data", inline_hot_path="on", fast_lane=False))
    parts, space = fast.state.components, str(uuid.uuid4())
    jobs, identity, runners = parts.jobs, parts.identity, parts.runners
    users = {name: identity.add_user(name, f"{name}-Pa55", ["admin"] if name == "admin" else [])
             for name in ("alice", "bobby", "admin")}  # fmt: skip
    tokens = {name: identity.issue_token(user, "birst").token for name, user in users.items()}
    tokens["expired"] = expired_token(parts.engine, "alice", "birst")
    tokens["logged-out"] = identity.issue_token(users["alice"], "birst").token
    identity.revoke_token(tokens["logged-out"])
    alice = Actor.of(users["alice"], Channel.CLI)
    keys = [jobs.submit(alice, JobSpec("sleep", {"seconds": 60}, project=space)).key for _ in range(12)]
    while runners.claim_next("runner", ["sleep"]) is not None:
        pass
    finished = jobs.get(alice, keys.pop())
    runners.finish(finished, TaskResult(rows=0))
    yield World(fast, spyne, space, tokens, keys, finished.key)
    for app in (fast, spyne):
        app.state.components.engine.dispose()


class TestFastLane:
    @pytest.mark.parametrize("binding", BINDINGS)
    @pytest.mark.parametrize("who", ["alice", "bobby", "admin", "expired", "logged-out", "short"])
    def test_get_job_status_answers_as_spyne_does(self, world: World, binding: str, who: str) -> None:
        token = world.tokens.get(who, "short")
        for key in (world.running[0], world.finished, "f" * 32):
            lane, slow = (
                send(app, binding, "getJobStatus", token=token, jobToken=key) for app in (world.fast, world.spyne)
            )
            assert (lane.status_code, lane.headers["content-type"]) == (slow.status_code, slow.headers["content-type"])
            assert_same_structure(lane.content, slow.content)

    @pytest.mark.parametrize("binding", BINDINGS)
    def test_an_answer_that_cannot_be_written_is_the_internal_fault_on_both_paths(
        self, world: World, binding: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A status whose message lxml refuses (xml_text, which replaces such characters, is taken away here):
        a Server (Receiver) fault quoting the request id, never a half-written envelope or a bare 500."""
        parts = world.fast.state.components
        job = parts.jobs.submit(Actor("alice", Channel.CLI), JobSpec("sleep", {"seconds": 60}, project=world.space))
        claimed = parts.runners.claim_next("runner", ["sleep"])
        while claimed is not None and claimed.id != job.id:
            claimed = parts.runners.claim_next("runner", ["sleep"])
        assert claimed is not None
        parts.runners.finish(claimed, TaskResult(rows=0, summary="done \x01"))
        monkeypatch.setattr(spyne_apps, "xml_text", lambda text: text)
        for app in (world.fast, world.spyne):
            answer = send(app, binding, "getJobStatus", token=world.tokens["alice"], jobToken=job.key)
            status, code, text = fault(answer)
            assert (status, code) == (500, "Server" if binding == "soap11" else "Receiver")
            assert f"quote request id {answer.headers['x-request-id']}" in text

    @pytest.mark.parametrize("binding", BINDINGS)
    def test_cancel_job_answers_as_spyne_does_and_changes_the_store_alike(self, world: World, binding: str) -> None:
        token = world.tokens["alice"]
        first, second = world.running.pop(), world.running.pop()
        answers = []
        for app, key in ((world.fast, first), (world.spyne, second)):
            answers.append(send(app, binding, "cancelJob", token=token, spaceID=world.space, jobToken=key))
        assert [a.status_code for a in answers] == [200, 200]
        assert_same_structure(answers[0].content, answers[1].content)
        assert world.state_of(first)[0] == world.state_of(second)[0]
        for app in (world.fast, world.spyne):  # again: already Canceling, still accepted, no new event
            before = world.state_of(first)
            again = send(app, binding, "cancelJob", token=token, spaceID=world.space, jobToken=first)
            assert_same_structure(again.content, answers[0].content)
            assert world.state_of(first) == before


class TestDeniedCallsChangeNothing:
    @pytest.mark.parametrize("binding", BINDINGS)
    @pytest.mark.parametrize("fast", [True, False], ids=["fast-lane", "spyne"])
    @pytest.mark.parametrize(
        ("who", "space", "answer"),
        [("bobby", "own", "false"), ("alice", "other", "false"), ("alice", "none", "false"),
         ("expired", "own", "Invalid token"), ("logged-out", "own", "Invalid token"), ("short", "own", "Invalid token"),
         ("alice", "bad", "Space ID must be 36 characters")],
    )  # fmt: skip
    def test_cancel_job(self, world: World, binding: str, fast: bool, who: str, space: str, answer: str) -> None:
        key = world.running[0]
        spaces = {"own": world.space, "other": str(uuid.uuid4()), "none": "", "bad": "space"}
        before = world.state_of(key)

        reply = send(world.fast if fast else world.spyne, binding, "cancelJob", token=world.tokens.get(who, "short"),
                     spaceID=spaces[space], jobToken=key)  # fmt: skip

        if answer == "false":
            assert reply.status_code == 200
            assert etree.fromstring(reply.content).findtext(f".//{{{TNS}}}cancelJobResult") == "false"
        else:
            assert fault(reply) == (500, "Sender" if binding == "soap12" else "Client", answer)
        assert world.state_of(key) == before


class TestRefusals:
    @pytest.mark.parametrize("binding", BINDINGS)
    def test_faults_are_http_500_in_the_versions_words(self, world: World, binding: str) -> None:
        reply = send(world.spyne, binding, "isJobComplete", token="0" * 32, jobToken="0" * 32)
        assert fault(reply) == (500, "Sender" if binding == "soap12" else "Client", "Invalid token")
        assert reply.headers["content-type"] == soap(binding, "x")["content-type"]

    @pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/x-www-form-urlencoded"])
    def test_a_wrong_content_type_is_a_client_fault_never_a_200(self, world: World, content_type: str) -> None:
        reply = send(world.fast, "soap11", "getJobStatus", headers={"content-type": content_type},
                     token=world.tokens["alice"], jobToken=world.running[0])  # fmt: skip
        assert reply.status_code != 200
        assert fault(reply)[1] == "Client"

    @pytest.mark.parametrize(
        "action", ['"http://www.birst.com/cancelJob"', '""', '"http://www.birst.com//getJobStatus"']
    )
    def test_a_soap_action_naming_another_operation_is_a_client_fault(self, world: World, action: str) -> None:
        key = world.running[0]
        before = world.state_of(key)
        headers = {"content-type": "text/xml; charset=utf-8", "soapaction": action}
        reply = send(world.fast, "soap11", "getJobStatus", headers=headers, token=world.tokens["alice"], jobToken=key)
        assert fault(reply) == (500, "Client", f"Server did not recognize the value of HTTP Header SOAPAction: "
                                               f"{action.strip(chr(34))}.")  # fmt: skip
        assert world.state_of(key) == before

    def test_the_soap12_action_parameter_is_checked_too(self, world: World) -> None:
        headers = {"content-type": f'application/soap+xml; charset=utf-8; action="{TNS}cancelJob"'}
        reply = send(world.fast, "soap12", "getJobStatus", headers=headers, token=world.tokens["alice"],
                     jobToken=world.running[0])  # fmt: skip
        assert fault(reply)[:2] == (500, "Sender")


class TestPages:
    def test_the_operation_list_links_every_operation_and_the_wsdl(self, world: World) -> None:
        page = get(world.fast, PATH).text
        for op in ("Login", "Logout", "cancelJob", "getJobStatus", "getDetailedJobStatus", "publishData"):
            assert f'href="{PATH}?op={op}"' in page
        assert f'href="{PATH}?WSDL"' in page

    def test_a_remote_caller_gets_the_local_only_notice_and_no_http_samples(self, world: World) -> None:
        page = get(world.fast, f"{PATH}?op=cancelJob", client=REMOTE).text
        assert "The test form is only available for requests from the local machine." in page
        assert "<form" not in page
        assert "HTTP POST" not in page
        assert "HTTP GET" not in page

    def test_the_invoke_post_works_locally_and_is_unrecognized_for_a_remote_caller(self, world: World) -> None:
        form = {"token": world.tokens["alice"], "jobToken": world.finished}
        local = get(world.fast, f"{PATH}/isJobComplete", method="POST", data=form)
        remote = get(world.fast, f"{PATH}/isJobComplete", client=REMOTE, method="POST", data=form)
        by_get = get(world.fast, f"{PATH}/isJobComplete", params=form)

        assert (local.status_code, etree.fromstring(local.content).text) == (200, "true")
        for refused in (remote, by_get):
            assert refused.status_code == 500
            assert "Request format is unrecognized for URL unexpectedly ending in '/isJobComplete'." in refused.text
