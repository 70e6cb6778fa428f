"""Cisco PI's kit: REST under /webacs/api/v1…v3, XML or JSON, HTTP Basic; users in the NBI groups; refusals are
an errorDocument (401, 403, 404, 400) or, for an operation on a job the caller may not see, a failure verdict."""

import base64
import json
from pathlib import Path
from typing import Final

import httpx
from lxml import etree

from jobgate.domain.states import JobState
from support.cisco import verdicts
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

PREFIX: Final = "/webacs/api"
SEEDS: Final = Path(__file__).parents[2] / "contract" / "cisco" / "cancelrunning"
READER: Final = "nbi read only"
WRITES: Final = {"cancelrunning": JobState.SUBMITTED, "cancel": JobState.SUBMITTED, "suspend": JobState.SUBMITTED,
                 "resume": JobState.SUSPENDED}  # fmt: skip
AFTER: Final = {"cancelrunning": JobState.CANCELLED, "cancel": JobState.CANCELLED, "suspend": JobState.SUSPENDED,
                "resume": JobState.SUBMITTED}  # fmt: skip
READS: Final = ("runhistory", "summary", "summaries")
NBI: Final = ("nbi-write", "nbi-read")


def _basic(name: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def _split(variant: str) -> tuple[str, bool]:
    version, _, fmt = variant.partition(".")
    return version, fmt == "json"


class CiscoKit:
    name = "cisco"
    variants: tuple[str, ...] = tuple(f"{v}.{f}" for v in ("v1", "v2", "v3") for f in ("xml", "json"))
    xml_variants: tuple[str, ...] = ("v1.xml", "v2.xml", "v3.xml")
    operations: tuple[str, ...] = (*WRITES, *READS)
    callers: tuple[str, ...] = (OWNER, OTHER, ADMIN, READER, ANONYMOUS, BAD_PASSWORD)
    secrets_note = "passwords (HTTP Basic)"
    seed_caller = OWNER
    project = "p"

    def cast(self) -> Cast:
        return Cast(
            Person("owner", "owner-Ci5-pw", NBI),
            Person("other", "other-Ci5-pw", NBI),
            Person("root", "root-Ci5-pw", ("admin",)),
            Person("victim", "victim-Ci5-pw", NBI),
        )

    def prepare(self, world: World) -> None:
        reader = Person("reader", "reader-Ci5-pw", ("nbi-read",))
        world.app.state.components.identity.add_user(reader.name, reader.password, list(reader.groups))
        world.state["reader"] = reader

    def target(self, world: World, op: str) -> Target:
        target = world.submit(world.cast.owner.name, self.project)
        if WRITES.get(op) is JobState.SUSPENDED:
            world.suspend(target)
        return target

    def acts(self, op: str, caller: str) -> bool:
        return caller in (OWNER, ADMIN)

    def _headers(self, world: World, caller: str) -> tuple[dict[str, str], tuple[str, int] | None]:
        if caller == ANONYMOUS:
            return {}, None
        if caller == BAD_PASSWORD:
            return _basic(world.cast.victim.name, "not-the-password"), GUESSER
        person = world.state["reader"] if caller == READER else world.cast.by_caller(caller)
        return _basic(person.name, person.password), None

    def call(self, world: World, variant: str, op: str, caller: str, target: Target) -> httpx.Response:
        headers, client = self._headers(world, caller)
        version, as_json = _split(variant)
        suffix = ".json" if as_json else ""
        if op in READS:
            path = {"runhistory": f"/op/jobService/runhistory{suffix}?jobId={target.id}",
                    "summary": f"/data/JobSummary/{target.id}{suffix}",
                    "summaries": f"/data/JobSummary{suffix}?runId={target.id}"}[op]  # fmt: skip
            sent = Sent("GET", f"{PREFIX}/{version}{path}", headers, b"")
        else:
            body, media = _payload(op, target.id, as_json)
            sent = Sent("PUT", f"{PREFIX}/{version}/op/jobService/{op}{suffix}", {**headers, "Content-Type": media},
                        body)  # fmt: skip
        return world.send(sent, client) if client else world.send(sent)

    def assert_allowed(
        self, world: World, variant: str, op: str, caller: str, target: Target, answer: httpx.Response, before: Store
    ) -> None:
        if op in READS:
            assert answer.status_code == 200, answer.text
            assert str(target.id) in answer.text
            return
        found = verdicts(answer)
        assert (list(found.success), list(found.failure)) == ([target.id], []), answer.text
        job, events = world.job(target.id)
        assert job.state is AFTER[op], job.state
        assert len(events) == len(before.histories[target.id]) + 1, events  # exactly one event
        assert (events[-1].actor, events[-1].protocol) == (world.cast.by_caller(caller).name, "cisco")

    def assert_refused(self, variant: str, op: str, caller: str, answer: httpx.Response) -> None:
        _, as_json = _split(variant)
        if caller in (ANONYMOUS, BAD_PASSWORD):
            assert answer.status_code == 401, answer.text
            assert answer.headers["www-authenticate"] == 'Basic realm="jobgate"'
            self.refusal(answer)
        elif op in WRITES and caller == READER:
            assert self.refusal(answer).status == 403, answer.text
        elif op in WRITES:  # another user: their job is not found
            found = verdicts(answer)
            assert (found.success, list(found.failure.values())) == (
                {}, ["Run not found" if op == "cancelrunning" else "Job not found"]
            ), answer.text  # fmt: skip
        elif op == "summaries":  # not among the jobs they may see
            assert answer.status_code == 200, answer.text
            count = answer.json()["queryResponse"]["@count"] if as_json else etree.fromstring(answer.content).get(
                "count")  # fmt: skip
            assert int(count) == 0, answer.text
        else:
            assert self.refusal(answer).status == 404, answer.text

    def refusal(self, answer: httpx.Response) -> Refusal:
        assert answer.status_code >= 400, f"HTTP {answer.status_code}: {answer.text[:500]!r}"
        if answer.headers.get("content-type", "").startswith("application/json"):
            document = answer.json()["errorDocument"]
            return Refusal(answer.status_code, str(document["httpResponseCode"]), str(document["message"]))
        root = etree.fromstring(answer.content, etree.XMLParser(resolve_entities=False, no_network=True))
        assert root.tag == "errorDocument", answer.text[:500]
        return Refusal(answer.status_code, root.findtext("httpResponseCode") or "", root.findtext("message") or "")

    def client_code(self, variant: str) -> str:
        return "400"

    def server_code(self, variant: str) -> str:
        return "500"

    def untouchable(self, world: World) -> Target:
        return world.submit(world.cast.other.name, self.project)

    def gate_text(self, reason: str) -> str:
        return f"Invalid payload: {reason}"

    def seed(self, world: World, variant: str, target: Target) -> Sent:
        """Seed 003's cancelrunning payload of this version and format, its first runId the target."""
        version, as_json = _split(variant)
        text = (SEEDS / f"{version}.request.{'json' if as_json else 'xml'}").read_text()
        body = text.replace("15", str(target.id), 1).replace("25", "999999").encode()
        sent = self.garbage(world, variant, body)
        return Sent(sent.method, sent.path, sent.headers, body, str(target.id))

    def garbage(self, world: World, variant: str, body: bytes) -> Sent:
        version, as_json = _split(variant)
        owner = world.cast.owner
        path = f"{PREFIX}/{version}/op/jobService/cancelrunning" + (".json" if as_json else "")
        media = "application/json" if as_json else "application/xml"
        return Sent("PUT", path, {**_basic(owner.name, owner.password), "Content-Type": media}, body)

    def content_types(self, variant: str) -> tuple[str, ...]:
        return ("application/xml", "application/json", "text/xml", "text/plain", "",
                "application/json; charset=utf-8")  # fmt: skip

    def judge_fuzzed(self, answer: httpx.Response) -> None:
        """Any answer to a mutated seed: a verdict (200) or an errorDocument (400, 413, 415)."""
        assert answer.status_code in (200, 400, 413, 415), answer.text
        if answer.status_code == 200:
            assert "mgmtResponse" in answer.text, answer.text
        else:
            self.refusal(answer)  # an errorDocument, 413 included

    def secrets(self, world: World) -> tuple[str, ...]:
        return (*(p.password for p in world.cast), world.state["reader"].password, "not-the-password")


def _payload(op: str, job_id: int, as_json: bool) -> tuple[bytes, str]:
    """The payload cisco.md gives for the operation, naming one job."""
    root, wrapper, item = (("jobRunOperationPayload", "runIds", "runId") if op == "cancelrunning"
                           else ("jobOperationPayload", "jobIds", "jobId"))  # fmt: skip
    if as_json:
        return json.dumps({root: {wrapper: {item: [job_id]}}}).encode(), "application/json"
    element = etree.Element(root)
    etree.SubElement(etree.SubElement(element, wrapper), item).text = str(job_id)
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8"), "application/xml"
