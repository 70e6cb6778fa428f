"""The security tier against CommandWebService.asmx on a real server (no runners: jobs stay where requests put
them): the ownership matrix (every operation × owner, other user, admin, anonymous, a bad login, an expired,
logged-out or unknown token), hostile XML and body limits on the Birst URL, a fuzzer on seed 002's cancelJob
envelope, and log hygiene (no password or token in the server log). Every denied call leaves the store as it was.
"""

import uuid
from collections.abc import Callable, Iterator
from typing import Any, Final

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from soapkit import User, World, assert_no_leak, assert_unchanged, open_world

from support.birst import CONTENT_TYPES, PATH, TNS, call, fault, text
from support.factories import components, expired_token, settings_for

pytestmark = pytest.mark.e2e

ALICE: Final = User("alice", "alice-Bs-8!", 7001)
BRIAN: Final = User("brian", "brian-Bs-8!", 7002)
ADMIN: Final = User("admin", "admin-Bs-8!", 7003, ("admin",))
SPACE: Final = str(uuid.uuid4())  # alice's jobs
ELSEWHERE: Final = str(uuid.uuid4())  # where the matrix's publishData calls put theirs
INVALID_TOKEN: Final = "Invalid token"
UNKNOWN_JOB: Final = "Invalid job token"
CAP: Final = 2 * 1024 * 1024
SEED_SOAP11: Final = """<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <cancelJob xmlns="http://www.birst.com/">
      <token>string</token>
      <spaceID>string</spaceID>
      <jobToken>string</jobToken>
    </cancelJob>
  </soap:Body>
</soap:Envelope>"""  # seed 002, verbatim


@pytest.fixture(scope="module")
def world(module_jobgate_server: Any) -> World:
    return open_world(module_jobgate_server, [ALICE, BRIAN, ADMIN], JOBGATE_LOG_LEVEL="debug")


@pytest.fixture(scope="module")
def http(world: World) -> Iterator[httpx.Client]:
    with world.server.client() as client:
        yield client


def login(http: httpx.Client, user: User) -> str:
    return text(call(http, "Login", username=user.name, password=user.password), "Login")


@pytest.fixture(scope="module")
def tokens(world: World, http: httpx.Client) -> dict[str, str]:
    """A live token per user; `logged-out` (Login, then Logout), `expired` (issued already dead) and `unknown`."""
    found = {user.name: login(http, user) for user in (ALICE, BRIAN, ADMIN)}
    found["logged-out"] = login(http, ALICE)
    assert call(http, "Logout", token=found["logged-out"]).status_code == 200
    url = world.server.env["JOBGATE_DATABASE_URL"]
    with components(settings_for(url, world.server.cli.cwd or world.server.log_path.parent)) as parts:
        found["expired"] = expired_token(parts.engine, ALICE.name, "birst")
    found["unknown"] = uuid.uuid4().hex
    return found


def publish(http: httpx.Client, token: str) -> str:
    answer = call(http, "publishData", token=token, spaceID=SPACE, subgroups=["Sales"], date="2024-04-18T12:34:56")
    return text(answer, "publishData")


def id_of(world: World, key: str) -> int:
    [found] = [job["id"] for job in world.view.jobs() if job["key"] == key]
    return int(found)


# -- the ownership matrix ----------------------------------------------------------------------------------------
Request = Callable[[str, str], dict[str, Any]]  # (token, job token) → the call's parameters
OPERATIONS: Final[dict[str, Request]] = {
    "cancelJob": lambda t, j: {"token": t, "spaceID": SPACE, "jobToken": j},
    "clearJobStatus": lambda t, j: {"token": t, "spaceID": SPACE, "jobToken": j},
    "isJobComplete": lambda t, j: {"token": t, "jobToken": j},
    "getJobStatus": lambda t, j: {"token": t, "jobToken": j},
    "getDetailedJobStatus": lambda t, j: {"token": t, "jobToken": j},
    "isPublishingComplete": lambda t, j: {"token": t, "publishingToken": j},
    "getPublishingStatus": lambda t, j: {"token": t, "publishingToken": j},
    "getLoadStatus": lambda t, j: {"token": t, "spaceID": SPACE},
    "clearCacheInSpace": lambda t, j: {"token": t, "spaceID": SPACE},
    "publishData": lambda t, j: {
        "token": t,
        "spaceID": ELSEWHERE,
        "subgroups": ["Sales"],
        "date": "2024-04-18T12:34:56",
    },
    "deleteSpace": lambda t, j: {"token": t, "spaceId": SPACE},
    "Logout": lambda t, j: {"token": t},
}
WRITES: Final = {"cancelJob", "clearJobStatus", "publishData"}  # what an allowed caller may change
READS_JOB: Final = {"isJobComplete", "getJobStatus", "getDetailedJobStatus", "isPublishingComplete",
                    "getPublishingStatus"}  # fmt: skip
ANONYMOUS: Final = ("logged-out", "expired", "unknown", "none")


def expected(op: str, who: str) -> tuple[str, str]:
    """("ok", result text or "") or ("fault", text) for `who` calling `op` on alice's Submitted job."""
    if who in ANONYMOUS:
        return "fault", INVALID_TOKEN
    if op == "deleteSpace":
        return "fault", "This operation is not supported by this server"
    if who == "brian":
        answers = {"cancelJob": "false", "clearJobStatus": "false", "getLoadStatus": "Available"}
        if op in READS_JOB:
            return "fault", UNKNOWN_JOB
        return "ok", answers.get(op, "")
    answers = {"cancelJob": "true", "clearJobStatus": "true", "isJobComplete": "false", "isPublishingComplete": "false",
               "getLoadStatus": "Processing", "clearCacheInSpace": "true"}  # fmt: skip
    return "ok", answers.get(op, "")


class TestOwnershipMatrix:
    @pytest.mark.parametrize("op", OPERATIONS)
    @pytest.mark.parametrize("who", ["alice", "brian", "admin", *ANONYMOUS])
    @pytest.mark.parametrize("binding", ["soap11", "soap12"])
    def test_every_operation_for_every_caller(
        self, world: World, http: httpx.Client, tokens: dict[str, str], op: str, who: str, binding: str
    ) -> None:
        job = publish(http, tokens["alice"])
        named = {"alice": ALICE, "brian": BRIAN, "admin": ADMIN}
        token = login(http, named[who]) if op == "Logout" and who in named else tokens.get(who, "")  # keep theirs
        before = world.view.around(id_of(world, job))
        params = OPERATIONS[op](token, job)
        if who == "none":
            params.pop("token")

        answer = call(http, op, binding, **params)

        kind, wanted = expected(op, who)
        if kind == "fault":
            assert fault(answer) == ("Sender" if binding == "soap12" else "Client", wanted)
        else:
            assert answer.status_code == 200, answer.text
            if wanted:
                assert text(answer, op) == wanted
        assert_no_leak(answer)
        if kind == "fault" or op not in WRITES or who == "brian":
            after = world.view.around(id_of(world, job))
            if op == "publishData" and kind == "ok":  # brian's own new job is all that may appear
                before, after = ({i: j for i, j in v.items() if j["owner"] != "brian"} for v in (before, after))
            assert_unchanged(before, after, f"{op} by {who}")

    def test_a_bad_password_gets_no_token_and_changes_nothing(self, world: World, http: httpx.Client) -> None:
        before = world.view.around()
        answer = call(http, "Login", username=ALICE.name, password="wrong-password")
        assert fault(answer) == ("Client", "Unable to log in: invalid username or password")
        assert_unchanged(before, world.view.around(), "a bad login")


# -- hostile XML and body limits ------------------------------------------------------------------------------------
def seed(token: str, job: str) -> str:
    filled = SEED_SOAP11.replace("<token>string</token>", f"<token>{token}</token>", 1)
    filled = filled.replace("<spaceID>string</spaceID>", f"<spaceID>{SPACE}</spaceID>", 1)
    return filled.replace("<jobToken>string</jobToken>", f"<jobToken>{job}</jobToken>", 1)


def post(http: httpx.Client, body: str | bytes, **headers: str) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    sent = {"Content-Type": CONTENT_TYPES["soap11"], "SOAPAction": f'"{TNS}cancelJob"', **headers}
    return http.post(PATH, content=content, headers=sent)


@pytest.fixture(scope="module")
def target(http: httpx.Client, tokens: dict[str, str]) -> str:
    return publish(http, tokens["alice"])


def hostile(tokens: dict[str, str], target: str) -> dict[str, str]:
    declaration, rest = seed(tokens["alice"], target).split("?>", 1)
    laughs = "".join(f'<!ENTITY l{n} "{"&l" + str(n - 1) + ";" * 1 if n else "lol"}{f"&l{n - 1};" * 9 if n else ""}">'
                     for n in range(10))  # fmt: skip
    deep = "<a>" * 5000 + "</a>" * 5000
    return {
        "xxe": f'{declaration}?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>{rest}'.replace(
            "<spaceID>", "<spaceID>&x;"
        ),
        "laughs": f"{declaration}?><!DOCTYPE e [{laughs}]>{rest}".replace("<spaceID>", "<spaceID>&l9;"),
        "pi": f"{declaration}?><?evil x?>{rest}",
        "deep": f"{declaration}?>{rest}".replace("<jobToken>", f"<x>{deep}</x><jobToken>"),
    }


class TestHostileXml:
    @pytest.mark.parametrize("kind", ["xxe", "laughs", "pi", "deep"])
    def test_is_refused_with_a_client_fault_and_changes_nothing(
        self, world: World, http: httpx.Client, tokens: dict[str, str], target: str, kind: str
    ) -> None:
        before = world.view.around(id_of(world, target))
        answer = post(http, hostile(tokens, target)[kind])
        assert answer.status_code == 500
        assert fault(answer)[0] == "Client"
        assert "root:" not in answer.text
        assert_no_leak(answer)
        assert_unchanged(before, world.view.around(id_of(world, target)), kind)

    def test_xml_that_is_not_well_formed_gets_400_and_an_empty_body(
        self, http: httpx.Client, tokens: dict[str, str], target: str
    ) -> None:
        answer = post(http, seed(tokens["alice"], target)[:-30])
        assert (answer.status_code, answer.content) == (400, b"")

    def test_a_body_over_the_cap_gets_413(self, world: World, http: httpx.Client, tokens: dict[str, str]) -> None:
        body = seed(tokens["alice"], "0" * 32).replace("</jobToken>", "</jobToken><pad>" + "x" * CAP + "</pad>")
        assert post(http, body).status_code == 413
        assert http.get("/healthz").status_code == 200


# -- the fuzzer ---------------------------------------------------------------------------------------------------
mutations = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(0, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10_000), st.just(0)),
    st.tuples(st.just("rename"), st.sampled_from(["cancelJob", "token", "spaceID", "jobToken", "Body"]),
              st.sampled_from(["CancelJob", "TOKEN", "x", "getJobStatus", "Logout", "spaceId"])),
    st.tuples(st.just("value"), st.sampled_from(["token", "spaceID", "jobToken"]),
              st.one_of(st.sampled_from(["", " ", "0" * 32, "f" * 36, "1 OR 1=1", "&amp;", "<![CDATA[x]]>"]),
                        st.text(max_size=40).map(lambda t: t.replace("&", "&amp;").replace("<", "&lt;")))),
    st.tuples(st.just("action"), st.sampled_from(['""', '"x"', f'"{TNS}getJobStatus"', f'"{TNS}cancelJob"',
                                                  f'"{TNS}/cancelJob"']), st.just(0)),
    st.tuples(st.just("type"), st.sampled_from(["application/json", "text/plain", "application/soap+xml",
                                                "text/xml; charset=latin-1", ""]), st.just(0)),
)  # fmt: skip


@pytest.fixture(scope="module")
def final_job(http: httpx.Client, tokens: dict[str, str]) -> str:
    """Alice's cancelled job: cancelJob answers false for it and changes nothing, whatever survives a mutation."""
    job = publish(http, tokens["alice"])
    assert text(call(http, "cancelJob", token=tokens["alice"], spaceID=SPACE, jobToken=job), "cancelJob") == "true"
    return job


class TestFuzz:
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(mutation=mutations)
    def test_mutations_of_the_seed_never_change_the_store_nor_leak(
        self, world: World, http: httpx.Client, tokens: dict[str, str], final_job: str, mutation: tuple[Any, ...]
    ) -> None:
        before = world.view.around(id_of(world, final_job))
        body, headers = mutate(seed(tokens["alice"], final_job), mutation)

        answer = post(http, body, **headers)

        assert_no_leak(answer, body)
        if answer.status_code == 200:  # still a sound cancelJob of a cancelled job, or another read
            root = etree.fromstring(answer.content)
            assert root.findtext(f".//{{{TNS}}}cancelJobResult") in (None, "false")
        assert_unchanged(before, world.view.around(id_of(world, final_job)), f"mutation {mutation}")


def mutate(body: str, mutation: tuple[Any, ...]) -> tuple[bytes, dict[str, str]]:
    kind, a, b = mutation
    data = body.encode()
    if kind == "flip":
        at = a % len(data)
        return data[:at] + bytes([b]) + data[at + 1 :], {}
    if kind == "cut":
        return data[: a % len(data)], {}
    if kind == "rename":
        return body.replace(f"<{a}", f"<{b}").replace(f"</{a}>", f"</{b}>").encode(), {}
    if kind == "value":
        start, end = body.index(f"<{a}>") + len(a) + 2, body.index(f"</{a}>")
        return (body[:start] + b + body[end:]).encode(), {}
    if kind == "action":
        return data, {"SOAPAction": a}
    return data, {"Content-Type": a}


# -- log hygiene (last: it reads what every test above made the server log) ------------------------------------
class TestLogHygiene:
    def test_no_password_and_no_token_reaches_the_log(self, world: World, tokens: dict[str, str]) -> None:
        log = world.server.log_text()
        assert "dialect='birst'" in log or 'dialect="birst"' in log or "birst" in log
        for secret in (ALICE.password, BRIAN.password, ADMIN.password, "wrong-password", *tokens.values()):
            assert secret not in log, "a secret reached the server log"
