"""The interfaces the job core needs from the outside world; adapters implement them."""

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
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

    def count_jobs(self, where: JobFilter) -> int:
        """How many jobs `list_jobs` would select without `offset` and `limit`."""
        ...

    def transition(self, move: Transition, now: datetime) -> Job | None:
        """Compare-and-set plus its event; the moved job, or None when the state was not `expected`."""
        ...

    def transition_all(self, moves: Sequence[Transition], now: datetime) -> set[int]:
        """Many compare-and-sets sharing one action, actor and change, with their events, in a few
        statements; the ids of the jobs that moved (one another request moved first is left out)."""
        ...

    def events(self, job_id: int) -> list[JobEvent]: ...

    def events_of(self, job_ids: Collection[int]) -> dict[int, list[JobEvent]]:
        """The events of each of these jobs, in seq order, in one read; a job with none (or unknown) is absent."""
        ...

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

    def set_password(self, name: str, password_hash: str, now: datetime) -> bool: ...

    def all(self) -> Sequence[User]: ...

    def add_alias(self, name: str, kind: str, value: str) -> None:
        """Record that user `name` is also known as `value` in namespace `kind` (at most one per kind)."""
        ...

    def by_alias(self, kind: str, value: str) -> User | None: ...

    def alias(self, name: str, kind: str) -> str | None: ...

    def aliases(self, kind: str, names: Collection[str]) -> dict[str, str]:
        """The `kind` aliases of the named users that have one."""
        ...

    def highest_number_alias(self, kind: str) -> int:
        """The largest alias of `kind` read as a number (aliases of a numeric kind are plain decimals); 0 if none."""
        ...


class TokenRepository(Protocol):
    def add(self, token_hash: str, owner: str, kind: str, now: datetime, expires_at: datetime) -> None: ...

    def live(self, token_hash: str, kind: str, now: datetime) -> tuple[str, datetime] | None:
        """The owner and expiry of a live token of this kind (not expired, not revoked), else None."""
        ...

    def extend(self, token_hash: str, expires_at: datetime) -> None: ...

    def expired(self, token_hash: str, kind: str, now: datetime) -> bool:
        """True when a token of this kind was issued and has run out (read only after a refused check)."""
        ...

    def revoke(self, token_hash: str) -> bool:
        """Forget a token; True if it existed."""
        ...


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


class RunNow(Protocol):
    def __call__(self, job: Job, timeout_s: float) -> TaskResult:
        """Run the job's task and wait for it; TaskFailed when it fails or outlives `timeout_s`."""
        ...


class TaskExecutor(Protocol):
    """Runs synchronous jobs' tasks for their callers, on threads of its own and a bounded number at a time."""

    def admit(self) -> AbstractContextManager[RunNow]:
        """Hold a place for one synchronous job until the block ends; Busy when every place is taken."""
        ...

    def knows(self, task: str) -> bool: ...


class CancelSignal(Protocol):
    """Tells in-process runners at once that a job they may hold turned Canceling."""

    def canceling(self, job_id: int) -> None: ...


class SubmitSignal(Protocol):
    """Tells in-process runners at once that a job was queued, so an idle one claims it without waiting for its
    next poll (runners in other processes still find it by polling)."""

    def submitted(self, job_id: int) -> None: ...


class ChangeListener(Protocol):
    """Hears, after each committed transition made through this process, which job changed state."""

    def __call__(self, job_id: int) -> None: ...


class Peers(Protocol):
    """Tells the other processes sharing the store at once (PostgreSQL: NOTIFY) that a job turned Canceling or
    was queued. Best effort: a message lost costs only latency, because runners still poll the store."""

    def canceling(self, job_id: int) -> None: ...

    def submitted(self, job_id: int) -> None: ...


class PeerListener(Protocol):
    """Hears what the other processes sharing the store tell (PostgreSQL: LISTEN on a session of its own)."""

    def listen(self, canceling: Callable[[int], None], submitted: Callable[[int], None]) -> None:
        """Call these, from a thread of the listener's own, for each job another process reports; until close()."""
        ...

    def close(self) -> None:
        """Send what is queued, stop listening."""
        ...
