"""Trans-WS's kit: plain SOAP 1.1/1.2 at /transws, HTTP Basic or a WS-Security UsernameToken; a job is named by
a ticket (jobId = the key, projectId, userId); a control operation refused answers `succeeded` 0, the others
fault; faults come in the plain SOAP shape."""

import base64
from pathlib import Path
from typing import Final

import httpx
from lxml import etree

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
)
from support.transws import (
    PATH,
    SEED_JOB,
    SEED_PROJECT,
    SEED_USER,
    TNS,
    Ticket,
    User,
    Version,
    answer_of,
    control_answer,
    envelope,
)

SEED: Final = (Path(__file__).parents[2] / "contract" / "transws" / "cancelJob" / "soap11.request.xml").read_bytes()
BAD_LOGIN: Final = "Invalid user name or password."
NOT_FOUND: Final = "Job not found"
CONTROL: Final = ("cancelJob", "suspendJob", "resumeJob")
FAULTING: Final = ("retrieveJobInformation", "retrieveJob", "rejectJob")  # no `succeeded`: refusals are faults
NAMING_OWNER: Final = "other user naming the owner"
EMPTY: Final = "empty credentials"
DIGEST: Final = "password digest"


def _basic(name: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


class TransWsKit:
    name = "transws"
    variants: tuple[str, ...] = ("soap11", "soap12")
    xml_variants: tuple[str, ...] = variants
    operations: tuple[str, ...] = (*CONTROL, *FAULTING)
    callers: tuple[str, ...] = (OWNER, OTHER, NAMING_OWNER, ADMIN, ANONYMOUS, EMPTY, BAD_PASSWORD, DIGEST)
    secrets_note = "passwords (HTTP Basic, UsernameToken)"
    seed_caller = OWNER
    project = "books"

    def cast(self) -> Cast:
        return Cast(
            Person("alice", "alice-Tw5-pw"),
            Person("bob", "bob-Tw5-pw"),
            Person("root", "root-Tw5-pw", ("admin",)),
            Person("carol", "carol-Tw5-pw"),
        )

    def prepare(self, world: World) -> None:
        return None

    def target(self, world: World, op: str) -> Target:
        target = world.submit(world.cast.owner.name, self.project, finished=op in ("retrieveJob", "rejectJob"))
        if op == "resumeJob":
            world.suspend(target)
        return target

    def acts(self, op: str, caller: str) -> bool:
        return caller in (OWNER, ADMIN)

    def call(self, world: World, variant: str, op: str, caller: str, target: Target) -> httpx.Response:
        """`op` on the owner's job by `caller`; the ticket names the owner unless the caller puts itself in it."""
        version, cast = Version(variant), world.cast
        ticket = Ticket(target.key, target.project, cast.other.name if caller == OTHER else target.owner)
        fields = {"reason": "bad"} if op == "rejectJob" else {}
        body = envelope(version, f"{op}Request", ticket, fields)
        headers: dict[str, str] = {"Content-Type": version.content_type}
        client = None
        if caller in (OWNER, OTHER, NAMING_OWNER, ADMIN):
            person = cast.by_caller(OTHER if caller == NAMING_OWNER else caller)
            headers.update(_basic(person.name, person.password))
        elif caller == EMPTY:
            headers.update(_basic("", ""))
            client = GUESSER
        elif caller == BAD_PASSWORD:
            body = envelope(version, f"{op}Request", ticket, fields, token=User(cast.victim.name, "nope"))
            client = GUESSER
        elif caller == DIGEST:
            owner = User(cast.owner.name, cast.owner.password)
            body = envelope(version, f"{op}Request", ticket, fields, token=owner).replace(
                b"<wsse:Password>", b'<wsse:Password Type="x#PasswordDigest">'
            )
        sent = Sent("POST", PATH, headers, body)
        return world.send(sent, client) if client else world.send(sent)

    def assert_allowed(
        self, world: World, variant: str, op: str, caller: str, target: Target, answer: httpx.Response, before: Store
    ) -> None:
        found = answer_of(answer, f"{op}Response")
        if op in CONTROL:
            assert found.findtext(f"{{{TNS}}}succeeded") == "1", answer.text
            assert world.job(target.id)[1][-1].protocol == "transws"

    def assert_refused(self, variant: str, op: str, caller: str, answer: httpx.Response) -> None:
        if caller == ANONYMOUS:
            assert answer.headers["www-authenticate"] == 'Basic realm="jobgate"'
            soap.assert_fault(answer, variant, "Client", status=401)
        elif caller in (EMPTY, BAD_PASSWORD):
            soap.assert_fault(answer, variant, "Client", BAD_LOGIN)
        elif caller == DIGEST:
            soap.assert_fault(answer, variant, "Client", "Only a PasswordText UsernameToken is accepted.")
        elif op in CONTROL:
            assert control_answer(answer, f"{op}Response") == ("0", NOT_FOUND)
        else:
            soap.assert_fault(answer, variant, "Client", NOT_FOUND)

    def refusal(self, answer: httpx.Response) -> Refusal:
        return soap.refusal(answer)

    def client_code(self, variant: str) -> str:
        return soap.client_code(variant)

    def server_code(self, variant: str) -> str:
        return soap.server_code(variant)

    def untouchable(self, world: World) -> Target:
        return world.submit(world.cast.other.name, self.project)

    def gate_text(self, reason: str) -> str:
        return reason  # a plain SOAP service: no ASMX wording

    def seed(self, world: World, variant: str, target: Target) -> Sent:
        """Seed 000's cancelJob envelope, verbatim but for its ticket (and the envelope namespace for 1.2)."""
        body = SEED.replace(SEED_JOB.encode(), target.key.encode()).replace(SEED_PROJECT.encode(),
                                                                            target.project.encode())  # fmt: skip
        body = body.replace(SEED_USER.encode(), target.owner.encode())
        if variant == "soap12":
            body = body.replace(soap.SOAP11.encode(), soap.SOAP12.encode())
        sent = self.garbage(world, variant, body)
        return Sent(sent.method, sent.path, sent.headers, body, target.key)

    def garbage(self, world: World, variant: str, body: bytes) -> Sent:
        owner = world.cast.owner
        headers = {"Content-Type": soap.CONTENT_TYPES[variant], **_basic(owner.name, owner.password)}
        return Sent("POST", PATH, headers, body)

    def content_types(self, variant: str) -> tuple[str, ...]:
        return ("text/xml; charset=utf-8", "application/soap+xml; charset=utf-8", "text/xml", "application/xml",
                "text/plain", "")  # fmt: skip

    def judge_fuzzed(self, answer: httpx.Response) -> None:
        """A 200 cancelJob answer says `succeeded` 0 (the job is the other user's); anything else is a fault."""
        if answer.status_code == 200:
            succeeded = etree.fromstring(answer.content).findtext(f".//{{{TNS}}}succeeded")
            assert succeeded == "0", answer.text[:800]  # the other user's job, or none: never the sender's to change
            return
        if answer.status_code != 413:
            assert answer.status_code in (401, 415, 500), answer.status_code
            soap.fault(answer)

    def secrets(self, world: World) -> tuple[str, ...]:
        return (*(p.password for p in world.cast), "nope")
