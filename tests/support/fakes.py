"""In-memory fakes of the ports in jobgate.domain.ports, for fast unit tests of the service layer."""

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from jobgate.domain.errors import Conflict
from jobgate.domain.model import Channel, Job, JobEvent, JobFilter, JobSpec, Transition, User
from jobgate.domain.states import JobState

EPOCH = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def _instant(*times: datetime | None) -> None:
    """Refuse what the SQL store refuses: a missing or naive time (its columns are NOT NULL, aware UTC)."""
    for at in times:
        if not isinstance(at, datetime) or at.tzinfo is None:
            raise ValueError(f"an aware datetime is needed, not {at!r}")


class FakeClock:
    """A clock that moves only when told to: `now()` (aware UTC, ms) and `monotonic()` advance together."""

    def __init__(self, start: datetime = EPOCH, monotonic: float = 1000.0) -> None:
        self._now, self._monotonic = start, monotonic

    def now(self) -> datetime:
        return self._now.replace(microsecond=self._now.microsecond // 1000 * 1000)

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds


class FakeHasher:
    """Cheap and deterministic; counts its calls so tests can see what the credential cache saved."""

    PREFIX = "fake$"

    def __init__(self) -> None:
        self.hash_calls = 0
        self.verify_calls = 0

    def hash(self, password: str) -> str:
        self.hash_calls += 1
        return self.PREFIX + hashlib.sha256(password.encode()).hexdigest()

    def verify(self, hashed: str, password: str) -> bool:
        self.verify_calls += 1
        return hashed == self.PREFIX + hashlib.sha256(password.encode()).hexdigest()


class FakeJobRepository:
    """Jobs and their append-only history in dicts, with the SQL repository's compare-and-set rules."""

    def __init__(self) -> None:
        self.rows: dict[int, Job] = {}
        self.deleted: set[int] = set()
        self.history: list[JobEvent] = []

    # -- helpers --------------------------------------------------------------------------------------
    def _live(self, job_id: int) -> Job | None:
        return None if job_id in self.deleted else self.rows.get(job_id)

    def _append(self, job: Job, stage: str, from_state: JobState | None, **event: Any) -> None:
        self.history.append(
            JobEvent(job.id, job.version, stage, "ok", from_state, job.state, **event),
        )

    def _matches(self, job: Job, where: JobFilter) -> bool:
        return (
            job.id not in self.deleted
            and (where.owner is None or job.owner == where.owner)
            and (where.states is None or job.state in where.states)
            and (where.project is None or job.project == where.project)
            and (where.ids is None or job.id in where.ids)
            and (where.include_system or not job.system)
            and (where.task is None or job.task == where.task)
            and (where.name is None or job.name == where.name)
            and (where.submitted_from is None or job.submitted_at >= where.submitted_from)
            and (where.submitted_until is None or job.submitted_at <= where.submitted_until)
        )

    # -- the JobRepository port -----------------------------------------------------------------------
    def add(self, spec: JobSpec, owner: str, key: str, now: datetime, actor: str, protocol: Channel) -> Job:
        _instant(now)
        job = Job(
            id=max(self.rows, default=0) + 1, key=key, owner=owner, project=spec.project, task=spec.task,
            params=dict(spec.params), state=JobState.SUBMITTED, submitted_at=now, name=spec.name,
            queue=spec.queue, synchronous=spec.synchronous, system=spec.system, state_changed_at=now,
        )  # fmt: skip
        self.rows[job.id] = job
        self._append(job, "submit", None, at=now, actor=actor, protocol=protocol)
        return job

    def get(self, job_id: int) -> Job | None:
        return self._live(job_id)

    def get_by_key(self, key: str) -> Job | None:
        return next((j for j in self.rows.values() if j.key == key and j.id not in self.deleted), None)

    def list_jobs(self, where: JobFilter) -> list[Job]:
        found = [job for _, job in sorted(self.rows.items()) if self._matches(job, where)][where.offset :]
        return found if where.limit is None else found[: where.limit]

    def count_jobs(self, where: JobFilter) -> int:
        return sum(1 for job in self.rows.values() if self._matches(job, where))

    def transition(self, move: Transition, now: datetime) -> Job | None:
        _instant(now)
        job = self._live(move.job_id)
        if job is None or job.state is not move.expected:
            return None
        if move.stale_before is not None and (job.heartbeat_at is None or job.heartbeat_at >= move.stale_before):
            return None
        change = move.change
        values: dict[str, Any] = {
            name: getattr(change, name)
            for name in ("rows", "result", "error", "output_loc", "runner_id")
            if getattr(change, name) is not None
        }
        if change.clear_runner:
            values["runner_id"] = None
        if change.started:
            values["started_at"] = now
        if change.ended:
            values["ended_at"] = now
        if change.release_attempt:
            values["attempts"] = job.attempts - 1
        moved = replace(job, state=move.target, state_changed_at=now, version=job.version + 1, **values)
        self.rows[job.id] = moved
        if change.deleted:
            self.deleted.add(job.id)
        stage = "delete" if change.deleted else move.action.value
        event = (moved.version, stage, move.status, move.expected, move.target, now, move.actor)
        self.history.append(JobEvent(moved.id, *event, move.protocol, move.reason))
        return moved

    def transition_all(self, moves: Sequence[Transition], now: datetime) -> set[int]:
        return {job.id for move in moves if (job := self.transition(move, now)) is not None}

    def events(self, job_id: int) -> list[JobEvent]:
        return sorted((e for e in self.history if e.job_id == job_id), key=lambda e: e.seq)

    def events_of(self, job_ids: Collection[int]) -> dict[int, list[JobEvent]]:
        found = {job_id: self.events(job_id) for job_id in set(job_ids)}
        return {job_id: events for job_id, events in found.items() if events}

    def claim_next(self, runner_id: str, now: datetime, tasks: Collection[str]) -> Job | None:
        _instant(now)
        for job in self.list_jobs(JobFilter(states=frozenset({JobState.SUBMITTED}))):
            if job.synchronous or job.task not in tasks:
                continue
            claimed = replace(
                job, state=JobState.EXECUTING, runner_id=runner_id, heartbeat_at=now, started_at=now,
                state_changed_at=now, attempts=job.attempts + 1, version=job.version + 1,
            )  # fmt: skip
            self.rows[job.id] = claimed
            reason = None if claimed.attempts == 1 else f"attempt {claimed.attempts}"
            self._append(
                claimed, "start", JobState.SUBMITTED, at=now, actor="system",
                protocol=Channel.RUNNER, reason=reason,
            )  # fmt: skip
            return claimed
        return None

    def heartbeat(self, job_ids: Collection[int], runner_id: str, now: datetime) -> None:
        _instant(now)
        for job_id in job_ids:
            job = self.rows.get(job_id)
            if job is not None and job.runner_id == runner_id:
                self.rows[job_id] = replace(job, heartbeat_at=now)

    def states_of(self, job_ids: Collection[int]) -> dict[int, JobState]:
        return {job_id: self.rows[job_id].state for job_id in job_ids if job_id in self.rows}

    def stale(self, states: Collection[JobState], heartbeat_before: datetime) -> list[Job]:
        _instant(heartbeat_before)
        return [
            job
            for _, job in sorted(self.rows.items())
            if job.state in states
            and not job.synchronous
            and job.heartbeat_at is not None
            and job.heartbeat_at < heartbeat_before
        ]

    def stuck(self, state: JobState, changed_before: datetime) -> list[Job]:
        _instant(changed_before)
        return [
            job
            for _, job in sorted(self.rows.items())
            if job.state is state and job.state_changed_at is not None and job.state_changed_at < changed_before
        ]

    def count_by_state(self) -> dict[JobState, int]:
        counts = dict.fromkeys(JobState, 0)
        for job in self.rows.values():
            counts[job.state] += 1
        return counts

    # -- for tests: put a job straight into a state, as if earlier requests had moved it ----------------
    def force(self, job_id: int, **values: Any) -> Job:
        job = replace(self.rows[job_id], **values)
        self.rows[job_id] = job
        return job


class FakeUserRepository:
    def __init__(self) -> None:
        self.rows: dict[str, User] = {}
        self.alias_rows: dict[tuple[str, str], str] = {}  # (kind, value) → user name

    def add(self, user: User, now: datetime) -> None:
        _instant(now)
        if user.name in self.rows:
            raise Conflict(f"User {user.name} already exists.")
        self.rows[user.name] = user

    def by_name(self, name: str) -> User | None:
        return self.rows.get(name)

    def set_password(self, name: str, password_hash: str, now: datetime) -> bool:
        _instant(now)
        if name not in self.rows:
            return False
        self.rows[name] = replace(self.rows[name], password_hash=password_hash)
        return True

    def all(self) -> Sequence[User]:
        return sorted(self.rows.values(), key=lambda u: u.name)

    def add_alias(self, name: str, kind: str, value: str) -> None:
        if (kind, value) in self.alias_rows or self.alias(name, kind) is not None:
            raise Conflict(f"{kind} {value} is already taken.")
        self.alias_rows[(kind, value)] = name

    def by_alias(self, kind: str, value: str) -> User | None:
        name = self.alias_rows.get((kind, value))
        return None if name is None else self.rows.get(name)

    def alias(self, name: str, kind: str) -> str | None:
        return next((v for (k, v), owner in self.alias_rows.items() if k == kind and owner == name), None)

    def aliases(self, kind: str, names: Collection[str]) -> dict[str, str]:
        return {owner: v for (k, v), owner in self.alias_rows.items() if k == kind and owner in names}

    def highest_number_alias(self, kind: str) -> int:
        return max((int(v) for (k, v) in self.alias_rows if k == kind), default=0)


class FakeTokenRepository:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, str, datetime]] = {}  # digest → (owner, kind, expires_at)

    def add(self, token_hash: str, owner: str, kind: str, now: datetime, expires_at: datetime) -> None:
        _instant(now, expires_at)
        self.rows[token_hash] = (owner, kind, expires_at)

    def live(self, token_hash: str, kind: str, now: datetime) -> tuple[str, datetime] | None:
        _instant(now)
        entry = self.rows.get(token_hash)
        if entry is None or entry[1] != kind or entry[2] <= now:
            return None
        return entry[0], entry[2]

    def extend(self, token_hash: str, expires_at: datetime) -> None:
        owner, kind, _ = self.rows[token_hash]
        self.rows[token_hash] = (owner, kind, expires_at)

    def expired(self, token_hash: str, kind: str, now: datetime) -> bool:
        entry = self.rows.get(token_hash)
        return entry is not None and entry[1] == kind and entry[2] <= now

    def revoke(self, token_hash: str) -> bool:
        return self.rows.pop(token_hash, None) is not None


class FakeUnitOfWork:
    """Both the unit of work and its factory: writes are kept only if commit() was called."""

    def __init__(self) -> None:
        self.jobs = FakeJobRepository()
        self.users = FakeUserRepository()
        self.tokens = FakeTokenRepository()
        self.commits = 0
        self.opened = {"read": 0, "write": 0}  # units of work entered, by kind (a read takes no write lock)
        self._write = True
        self._saved: dict[str, Any] | None = None

    def __call__(self, *, write: bool = True) -> "FakeUnitOfWork":
        self._write = write
        return self

    def _snapshot(self) -> dict[str, Any]:
        return {
            "jobs": dict(self.jobs.rows),
            "deleted": set(self.jobs.deleted),
            "history": list(self.jobs.history),
            "users": dict(self.users.rows),
            "aliases": dict(self.users.alias_rows),
            "tokens": dict(self.tokens.rows),
        }

    def __enter__(self) -> "FakeUnitOfWork":
        # a nested unit of work would be a second connection: on SQLite it would wait on the first
        assert self._saved is None, "a unit of work was opened inside another one"
        self.opened["write" if self._write else "read"] += 1
        self._write = True
        self._saved = self._snapshot()
        return self

    def commit(self) -> None:
        assert self._saved is not None, "commit() outside a unit of work"
        self.commits += 1
        self._saved = self._snapshot()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        saved, self._saved = self._saved, None
        assert saved is not None
        self.jobs.rows, self.jobs.deleted, self.jobs.history = (
            saved["jobs"],
            saved["deleted"],
            saved["history"],
        )
        self.users.rows, self.users.alias_rows, self.tokens.rows = saved["users"], saved["aliases"], saved["tokens"]


class FakeCancelSignal:
    """Records the jobs the service said turned Canceling (the CancelSignal port)."""

    def __init__(self) -> None:
        self.jobs: list[int] = []

    def canceling(self, job_id: int) -> None:
        self.jobs.append(job_id)


class FakeSubmitSignal:
    """Records the jobs the service said it queued (the SubmitSignal port)."""

    def __init__(self) -> None:
        self.jobs: list[int] = []

    def submitted(self, job_id: int) -> None:
        self.jobs.append(job_id)
