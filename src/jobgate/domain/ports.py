"""The interfaces the job core needs from the outside world; adapters implement them."""

from collections.abc import Collection, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol

from jobgate.domain.model import (
    Channel,
    Job,
    JobEvent,
    JobFilter,
    JobSpec,
    TaskResult,
    Transition,
    User,
)
from jobgate.domain.states import JobState


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC, truncated to milliseconds."""
        ...

    def monotonic(self) -> float: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, hashed: str, password: str) -> bool: ...


class JobRepository(Protocol):
    def add(self, spec: JobSpec, owner: str, key: str, now: datetime, actor: str, protocol: Channel) -> Job:
        """Insert a Submitted job and its first event."""
        ...

    def get(self, job_id: int) -> Job | None: ...

    def get_by_key(self, key: str) -> Job | None: ...

    def list_jobs(self, where: JobFilter) -> list[Job]: ...

    def transition(self, move: Transition, now: datetime) -> Job | None:
        """Compare-and-set plus its event; the moved job, or None when the state was not `expected`."""
        ...

    def transition_all(self, moves: Sequence[Transition], now: datetime) -> set[int]:
        """Many compare-and-sets sharing one action, actor and change, with their events, in a few
        statements; the ids of the jobs that moved (one another request moved first is left out)."""
        ...

    def events(self, job_id: int) -> list[JobEvent]: ...

    def claim_next(self, runner_id: str, now: datetime, tasks: Collection[str]) -> Job | None:
        """Move the oldest Submitted job of a known task to Executing for this runner; one winner."""
        ...

    def heartbeat(self, job_ids: Collection[int], runner_id: str, now: datetime) -> None: ...

    def states_of(self, job_ids: Collection[int]) -> dict[int, JobState]: ...

    def stale(self, states: Collection[JobState], heartbeat_before: datetime) -> list[Job]:
        """Jobs a runner holds whose heartbeat is older than `heartbeat_before`."""
        ...

    def stuck(self, state: JobState, changed_before: datetime) -> list[Job]: ...

    def count_by_state(self) -> dict[JobState, int]: ...


class UserRepository(Protocol):
    def add(self, user: User, now: datetime) -> None:
        """Raises Conflict when the name or the wsid is taken."""
        ...

    def by_name(self, name: str) -> User | None: ...

    def by_wsid(self, wsid: int) -> User | None: ...

    def set_password(self, name: str, password_hash: str, now: datetime) -> bool: ...

    def next_wsid(self) -> int: ...

    def all(self) -> Sequence[User]: ...


class TokenRepository(Protocol):
    def add(self, token_hash: str, owner: str, kind: str, now: datetime, expires_at: datetime) -> None: ...

    def owner_of(self, token_hash: str, now: datetime) -> str | None: ...

    def revoke(self, token_hash: str) -> None: ...


class UnitOfWork(Protocol):
    """One transaction: commit() keeps its writes, leaving the block without it rolls them back."""

    @property
    def jobs(self) -> JobRepository: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def tokens(self) -> TokenRepository: ...

    def __enter__(self) -> "UnitOfWork": ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool = True) -> UnitOfWork: ...


class TaskExecutor(Protocol):
    """Runs a synchronous job's task inside the caller's request."""

    def run_now(self, job: Job, timeout_s: float) -> TaskResult: ...

    def knows(self, task: str) -> bool: ...


class CancelSignal(Protocol):
    """Tells in-process runners at once that a job they may hold turned Canceling."""

    def canceling(self, job_id: int) -> None: ...
