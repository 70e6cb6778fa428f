"""CasJobs' kit: jobs.asmx over SOAP 1.1, SOAP 1.2, HTTP GET and HTTP POST; credentials are a wsid (an alias of
the user) and a password in every call; refusals are ASMX's ("Server was unable to process request. ---> …" in a
Server fault, "System.Exception: … --->" as text/plain over HTTP GET/POST)."""

from typing import Any, Final

import httpx
from starlette.applications import Starlette

from jobgate.domain.model import ADMIN_GROUP, Actor, Channel, JobSpec, User
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
from support.kits.casjobs_wire import (
    BAD_LOGIN,
    JOBS,
    PARAMS,
    READ_PREFIX,
    SOAP_BINDINGS,
    Binding,
    assert_denied,
    assert_fault,
    credential_names,
    envelope,
    job_ids_in,
    result_text,
    seed_cancel,
    soap_action,
)

NO_CREDENTIALS: Final = "no credentials"
NOT_YOURS: Final = {
    "CancelJob": "You may only cancel your own jobs.",
    "GetJobStatus": "You may only access your own jobs.",
}
QUERY: Final = {"qry": "SELECT 1 AS a", "context": "MyDB", "taskname": "matrix"}


def add_user(app: Starlette, name: str, password: str, wsid: int, *, admin: bool = False) -> User:
    groups = [ADMIN_GROUP] if admin else []
    user: User = app.state.components.identity.add_user(name, password, groups, numbered={"wsid": wsid})
    return user


def submit_sleep(app: Starlette, user: User) -> int:
    job = app.state.components.jobs.submit(Actor.of(user, Channel.CLI), JobSpec("sleep", {"seconds": 60}, "p"))
    return int(job.id)


def send(world: World, binding: Binding, op: str, params: dict[str, Any], client: tuple[str, int] | None) -> Any:
    """One CasJobs call as a client of that binding sends it (SOAPAction / action= included)."""
    values = {name: str(params[name]) for name in PARAMS[op] if params.get(name) is not None}
    if binding is Binding.GET:
        query = str(httpx.QueryParams(values))
        sent = Sent("GET", f"{JOBS}/{op}?{query}", {}, b"")
    elif binding is Binding.POST:
        body = str(httpx.QueryParams(values)).encode()
        sent = Sent("POST", f"{JOBS}/{op}", {"content-type": "application/x-www-form-urlencoded"}, body)
    else:
        headers = {"content-type": binding.content_type}
        if binding is Binding.SOAP11:
            headers["soapaction"] = soap_action(op)
        else:
            headers["content-type"] += f"; action={soap_action(op)}"
        sent = Sent("POST", JOBS, headers, envelope(binding, op, params))
    return world.send(sent, client) if client else world.send(sent)


class CasJobsKit:
    name = "casjobs"
    variants: tuple[str, ...] = tuple(str(b) for b in Binding)
    xml_variants: tuple[str, ...] = tuple(str(b) for b in SOAP_BINDINGS)
    operations: tuple[str, ...] = ("CancelJob", "GetJobStatus", "GetJobs", "SubmitJob", "ExecuteQuickJob")
    callers: tuple[str, ...] = (OWNER, OTHER, ADMIN, ANONYMOUS, NO_CREDENTIALS, BAD_PASSWORD)
    secrets_note = "passwords (in every call's parameters)"
    seed_caller = OWNER
    project = "p"

    def cast(self) -> Cast:
        return Cast(
            Person("alice", "alice-Ow-5", wsid=7001),
            Person("bob", "bob-Ow-5", wsid=7002),
            Person("root", "root-Ow-5", ("admin",), wsid=7003),
            Person("vic", "vic-Ow-5", wsid=7004),
        )

    def prepare(self, world: World) -> None:
        return None

    def target(self, world: World, op: str) -> Target:
        return world.submit(world.cast.owner.name, self.project)

    def acts(self, op: str, caller: str) -> bool:
        """The owner and an administrator act on the owner's job; anyone submits a job of their own."""
        return caller in (OWNER, ADMIN) or (caller == OTHER and op in ("SubmitJob", "ExecuteQuickJob"))

    def _credentials(self, world: World, caller: str, op: str) -> dict[str, Any]:
        wsid, pw = credential_names(op)
        if caller in (OWNER, OTHER, ADMIN):
            person = world.cast.by_caller(caller)
            return {wsid: person.wsid, pw: person.password}
        if caller == ANONYMOUS:
            return {wsid: 0, pw: ""}
        if caller == BAD_PASSWORD:
            return {wsid: world.cast.victim.wsid, pw: "not-" + world.cast.victim.password}
        return {}

    def call(self, world: World, variant: str, op: str, caller: str, target: Target) -> httpx.Response:
        by_op: dict[str, dict[str, Any]] = {
            "CancelJob": {"jobId": target.id},
            "GetJobStatus": {"jobId": target.id},
            "GetJobs": {"conditions": f"JobID : {target.id}", "includeSystem": "false"},
            "SubmitJob": {**QUERY, "estimate": 1},
            "ExecuteQuickJob": {**QUERY, "isSystem": "false"},
        }
        arguments = by_op[op]
        client = GUESSER if caller in (ANONYMOUS, BAD_PASSWORD) else None
        answer: httpx.Response = send(world, Binding(variant), op, {**self._credentials(world, caller, op),
                                                                   **arguments}, client)  # fmt: skip
        return answer

    def assert_allowed(
        self, world: World, variant: str, op: str, caller: str, target: Target, answer: httpx.Response, before: Store
    ) -> None:
        binding, person = Binding(variant), world.cast.by_caller(caller)
        after = world.store(target.id)
        if op == "CancelJob":
            assert answer.status_code == 200, answer.text
            job, events = world.job(target.id)
            assert job.state == "Cancelled", job
            assert events[: len(before.histories[target.id])] == list(before.histories[target.id]), "history rewritten"
            [event] = events[len(before.histories[target.id]) :]
            assert (event.actor, event.protocol, event.from_state, event.to_state) == (
                person.name, "casjobs", "Submitted", "Cancelled")  # fmt: skip
            others = Store({i: j for i, j in after.jobs.items() if i != target.id}, {})
            assert_store_unchanged(Store({i: j for i, j in before.jobs.items() if i != target.id}, {}), others)
        elif op == "GetJobStatus":
            assert result_text(answer, binding, op) == "0"  # ready: the target never started
            assert_store_unchanged(before, after, f"{op} by {caller}")
        elif op == "GetJobs":
            assert job_ids_in(answer) == [target.id]
            assert_store_unchanged(before, after, f"{op} by {caller}")
        else:  # SubmitJob, ExecuteQuickJob: a job of the caller's own, nothing else touched
            result = result_text(answer, binding, op)
            [new] = sorted(set(after.jobs) - set(before.jobs))
            assert after.jobs[new].owner == person.name
            assert result == (str(new) if op == "SubmitJob" else "[a]:BigInt\n1\n")
            assert_store_unchanged(before, Store({i: j for i, j in after.jobs.items() if i != new}, after.histories))

    def assert_refused(self, variant: str, op: str, caller: str, answer: httpx.Response) -> None:
        binding = Binding(variant)
        if caller == NO_CREDENTIALS and binding.is_soap:  # the request cannot be read without them: Client fault
            assert_fault(answer, binding, "Client", f"{READ_PREFIX}Missing parameter: {credential_names(op)[0]}.")
        elif caller == NO_CREDENTIALS:  # ASMX names the declared parameter, on every binding
            assert_denied(answer, binding, f"Missing parameter: {credential_names(op)[0]}.")
        elif caller in (ANONYMOUS, BAD_PASSWORD):
            assert_denied(answer, binding, BAD_LOGIN)
        elif op == "GetJobs":  # another user simply sees none of the owner's jobs
            assert job_ids_in(answer) == []
        else:
            assert_denied(answer, binding, NOT_YOURS[op])

    def refusal(self, answer: httpx.Response) -> Refusal:
        if answer.headers.get("content-type", "").startswith("text/plain"):
            return Refusal(answer.status_code, "Server", answer.text)
        return soap.refusal(answer)

    def client_code(self, variant: str) -> str:
        return soap.client_code(variant)

    def server_code(self, variant: str) -> str:
        return soap.server_code(variant)

    def untouchable(self, world: World) -> Target:
        return world.submit(world.cast.other.name, self.project)

    def gate_text(self, reason: str) -> str:
        return READ_PREFIX + reason

    def seed(self, world: World, variant: str, target: Target) -> Sent:
        """Seed 001's CancelJob request for this SOAP version, placeholders filled in, by the owner."""
        owner = world.cast.owner
        body = seed_cancel(Binding(variant), owner.wsid or 0, owner.password, target.id).encode()
        sent = self.garbage(world, variant, body)
        return Sent(sent.method, sent.path, sent.headers, body, str(target.id))

    def garbage(self, world: World, variant: str, body: bytes) -> Sent:
        if variant in (Binding.GET, Binding.POST):
            return Sent("POST", f"{JOBS}/CancelJob", {"content-type": "application/x-www-form-urlencoded"}, body)
        return Sent("POST", JOBS, {"content-type": Binding(variant).content_type}, body)

    def content_types(self, variant: str) -> tuple[str, ...]:
        return ("text/xml", "application/soap+xml", "TEXT/XML; charset=UTF-8", "application/xml", "text/plain",
                "application/json", "", "text/xml; charset=iso-8859-1", Binding(variant).content_type)  # fmt: skip

    def judge_fuzzed(self, answer: httpx.Response) -> None:
        """CancelJob of another user's job: never 200 unless the mutation left no job named (seed 001: silent)."""
        if answer.status_code not in (200, 400, 413):
            assert answer.status_code in (415, 500), answer.status_code
            self.refusal(answer)

    def secrets(self, world: World) -> tuple[str, ...]:
        return (*(p.password for p in world.cast), "not-" + world.cast.victim.password)
