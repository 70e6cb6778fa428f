"""Birst's kit: ASMX SOAP 1.1/1.2 at /CommandWebService.asmx; Login gives a token that every other operation
carries; a job is named by its jobToken (the key) within a space (the project). A bad, expired, logged-out or
missing token is the Client fault "Invalid token"; another user's job reads as "Invalid job token" or `false`."""

import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import httpx
from lxml import etree

from support.birst import PATH, TNS, envelope
from support.factories import expired_token
from support.kits import soap
from support.kits.base import (
    ADMIN,
    ANONYMOUS,
    BAD_PASSWORD,
    GUESSER,
    OTHER,
    OWNER,
    Cast,
    Person,
    Refusal,
    Sent,
    Store,
    Target,
    World,
    assert_store_unchanged,
)

SEED: Final = (Path(__file__).parents[2] / "contract" / "birst" / "cancelJob" / "soap11.request.xml").read_text()
SPACE: Final = "5b9c1f0e-8d7a-4c39-9e51-2f6a3b7c8d90"  # the owner's jobs
ELSEWHERE: Final = "0e3d5c7a-1b2f-4a68-8c9d-7e6f5a4b3c21"  # where the matrix's publishData calls put theirs
INVALID_TOKEN: Final = "Invalid token"
UNKNOWN_JOB: Final = "Invalid job token"
BAD_LOGIN: Final = "Unable to log in: invalid username or password"
NOT_SUPPORTED: Final = "This operation is not supported by this server"
LOGGED_OUT, EXPIRED, UNKNOWN = "logged-out token", "expired token", "unknown token"

Request = Callable[[str, str], dict[str, Any]]  # (token, job token) → the call's parameters
OPERATIONS: Final[Mapping[str, Request]] = {
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
WRITES: Final = frozenset({"cancelJob", "clearJobStatus"})  # what an allowed caller changes on the target
READS_JOB: Final = frozenset({"isJobComplete", "getJobStatus", "getDetailedJobStatus", "isPublishingComplete",
                              "getPublishingStatus"})  # fmt: skip
OWN_ANSWERS: Final = {
    "cancelJob": "true",
    "clearJobStatus": "true",
    "isJobComplete": "false",
    "isPublishingComplete": "false",
    "getLoadStatus": "Processing",
    "clearCacheInSpace": "true",
}
OTHERS_ANSWERS: Final = {"cancelJob": "false", "clearJobStatus": "false", "getLoadStatus": "Available"}


def send(world: World, op: str, variant: str, client: tuple[str, int] | None = None, **values: Any) -> httpx.Response:
    """One SOAP call; SOAP 1.1 sends `SOAPAction: "http://www.birst.com/<op>"`."""
    headers = {"Content-Type": soap.CONTENT_TYPES[variant]}
    if variant == "soap11":
        headers["SOAPAction"] = f'"{TNS}{op}"'
    sent = Sent("POST", PATH, headers, envelope(op, values, variant))
    return world.send(sent, client) if client else world.send(sent)


def result_text(answer: httpx.Response, op: str) -> str:
    assert answer.status_code == 200, answer.text
    found = etree.fromstring(answer.content).find(f".//{{{TNS}}}{op}Result")
    assert found is not None, answer.text
    return found.text or ""


def login(world: World, person: Person) -> str:
    return result_text(send(world, "Login", "soap11", username=person.name, password=person.password), "Login")


class BirstKit:
    name = "birst"
    variants: tuple[str, ...] = ("soap11", "soap12")
    xml_variants: tuple[str, ...] = variants
    operations: tuple[str, ...] = tuple(OPERATIONS)
    callers: tuple[str, ...] = (OWNER, OTHER, ADMIN, LOGGED_OUT, EXPIRED, UNKNOWN, ANONYMOUS, BAD_PASSWORD)
    secrets_note = "passwords (Login) and login tokens"
    seed_caller = OWNER
    project = SPACE

    def cast(self) -> Cast:
        return Cast(
            Person("alice", "alice-Bs-8!"),
            Person("brian", "brian-Bs-8!"),
            Person("admin", "admin-Bs-8!", ("admin",)),
            Person("vera", "vera-Bs-8!"),
        )

    def prepare(self, world: World) -> None:
        """A live token per user; one logged out (Login, then Logout), one issued already dead, one unknown."""
        cast = world.cast
        tokens = {caller: login(world, cast.by_caller(caller)) for caller in (OWNER, OTHER, ADMIN)}
        tokens[LOGGED_OUT] = login(world, cast.owner)
        assert send(world, "Logout", "soap11", token=tokens[LOGGED_OUT]).status_code == 200
        tokens[EXPIRED] = expired_token(world.app.state.components.engine, cast.owner.name, "birst")
        tokens[UNKNOWN] = uuid.uuid4().hex
        world.state["tokens"] = tokens

    def target(self, world: World, op: str) -> Target:
        """A publishData job of the owner's in SPACE (no runners: it stays Submitted)."""
        answer = send(world, "publishData", "soap11", token=world.state["tokens"][OWNER], spaceID=SPACE,
                      subgroups=["Sales"], date="2024-04-18T12:34:56")  # fmt: skip
        key = result_text(answer, "publishData")
        [job] = [j for j in world.store().jobs.values() if j.key == key]
        return Target(int(job.id), key, SPACE, world.cast.owner.name)

    def acts(self, op: str, caller: str) -> bool:
        if op == "deleteSpace":
            return False
        return caller in (OWNER, ADMIN) or (caller == OTHER and op in ("publishData", "Logout"))

    def call(self, world: World, variant: str, op: str, caller: str, target: Target) -> httpx.Response:
        tokens = world.state["tokens"]
        if caller == BAD_PASSWORD:  # no token to call with: the Login is the call
            return send(world, "Login", variant, GUESSER, username=world.cast.victim.name, password="wrong-password")
        if op == "Logout" and caller in (OWNER, OTHER, ADMIN):
            token = login(world, world.cast.by_caller(caller))  # keep the live one for the other calls
        else:
            token = tokens.get(caller, "")
        params = OPERATIONS[op](token, target.key)
        if caller == ANONYMOUS:
            params.pop("token")
        return send(world, op, variant, **params)

    def assert_allowed(
        self, world: World, variant: str, op: str, caller: str, target: Target, answer: httpx.Response, before: Store
    ) -> None:
        assert answer.status_code == 200, answer.text
        if op in OWN_ANSWERS:
            assert result_text(answer, op) == OWN_ANSWERS[op], answer.text
        after = world.store(target.id)
        if op == "publishData":  # the caller's own new job is all that appears
            [new] = set(after.jobs) - set(before.jobs)
            assert (after.jobs[new].owner, after.jobs[new].project) == (world.cast.by_caller(caller).name, ELSEWHERE)
            after = Store({i: j for i, j in after.jobs.items() if i != new}, after.histories)
        if op in WRITES:
            assert world.job(target.id)[1][-1].protocol == "birst"
        else:
            assert_store_unchanged(before, after, f"{op} by {caller}")

    def assert_refused(self, variant: str, op: str, caller: str, answer: httpx.Response) -> None:
        if caller == BAD_PASSWORD:
            soap.assert_fault(answer, variant, "Client", BAD_LOGIN)
        elif caller not in (OWNER, OTHER, ADMIN):
            soap.assert_fault(answer, variant, "Client", INVALID_TOKEN)
        elif op == "deleteSpace":
            soap.assert_fault(answer, variant, "Client", NOT_SUPPORTED)
        elif op in READS_JOB:
            soap.assert_fault(answer, variant, "Client", UNKNOWN_JOB)
        else:  # an answer that shows and changes nothing of the owner's
            assert answer.status_code == 200, answer.text
            if op in OTHERS_ANSWERS:
                assert result_text(answer, op) == OTHERS_ANSWERS[op], answer.text

    def refusal(self, answer: httpx.Response) -> Refusal:
        return soap.refusal(answer)

    def client_code(self, variant: str) -> str:
        return soap.client_code(variant)

    def server_code(self, variant: str) -> str:
        return soap.server_code(variant)

    def untouchable(self, world: World) -> Target:
        return world.submit(world.cast.other.name, self.project)

    def gate_text(self, reason: str) -> str:
        return f"Server was unable to read request. ---> {reason}"  # ASMX's wording

    def seed(self, world: World, variant: str, target: Target) -> Sent:
        """Seed 002's cancelJob envelope, placeholders filled in (in document order), by the owner."""
        body = SEED.replace("<token>string</token>", f"<token>{world.state['tokens'][OWNER]}</token>", 1)
        body = body.replace("<spaceID>string</spaceID>", f"<spaceID>{target.project}</spaceID>", 1)
        body = body.replace("<jobToken>string</jobToken>", f"<jobToken>{target.key}</jobToken>", 1)
        if variant == "soap12":
            body = body.replace(soap.SOAP11, soap.SOAP12)
        sent = self.garbage(world, variant, body.encode())
        return Sent(sent.method, sent.path, sent.headers, sent.body, target.key)

    def garbage(self, world: World, variant: str, body: bytes) -> Sent:
        headers = {"Content-Type": soap.CONTENT_TYPES[variant]}
        if variant == "soap11":
            headers["SOAPAction"] = f'"{TNS}cancelJob"'
        return Sent("POST", PATH, headers, body)

    def content_types(self, variant: str) -> tuple[str, ...]:
        return ("application/json", "text/plain", "application/soap+xml", "text/xml; charset=latin-1", "",
                soap.CONTENT_TYPES[variant])  # fmt: skip

    def judge_fuzzed(self, answer: httpx.Response) -> None:
        """Still a sound cancelJob of another user's job (false), another read, or a refusal."""
        if answer.status_code == 200:
            root = etree.fromstring(answer.content)
            assert root.findtext(f".//{{{TNS}}}cancelJobResult") in (None, "false"), answer.text[:800]
        elif answer.status_code not in (400, 413):
            soap.fault(answer)

    def secrets(self, world: World) -> tuple[str, ...]:
        return (*(p.password for p in world.cast), "wrong-password", *world.state["tokens"].values())
