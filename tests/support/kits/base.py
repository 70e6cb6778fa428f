"""What every dialect's test kit provides (DialectKit), and what the security tier reads with it: the app built
in this process, its users, the store as an administrator sees it, refusals, and the internals no answer may show.

A kit knows its dialect's wire: how credentials travel (aliases, tokens, Basic), how each operation is called by
each kind of caller, what a refusal looks like, the seed request the fuzzer mutates and where hostile input goes
in. The tests in tests/security are written once, against this interface, and parametrised over the kits.
"""

import asyncio
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import httpx
from starlette.applications import Starlette
from typer.testing import CliRunner

from jobgate.app import create_app
from jobgate.cli import cli
from jobgate.domain.model import ADMIN_GROUP, Actor, Channel, Job, JobEvent, JobSpec
from support.factories import settings_for

LOOPBACK: Final = ("127.0.0.1", 50123)
REMOTE: Final = ("203.0.113.9", 5555)  # TEST-NET-3: never a local address
# Failed logins slow down further ones per account and per address (README, Security): bad logins come from this
# address and name the victim's account, which the calls expected to succeed never use.
GUESSER: Final = ("127.0.0.9", 40001)
ROOT_ACTOR: Final = Actor("root", Channel.CLI, frozenset({ADMIN_GROUP}))

# The callers every kit answers for; a kit adds its own (expired or logged-out tokens, no credentials at all …).
OWNER, OTHER, ADMIN, ANONYMOUS, BAD_PASSWORD = "owner", "other user", "admin", "anonymous", "bad password"
ALLOWED: Final = frozenset({OWNER, ADMIN})


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    password: str
    groups: tuple[str, ...] = ()
    wsid: int | None = None  # the CasJobs alias


@dataclass(frozen=True, slots=True)
class Cast:
    """The users of one world: the owner of every target job, another user, an administrator, and the victim whose
    password the bad logins guess."""

    owner: Person
    other: Person
    admin: Person
    victim: Person

    def __iter__(self) -> Iterator[Person]:
        return iter((self.owner, self.other, self.admin, self.victim))

    def by_caller(self, caller: str) -> Person:
        return {OWNER: self.owner, OTHER: self.other, ADMIN: self.admin}[caller]


@dataclass(frozen=True, slots=True)
class Target:
    """A job as a dialect names it: the id, the 32-hex key, its project and owner."""

    id: int
    key: str
    project: str
    owner: str


@dataclass(frozen=True, slots=True)
class Sent:
    """One request as a client of the dialect sends it."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    marker: str = ""  # the text in the body that names the job: where hostile input goes in


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refusal as the client reads it: the HTTP status, a code (SOAP 1.1 and 1.2 codes named Client/Server;
    a REST dialect's error kind) and its text."""

    status: int
    code: str
    text: str


@dataclass
class World:
    """One app built in this process (no runners: jobs stay where requests put them), its users and what the kit
    keeps between calls (login tokens …). With `http`, requests go to a real server on the same database instead
    (and `client`, the peer address, is always 127.0.0.1)."""

    app: Starlette
    cast: Cast
    kit: "DialectKit"
    state: dict[str, Any] = field(default_factory=dict)
    http: httpx.Client | None = None

    def send(self, sent: Sent, client: tuple[str, int] = LOOPBACK) -> httpx.Response:
        if self.http is not None:
            return self.http.request(sent.method, sent.path, content=sent.body, headers=dict(sent.headers))
        return request(self.app, sent.method, sent.path, content=sent.body, headers=sent.headers, client=client)

    def submit(self, owner: str, project: str = "p", *, finished: bool = False) -> Target:
        """A sleep job of `owner`'s, Submitted (or, with `finished`, run to its end inside the call)."""
        jobs = self.app.state.components.jobs
        actor, spec = Actor(owner, Channel.CLI), JobSpec("sleep", {"seconds": 0 if finished else 60}, project)
        job = jobs.execute(actor, spec)[0] if finished else jobs.submit(actor, spec)
        return Target(int(job.id), str(job.key), project, owner)

    def suspend(self, target: Target) -> None:
        self.app.state.components.jobs.suspend(ROOT_ACTOR, target.id)

    def store(self, *job_ids: int) -> "Store":
        """Every job as an administrator lists it, and the full history of these jobs."""
        jobs = self.app.state.components.jobs
        listed: dict[int, Any] = {int(job.id): job for job in jobs.list_jobs(ROOT_ACTOR)}
        histories = {job_id: tuple(jobs.history(ROOT_ACTOR, job_id)[1]) for job_id in job_ids}
        return Store(listed, histories)

    def job(self, job_id: int) -> tuple[Job, list[JobEvent]]:
        found: tuple[Job, list[JobEvent]] = self.app.state.components.jobs.history(ROOT_ACTOR, job_id)
        return found


KitWorld = Callable[["DialectKit"], World]  # the security tier's fixture: a kit's world for the module


@dataclass(frozen=True)
class Store:
    jobs: Mapping[int, Job]
    histories: Mapping[int, tuple[JobEvent, ...]]


def assert_store_unchanged(before: Store, after: Store, what: str = "the request") -> None:
    if before == after:
        return
    added = sorted(set(after.jobs) - set(before.jobs))
    changed = sorted(i for i in set(before.jobs) & set(after.jobs) if before.jobs[i] != after.jobs[i])
    changed += sorted(i for i in before.histories if before.histories[i] != after.histories.get(i))
    raise AssertionError(f"{what} changed the store: new jobs {added}, changed jobs {sorted(set(changed))}")


class DialectKit(Protocol):
    """One dialect, as the security tier drives it."""

    name: str  # the dialect; also the protocol its events record
    variants: tuple[str, ...]  # wire variants: SOAP versions, HTTP bindings, API versions × XML/JSON
    xml_variants: tuple[str, ...]  # those whose requests are XML documents (hostile XML goes there)
    operations: tuple[str, ...]  # every operation on a job, as the ownership matrix calls them
    callers: tuple[str, ...]  # OWNER … BAD_PASSWORD, and the dialect's own (expired token, no credentials …)
    secrets_note: str  # what secrets the dialect's requests carry
    project: str  # the project its jobs are made in (a Birst space is a GUID)
    seed_caller: str  # who sends the seed request: OWNER, or ADMIN where only an administrator may (ArcGIS admin)

    def cast(self) -> Cast:
        """The users of its world: names, passwords, groups, aliases."""

    def prepare(self, world: World) -> None:
        """What the callers need beyond the users (login tokens, logged out and expired ones, a read-only user)."""

    def target(self, world: World, op: str) -> Target:
        """A fresh job of the owner's, in the state `op` acts on."""

    def acts(self, op: str, caller: str) -> bool:
        """Whether `caller` gets `op` done (on the owner's job, or on their own behalf); otherwise it is refused."""

    def call(self, world: World, variant: str, op: str, caller: str, target: Target) -> httpx.Response:
        """`op` on `target` as `caller` would send it (credentials, address and all)."""

    def assert_allowed(
        self, world: World, variant: str, op: str, caller: str, target: Target, answer: httpx.Response, before: Store
    ) -> None:
        """The answer of a call that acts, and the store after it: the operation done, nothing else touched."""

    def assert_refused(self, variant: str, op: str, caller: str, answer: httpx.Response) -> None:
        """The dialect's refusal for this caller, in its words (the tier checks that the store is unchanged)."""

    def refusal(self, answer: httpx.Response) -> Refusal:
        """The refusal in an answer (fault, errorDocument …), or an AssertionError saying what came instead."""

    def client_code(self, variant: str) -> str:
        """The code of a refusal that blames the request: Client / Sender, or HTTP 400's."""

    def server_code(self, variant: str) -> str:
        """The code of the refusal that blames the server (an unexpected error): Server / Receiver, or 500."""

    def gate_text(self, reason: str) -> str:
        """How the dialect words a refusal of the XML gate's (`reason` is the gate's own sentence)."""

    def seed(self, world: World, variant: str, target: Target) -> Sent:
        """The dialect's seed request (its cancel) by `seed_caller`, naming `target`; `marker` is the text naming it."""

    def untouchable(self, world: World) -> Target:
        """A job the seed's sender may not change, for the fuzzer to aim the seed at: another user's (or, where
        only an administrator may send the seed, one that has ended)."""

    def garbage(self, world: World, variant: str, body: bytes) -> Sent:
        """`body` sent where the seed goes, with the variant's content type and the owner's credentials."""

    def content_types(self, variant: str) -> tuple[str, ...]:
        """Content types the fuzzer tries ("" sends none)."""

    def judge_fuzzed(self, answer: httpx.Response) -> None:
        """Any answer to a mutated seed aimed at a job its sender may not change: a refusal in the dialect's shape,
        or a sound answer that changed nothing."""

    def secrets(self, world: World) -> tuple[str, ...]:
        """What must never reach a log: every password sent, good or bad, and every token the kit holds."""


# -- what must never reach a client ---------------------------------------------------------------------------
# Spyne's own envelope prefixes name the library as plainly as its name does
_LIBRARY_MARKERS: Final = (
    "Traceback",
    'File "',
    ".py",
    "sqlalchemy",
    "sqlite",
    "lxml",
    "spyne",
    "psycopg",
    "soap11env",
    "soap12env",
)
_SQL_MARKERS: Final = (re.compile(r"\bSELECT\b"), re.compile(r"\bUPDATE\b"))


def leaks(body: str | bytes, sent: str | bytes = "") -> list[str]:
    """Internals visible in a response: a traceback, a source path, a library name or SQL text. A marker that
    the request itself carried (and the server may echo, as ASMX does) does not count."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    mine = sent.decode("utf-8", "replace") if isinstance(sent, bytes) else sent
    found = [m for m in _LIBRARY_MARKERS if m.lower() in text.lower() and m.lower() not in mine.lower()]
    found += [p.pattern for p in _SQL_MARKERS if p.search(text) and not p.search(mine)]
    return found


def assert_no_leak(response: httpx.Response, sent: str | bytes = "") -> None:
    found = leaks(response.content, sent)
    assert not found, f"HTTP {response.status_code} body shows {found}: {response.text[:800]!r}"


# -- the operator's view of the store ----------------------------------------------------------------------------
class OperatorView:
    """`jobgate job list --json` and `jobgate job show ID --json`, run in-process (the same CLI code and output as
    the console script, without a 1 s interpreter start per call), against the server's database."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._runner = CliRunner()

    def _json(self, *args: str) -> Any:
        result = self._runner.invoke(cli, [*args, "--database-url", self.database_url])
        if result.exit_code != 0:
            raise AssertionError(f"jobgate {' '.join(args)} exited {result.exit_code}: {result.output}") from (
                result.exception
            )
        return json.loads(result.stdout)

    def jobs(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._json("job", "list", "--json")
        return found

    def show(self, job_id: int) -> dict[str, Any]:
        found: dict[str, Any] = self._json("job", "show", str(job_id), "--json")
        return found

    def snapshot(self) -> dict[int, dict[str, Any]]:
        """Every job with its full history, by id."""
        return {job["id"]: self.show(job["id"]) for job in self.jobs()}

    def around(self, *job_ids: int) -> dict[int, dict[str, Any]]:
        """Every job as `job list` shows it, and the full history of these jobs: a cheaper snapshot for a store
        that grows during a module (a change anywhere else shows as a changed or new job)."""
        found = {job["id"]: job for job in self.jobs()}
        for job_id in job_ids:
            found[job_id] = self.show(job_id)
        return found


def assert_unchanged(before: Mapping[int, Any], after: Mapping[int, Any], what: str = "the request") -> None:
    if before == after:
        return
    added = sorted(set(after) - set(before))
    changed = sorted(i for i in set(before) & set(after) if before[i] != after[i])
    detail = [f"new jobs {added}: {[after[i] for i in added]}"] if added else []
    detail += [f"job {i}: {before[i]} → {after[i]}" for i in changed]
    raise AssertionError(f"{what} changed the store: " + "; ".join(detail))


# -- the app in this process -----------------------------------------------------------------------------------
@contextmanager
def app_in_process(tmp_path: Path, **overrides: Any) -> Iterator[Starlette]:
    """A fresh app on a SQLite file in tmp_path (schema by Alembic, no runners, cheap hashing)."""
    values = {"database_url": f"sqlite:///{tmp_path / 'jobgate.db'}", "data_dir": tmp_path / "data", **overrides}
    app = create_app(settings_for(**values))
    try:
        yield app
    finally:
        app.state.components.engine.dispose()


def add_people(app: Starlette, cast: Cast) -> None:
    identity = app.state.components.identity
    for person in cast:
        groups = [*person.groups]
        identity.add_user(person.name, person.password, groups, numbered={"wsid": person.wsid})


@contextmanager
def world_of(kit: DialectKit, tmp_path: Path, http: httpx.Client | None = None, **overrides: Any) -> Iterator[World]:
    """The kit's world: a fresh app (or, with `http` and a `database_url`, one on a real server's database whose
    requests go to that server), the kit's cast added, the kit prepared."""
    with app_in_process(tmp_path, **overrides) as app:
        world = World(app, kit.cast(), kit, http=http)
        add_people(app, world.cast)
        kit.prepare(world)
        yield world


def request(
    app: Starlette,
    method: str,
    url: str,
    *,
    client: tuple[str, int] = LOOPBACK,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """One request through the ASGI app, from `client` as the scope's peer address."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.request(method, url, content=content, headers=headers)

    return asyncio.run(send())
