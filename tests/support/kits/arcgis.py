"""ArcGIS's kit: the GP REST API (`/arcgis/rest/services/<svc>/GPServer/<task>/jobs/<jobId>`, its `/cancel` and
`/inputs/<name>`, `submitJob`) and the Administrator API (`/arcgis/admin/services/<svc>.GPServer/jobs/<jobId>`, its
`/cancel` and `/delete`, `jobs/query`), answered as `f=json` or `f=pjson`. A call carries a token from
generateToken (POSTs in the form body, as seed 004 requires of admin POSTs; GETs in the query string). Refusals
are HTTP 200 with the code in the body: `{"error": {"code", "message", "details"}}` on GP REST,
`{"status": "error", "messages": [...], "code"}` on the Administrator API (arcgis.md, token and outcome tables).
A server fault alone is HTTP 500, in the same shapes."""

import json
from typing import Any, Final
from urllib.parse import urlencode

import httpx

from jobgate.domain.states import JobState
from support.arcgis import ROOT, SERVICE, admin_job_url, task_url
from support.factories import expired_token
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

TASK: Final = "sleep"
FORM: Final = "application/x-www-form-urlencoded"
READER, UNKNOWN, EXPIRED = "reader", "unknown token", "expired token"

REST_OPS: Final = ("submitJob", "status", "cancel", "inputs")
ADMIN_OPS: Final = ("admin job", "admin cancel", "admin delete", "admin query")
ON_TARGET: Final = frozenset({"status", "cancel", "inputs", "admin job", "admin cancel", "admin delete"})

# the answers arcgis.md gives each refusal (REST shape, admin shape)
INVALID_URL: Final = {"error": {"code": 400, "message": "Invalid URL", "details": []}}
FORBIDDEN: Final = {"status": "error", "messages": ["User does not have permissions to perform this operation."],
                    "code": 403}  # fmt: skip
TOKEN_REQUIRED: Final = {
    False: {"error": {"code": 499, "message": "Token Required", "details": []}},
    True: {"status": "error", "code": 499, "messages": [
        "Unauthorized access. Token not found. You can generate a token using the 'generateToken' operation."]},
}  # fmt: skip
BAD_TOKEN: Final = {
    False: {"error": {"code": 498, "message": "Invalid Token", "details": []}},
    True: {"status": "error", "messages": ["Could not decrypt token. Token may not be valid."], "code": 498},
}
EXPIRED_TOKEN: Final = {  # arcgis.md [PUP]: the admin API names the expiry
    False: BAD_TOKEN[False],
    True: {"status": "error", "messages": ["Token Expired."], "code": 498},
}
BAD_LOGIN: Final = {
    False: {
        "error": {"code": 400, "message": "Unable to generate token.", "details": ["Invalid username or password."]}
    },
    True: {"status": "error", "messages": ["Unable to generate token.", "Invalid username or password."], "code": 400},
}


def wire_id(target: Target) -> str:
    return f"j{target.key}"


def form(**fields: Any) -> bytes:
    return urlencode({k: v for k, v in fields.items() if v is not None}).encode()


class ArcGisKit:
    name = "arcgis"
    variants: tuple[str, ...] = ("json", "pjson")  # f=; f=html pages carry the HTTP status (tests/contract/arcgis)
    xml_variants: tuple[str, ...] = ()  # JSON in, form-encoded out: no XML document anywhere
    operations: tuple[str, ...] = (*REST_OPS, *ADMIN_OPS)
    callers: tuple[str, ...] = (OWNER, OTHER, ADMIN, READER, ANONYMOUS, BAD_PASSWORD, UNKNOWN, EXPIRED)
    secrets_note = "passwords (generateToken) and tokens"
    seed_caller = ADMIN  # seed 004 is the Administrator API's cancel
    project = SERVICE

    def cast(self) -> Cast:
        return Cast(
            Person("alice", "alice-Ag-5"),
            Person("bob", "bob-Ag-5"),
            Person("root", "root-Ag-5", ("admin",)),
            Person("vera", "vera-Ag-5"),
        )

    def prepare(self, world: World) -> None:
        """A live token for the owner, another user, an administrator and a reader (no group that grants
        anything); one expired; one nobody issued."""
        reader = Person("reader", "reader-Ag-5", ("nbi-read",))
        world.app.state.components.identity.add_user(reader.name, reader.password, list(reader.groups))
        world.state["reader"] = reader
        people = {OWNER: world.cast.owner, OTHER: world.cast.other, ADMIN: world.cast.admin, READER: reader}
        tokens = {caller: self._token(world, person) for caller, person in people.items()}
        tokens[EXPIRED] = expired_token(world.app.state.components.engine, world.cast.owner.name, "arcgis")
        tokens[UNKNOWN] = "A" * 43
        world.state["tokens"] = tokens

    def _token(self, world: World, person: Person) -> str:
        body = form(username=person.name, password=person.password, client="requestip", f="json")
        answer = world.send(Sent("POST", f"{ROOT}/tokens/generateToken", {"Content-Type": FORM}, body))
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["token"]
        return token

    def target(self, world: World, op: str) -> Target:
        return world.submit(world.cast.owner.name, SERVICE)

    def acts(self, op: str, caller: str) -> bool:
        if op in ADMIN_OPS:
            return caller == ADMIN
        if op == "submitJob":  # on the caller's own behalf: any live token
            return caller in (OWNER, OTHER, ADMIN, READER)
        return caller in (OWNER, ADMIN)

    def call(self, world: World, variant: str, op: str, caller: str, target: Target) -> httpx.Response:
        admin = op in ADMIN_OPS
        if caller == BAD_PASSWORD:  # no token to call with: generateToken is the call
            path = f"{ROOT}/admin/generateToken" if admin else f"{ROOT}/tokens/generateToken"
            body = form(username=world.cast.victim.name, password="wrong-password", client="requestip", f=variant)
            return world.send(Sent("POST", path, {"Content-Type": FORM}, body), GUESSER)
        token = world.state["tokens"].get(caller)
        job = wire_id(target)
        if op in ("status", "admin job", "inputs", "admin query"):  # GETs: the token in the query string
            path = {"status": f"{task_url()}/jobs/{job}", "admin job": admin_job_url(job),
                    "inputs": f"{task_url()}/jobs/{job}/inputs/seconds",
                    "admin query": f"{ROOT}/admin/services/{SERVICE}.GPServer/jobs/query"}[op]  # fmt: skip
            extra = {"startTime": 0, "userName": target.owner, "number": 1000} if op == "admin query" else {}
            query = form(f=variant, token=token, **extra).decode()
            return world.send(Sent("GET", f"{path}?{query}", {}, b""))
        path = {"submitJob": f"{task_url()}/submitJob", "cancel": f"{task_url()}/jobs/{job}/cancel",
                "admin cancel": f"{admin_job_url(job)}/cancel",
                "admin delete": f"{admin_job_url(job)}/delete"}[op]  # fmt: skip
        extra = {"seconds": 60} if op == "submitJob" else {}
        return world.send(Sent("POST", path, {"Content-Type": FORM}, form(f=variant, token=token, **extra)))

    def assert_allowed(
        self, world: World, variant: str, op: str, caller: str, target: Target, answer: httpx.Response, before: Store
    ) -> None:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert "error" not in body, body
        assert body.get("status") != "error", body
        job = wire_id(target)
        if op == "submitJob":  # the caller's own new job is all that appears
            after = world.store(target.id)
            [new] = set(after.jobs) - set(before.jobs)
            assert body == {"jobId": f"j{after.jobs[new].key}", "jobStatus": "esriJobSubmitted"}, body
            person = world.state["reader"] if caller == READER else world.cast.by_caller(caller)
            assert (after.jobs[new].owner, after.jobs[new].project, after.jobs[new].task) == (
                person.name,
                SERVICE,
                TASK,
            )
            rest = Store({i: j for i, j in after.jobs.items() if i != new}, after.histories)
            assert_store_unchanged(before, rest, f"submitJob by {caller}")
        elif op == "admin delete":  # hidden from every view; nothing else touched
            assert body == {"status": "success"}, body
            after = world.store()
            assert target.id not in after.jobs
            assert {i: j for i, j in before.jobs.items() if i != target.id} == dict(after.jobs)
        elif op in ("cancel", "admin cancel"):
            wanted = {"jobId": job, "jobStatus": "esriJobCancelled"} if op == "cancel" else {"status": "success"}
            assert body == wanted, body
            found, events = world.job(target.id)
            assert found.state is JobState.CANCELLED, found.state
            assert len(events) == len(before.histories[target.id]) + 1, events  # exactly one event
            assert (events[-1].actor, events[-1].protocol) == (world.cast.by_caller(caller).name, "arcgis")
        else:
            if op == "status":
                assert (body["jobId"], body["jobStatus"]) == (job, "esriJobWaiting"), body
            elif op == "inputs":
                assert body == {"paramName": "seconds", "dataType": "GPLong", "value": 60}, body
            elif op == "admin job":
                assert (body["jobID"], body["status"], body["username"]) == (job, "esriJobSubmitted", target.owner)
            else:  # admin query: the owner's jobs, newest first
                assert body["jobs"][0]["jobID"] == job, body
            assert_store_unchanged(before, world.store(target.id), f"{op} by {caller}")

    def assert_refused(self, variant: str, op: str, caller: str, answer: httpx.Response) -> None:
        assert answer.status_code == 200, answer.text  # arcgis.md: refusals are HTTP 200 with the code inside
        assert answer.headers["content-type"].startswith("text/plain" if op in ADMIN_OPS else "application/json")
        if variant == "pjson":
            assert answer.text.startswith("{\n"), answer.text  # indented
        assert json.loads(answer.content) == self._refusal_body(op, caller), answer.text
        self.refusal(answer)

    @staticmethod
    def _refusal_body(op: str, caller: str) -> dict[str, Any]:
        admin = op in ADMIN_OPS
        shapes = {ANONYMOUS: TOKEN_REQUIRED, BAD_PASSWORD: BAD_LOGIN, UNKNOWN: BAD_TOKEN, EXPIRED: EXPIRED_TOKEN}
        if caller in shapes:
            return shapes[caller][admin]
        if admin:  # a live token of a user outside group admin
            return FORBIDDEN
        return INVALID_URL  # another user's job does not exist for the caller

    def refusal(self, answer: httpx.Response) -> Refusal:
        """Either shape: GP REST's `{"error": {…}}` or the Administrator API's `{"status": "error", …}`; the text is
        the message and every detail."""
        assert answer.status_code in (200, 413, 500, 503), f"HTTP {answer.status_code}: {answer.text[:500]!r}"
        try:
            body = json.loads(answer.content)
        except ValueError:
            raise AssertionError(f"not JSON: HTTP {answer.status_code} {answer.text[:300]!r}") from None
        assert isinstance(body, dict), answer.text[:500]
        if isinstance(body.get("error"), dict):
            error = body["error"]
            assert isinstance(error.get("code"), int), body
            assert isinstance(error.get("message"), str), body
            assert isinstance(error.get("details"), list), body
            return Refusal(answer.status_code, str(error["code"]), " ".join([error["message"], *error["details"]]))
        assert body.get("status") == "error", f"not an ArcGIS error: {answer.text[:500]!r}"
        assert isinstance(body.get("code"), int), body
        assert isinstance(body.get("messages"), list), body
        return Refusal(answer.status_code, str(body["code"]), " ".join(body["messages"]))

    def client_code(self, variant: str) -> str:
        return "400"

    def server_code(self, variant: str) -> str:
        return "500"

    def gate_text(self, reason: str) -> str:
        return reason  # no XML reaches this dialect

    def seed(self, world: World, variant: str, target: Target) -> Sent:
        """Seed 004's admin cancel POST (`f=<variant>` form-encoded, the token in the body, as the seed requires of
        admin POSTs). Only an administrator may send it: the administrator's token. The path names the job; the
        body's one value, where hostile input goes in, is the token."""
        token = world.state["tokens"][ADMIN]
        path = f"{admin_job_url(wire_id(target), target.project)}/cancel"
        return Sent("POST", path, {"Content-Type": FORM}, form(f=variant, token=token), token)

    def untouchable(self, world: World) -> Target:
        """Seed 004 is an administrator's, who may cancel any running job: a job that has ended, which no cancel
        changes (seed 004: "Unable to cancel job")."""
        return world.submit(world.cast.other.name, SERVICE, finished=True)

    def garbage(self, world: World, variant: str, body: bytes) -> Sent:
        path = f"{admin_job_url('j' + '0' * 32)}/cancel"
        return Sent("POST", path, {"Content-Type": FORM}, body)

    def content_types(self, variant: str) -> tuple[str, ...]:
        return (FORM, "multipart/form-data; boundary=x", "application/json", "text/plain", "",
                f"{FORM}; charset=latin-1")  # fmt: skip

    def judge_fuzzed(self, answer: httpx.Response) -> None:
        """Any answer to a mutated seed aimed at a job no cancel changes: an error in either shape (JSON, HTTP
        200 or 413), or an HTML page of a refusal (f mangled to html or left out: the page carries the status)."""
        if answer.headers.get("content-type", "").startswith("text/html"):
            assert 400 <= answer.status_code < 500, f"HTTP {answer.status_code}: {answer.text[:500]!r}"
            return
        assert answer.status_code in (200, 413), f"HTTP {answer.status_code}: {answer.text[:500]!r}"
        self.refusal(answer)

    def secrets(self, world: World) -> tuple[str, ...]:
        people = (*world.cast, world.state["reader"])
        return (*(p.password for p in people), "wrong-password", *world.state["tokens"].values())
