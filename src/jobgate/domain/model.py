"""Values of the job domain: jobs, events, users, actors and the outcome of a request."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from jobgate.domain.states import Action, JobState

ADMIN_GROUP: Final = "admin"
SYSTEM_ACTOR: Final = "system"
QUICK_QUEUE: Final = "quick"  # short jobs, synchronous ones among them; both queues have a time limit
LONG_QUEUE: Final = "long"


class Channel(StrEnum):
    """What a request came over: one of the five dialects, the CLI, or a runner (the system)."""

    CASJOBS = "casjobs"
    TRANSWS = "transws"
    BIRST = "birst"
    CISCO = "cisco"
    ARCGIS = "arcgis"
    CLI = "cli"
    RUNNER = "runner"


@dataclass(frozen=True, slots=True)
class User:
    """Who may log in: a name, a password (its hash) and groups. Other names a dialect knows the user by (a
    CasJobs wsid) are aliases, kept beside the user; tokens are issued to the user by name."""

    name: str
    password_hash: str
    groups: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups


@dataclass(frozen=True, slots=True)
class Actor:
    """Whoever asks: a user (or the system) speaking one protocol."""

    name: str
    protocol: Channel
    groups: frozenset[str] = frozenset()

    @classmethod
    def of(cls, user: User, protocol: Channel) -> "Actor":
        return cls(user.name, protocol, user.groups)

    @classmethod
    def system(cls) -> "Actor":
        return cls(SYSTEM_ACTOR, Channel.RUNNER)

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    key: str
    owner: str
    project: str
    task: str
    params: Mapping[str, Any]
    state: JobState
    submitted_at: datetime
    name: str = ""
    queue: str = "default"
    synchronous: bool = False
    system: bool = False
    started_at: datetime | None = None
    ended_at: datetime | None = None
    state_changed_at: datetime | None = None
    rows: int | None = None
    result: str | None = None
    error: str | None = None
    output_loc: str | None = None
    runner_id: str | None = None
    heartbeat_at: datetime | None = None
    attempts: int = 0
    version: int = 1


@dataclass(frozen=True, slots=True)
class JobEvent:
    job_id: int
    seq: int
    stage: str
    status: str
    from_state: JobState | None
    to_state: JobState
    at: datetime
    actor: str
    protocol: Channel
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What a client asks to run."""

    task: str
    params: Mapping[str, Any] = field(default_factory=dict)
    project: str = ""
    name: str = ""
    queue: str = "default"
    synchronous: bool = False
    system: bool = False


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Which jobs a listing selects (every field narrows; None selects all), oldest first: `name` is the name the
    job was submitted with ("" for none), the submission window is inclusive, and `offset` jobs are skipped before
    at most `limit` are returned."""

    owner: str | None = None
    states: frozenset[JobState] | None = None
    project: str | None = None
    ids: frozenset[int] | None = None
    include_system: bool = True
    limit: int | None = None
    task: str | None = None
    name: str | None = None
    submitted_from: datetime | None = None
    submitted_until: datetime | None = None
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a request did: the state before, the state after, and whether anything changed."""

    job: Job
    prior: JobState
    current: JobState
    changed: bool


@dataclass(frozen=True, slots=True)
class Change:
    """Extra columns a transition writes besides the state (results, errors, runner bookkeeping)."""

    rows: int | None = None
    result: str | None = None
    error: str | None = None
    output_loc: str | None = None
    runner_id: str | None = None
    clear_runner: bool = False
    started: bool = False
    ended: bool = False
    release_attempt: bool = False  # a graceful hand-back does not use up the job's one retry
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class Transition:
    """One compare-and-set: move job `job_id` from `expected` to `target` and record why. With
    `stale_before`, only while the job's heartbeat is still older than that (the watchdog's guard: a runner
    that beat, or a new claim made, since the watchdog read the job keeps it)."""

    job_id: int
    action: Action
    expected: JobState
    target: JobState
    actor: str
    protocol: Channel
    reason: str | None = None
    status: str = "ok"
    change: Change = Change()
    stale_before: datetime | None = None


class CredentialKind(StrEnum):
    PASSWORD = "password"  # noqa: S105 - a kind's name: login = the user name, secret = the password
    ALIAS = "alias"  # login = an alias in namespace `scheme` (a CasJobs wsid), secret = the password
    TOKEN = "token"  # noqa: S105 - secret = a token of kind `scheme` (a Birst login token, an ArcGIS token)


@dataclass(frozen=True, slots=True)
class Credentials:
    """Proof of identity pulled off the wire by a dialect; never logged."""

    login: str
    secret: str = field(repr=False)
    kind: CredentialKind = CredentialKind.PASSWORD
    scheme: str = ""  # the alias namespace (ALIAS) or the token kind (TOKEN); owned by the dialect
    client: str = ""  # client address, for per-address throttling


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token as its holder gets it, once: the token itself is never stored, only its hash."""

    token: str = field(repr=False)
    kind: str
    owner: str
    expires_at: datetime


def may_write(actor: Actor, job: Job) -> bool:
    """The owner or a member of group admin may act on a job; nobody else."""
    return actor.is_admin or actor.name == job.owner


def may_read(actor: Actor, job: Job) -> bool:
    return may_write(actor, job)


def ignores_cancel(job: Job) -> bool:
    """A synchronous job runs inside its own request and ends with it; cancel has no effect on it."""
    return job.synchronous


@dataclass(frozen=True, slots=True)
class TaskResult:
    """What a task hands back when it ends normally."""

    rows: int | None = None
    summary: str | None = None
    output_loc: str | None = None
    table: "Table | None" = None


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # a portable type name: int, float, string, datetime, bool, bytes


@dataclass(frozen=True, slots=True)
class Table:
    """A small tabular result, returned by synchronous (quick) jobs."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
