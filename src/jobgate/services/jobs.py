"""JobService: submit, look up, cancel and the rest, for every dialect, the CLI and the runners."""

import secrets
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from jobgate.domain.errors import (
    BadCredentials,
    Conflict,
    InvalidRequest,
    JobNotFound,
    NotOwner,
    TaskFailed,
    TransitionRefused,
)
from jobgate.domain.model import (
    Actor,
    Change,
    Channel,
    Credentials,
    Job,
    JobEvent,
    JobFilter,
    JobSpec,
    Outcome,
    TaskResult,
    Transition,
    User,
    ignores_cancel,
    may_read,
    may_write,
)
from jobgate.domain.ports import (
    CancelSignal,
    Clock,
    PasswordHasher,
    TaskExecutor,
    UnitOfWork,
    UnitOfWorkFactory,
)
from jobgate.domain.states import ACTIVE, Action, JobState, moving_sources, next_state
from jobgate.services.auth import Authenticator

JobRef = int | str  # an integer id, or a 32-hex key

_ALL = JobFilter()
_NO_CHANGE = Change()
_MAX_RETRIES = 8  # re-reads after a lost compare-and-set; each loss means another request moved the job


@dataclass(frozen=True, slots=True)
class Runtime:
    """Timing rules the runners and the watchdog apply."""

    cancel_grace_s: float = 10.0
    cancel_margin_s: float = 5.0
    heartbeat_s: float = 1.0
    stale_after_s: float = 5.0
    quick_timeout_s: float = 60.0


class _NoSignal:
    def canceling(self, job_id: int) -> None:
        return None


class JobService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        hasher: PasswordHasher,
        auth: Authenticator,
        runtime: Runtime = Runtime(),
        executor: TaskExecutor | None = None,
        signal: CancelSignal | None = None,
        observe: Callable[[Action, Channel], None] | None = None,
    ) -> None:
        self._uow, self._clock, self._hasher, self.auth = uow, clock, hasher, auth
        self.runtime = runtime
        self._executor = executor
        self._signal: CancelSignal = signal or _NoSignal()
        self._observe = observe or (lambda action, protocol: None)

    # -- wiring that needs the runner package (composition root only) --------------------------------
    def attach(self, executor: TaskExecutor | None = None, signal: CancelSignal | None = None) -> None:
        if executor is not None:
            self._executor = executor
        if signal is not None:
            self._signal = signal

    # -- users ----------------------------------------------------------------------------------------
    def authenticate(self, creds: Credentials, protocol: Channel) -> Actor:
        return Actor.of(self.auth.authenticate(creds), protocol)

    def add_user(self, name: str, password: str, wsid: int | None = None, groups: Iterable[str] = ()) -> User:
        if not name or not password:
            raise InvalidRequest("A user needs a name and a password.")
        if wsid is not None and wsid <= 0:
            raise InvalidRequest("A wsid is a positive number.")
        hashed = self._hasher.hash(password)
        with self._uow() as uow:
            if uow.users.by_name(name) is not None:
                raise Conflict(f"User {name} already exists.")
            if wsid is not None and uow.users.by_wsid(wsid) is not None:
                raise Conflict(f"wsid {wsid} is already taken.")
            user = User(name, wsid if wsid is not None else uow.users.next_wsid(), hashed, frozenset(groups))
            uow.users.add(user, self._clock.now())
            uow.commit()
        return user

    def set_password(self, name: str, password: str) -> None:
        hashed = self._hasher.hash(password)
        with self._uow() as uow:
            if not uow.users.set_password(name, hashed, self._clock.now()):
                raise InvalidRequest(f"No user {name}.")
            uow.commit()
        self.auth.forget(name)

    def user(self, name: str) -> User | None:
        with self._uow(write=False) as uow:
            return uow.users.by_name(name)

    def user_by_wsid(self, wsid: int) -> User | None:
        with self._uow(write=False) as uow:
            return uow.users.by_wsid(wsid)

    def check_login(self, creds: Credentials) -> User | None:
        """The user these credentials prove, or None (for protocols that answer a bad login with a value)."""
        try:
            return self.auth.authenticate(creds)
        except BadCredentials:
            return None

    # -- reading --------------------------------------------------------------------------------------
    def get(self, actor: Actor, ref: JobRef) -> Job:
        with self._uow(write=False) as uow:
            return self._readable(actor, self._load(uow, ref))

    def find(self, actor: Actor, ref: JobRef) -> Job | None:
        """Like get(), but an unknown job is None rather than an error."""
        with self._uow(write=False) as uow:
            job = self._find(uow, ref)
            return None if job is None else self._readable(actor, job)

    def finished_output(self, key: str, task: str) -> str | None:
        """The output location of the Finished job with this key if it ran `task`, else None. No actor: the
        32-hex key is the capability (CasJobs serves extract files to whoever holds the URL)."""
        with self._uow(write=False) as uow:
            job = self._find(uow, key)
        if job is None or job.task != task or job.state is not JobState.FINISHED:
            return None
        return job.output_loc

    def list_jobs(self, actor: Actor, where: JobFilter = _ALL) -> list[Job]:
        if not actor.is_admin:
            where = replace(where, owner=actor.name)
        with self._uow(write=False) as uow:
            return uow.jobs.list_jobs(where)

    def history(self, actor: Actor, ref: JobRef) -> tuple[Job, list[JobEvent]]:
        with self._uow(write=False) as uow:
            job = self._readable(actor, self._load(uow, ref))
            return job, uow.jobs.events(job.id)

    def ready(self) -> bool:
        """True when the store answers a query."""
        with self._uow(write=False) as uow:
            uow.jobs.get(0)
        return True

    def count_by_state(self) -> dict[JobState, int]:
        with self._uow(write=False) as uow:
            return uow.jobs.count_by_state()

    # -- writing --------------------------------------------------------------------------------------
    def submit(self, actor: Actor, spec: JobSpec) -> Job:
        if not spec.task:
            raise InvalidRequest("A job needs a task.")
        with self._uow() as uow:
            job = uow.jobs.add(spec, actor.name, secrets.token_hex(16), self._clock.now(), actor.name, actor.protocol)
            uow.commit()
        return job

    def cancel(self, actor: Actor, ref: JobRef, reason: str | None = None) -> Outcome:
        """Ask a job to stop: Submitted|Suspended → Cancelled, Executing → Canceling (the runner ends it)."""
        outcome = self.cancel_if_exists(actor, ref, reason)
        if outcome is None:
            raise JobNotFound(ref)
        return outcome

    def cancel_if_exists(self, actor: Actor, ref: JobRef, reason: str | None = None) -> Outcome | None:
        """Like cancel(), but an unknown job is None, not an error (CasJobs: "does nothing")."""
        with self._uow() as uow:
            found = self._find(uow, ref)
            if found is None:
                return None
            job = self._writable(actor, found)
            if ignores_cancel(job):
                return Outcome(job, job.state, job.state, changed=False)
            outcome = self._apply(uow, job, Action.CANCEL, actor, reason)
            uow.commit()
        if outcome.changed and outcome.current in ACTIVE:
            self._signal.canceling(job.id)
        return outcome

    def cancel_many(self, actor: Actor, where: JobFilter, reason: str | None = None) -> list[Outcome]:
        """Cancel every job the filter selects that the actor may write: one compare-and-set per source
        state for all of them, in one transaction. Jobs already Canceling or final are left as they are."""
        if not actor.is_admin:
            where = replace(where, owner=actor.name)
        with self._uow() as uow:
            cancellable = moving_sources(Action.CANCEL)
            candidates = [j for j in uow.jobs.list_jobs(where) if j.state in cancellable and not ignores_cancel(j)]
            moves = [self._move(job, Action.CANCEL, actor, reason, _NO_CHANGE) for job in candidates]
            now = self._clock.now()
            moved = uow.jobs.transition_all(moves, now) if moves else set()
            uow.commit()
        outcomes = [
            Outcome(replace(job, state=move.target, state_changed_at=now, version=job.version + 1), job.state,
                    move.target, changed=True)
            for job, move in zip(candidates, moves, strict=True)
            if job.id in moved
        ]  # fmt: skip
        for outcome in outcomes:
            self._observe(Action.CANCEL, actor.protocol)
            if outcome.current in ACTIVE:
                self._signal.canceling(outcome.job.id)
        return outcomes

    def suspend(self, actor: Actor, ref: JobRef, reason: str | None = None) -> Outcome:
        return self._act(actor, ref, Action.SUSPEND, reason)

    def resume(self, actor: Actor, ref: JobRef, reason: str | None = None) -> Outcome:
        return self._act(actor, ref, Action.RESUME, reason)

    def delete(self, actor: Actor, ref: JobRef, reason: str | None = None) -> Outcome:
        """Hide a finished, cancelled or failed job; its history stays in the store."""
        return self._act(actor, ref, Action.DELETE, reason, Change(deleted=True))

    def execute(self, actor: Actor, spec: JobSpec, timeout_s: float | None = None) -> tuple[Job, TaskResult]:
        """Run a synchronous (quick) job inside this call and record it like any other job."""
        if self._executor is None or not self._executor.knows(spec.task):
            raise InvalidRequest(f"Task {spec.task!r} cannot run synchronously here.")
        job = self.submit(actor, replace(spec, synchronous=True))
        system = Actor.system()
        job = self._system_move(job, Action.START, system, Change(started=True)).job
        try:
            result = self._executor.run_now(job, timeout_s or self.runtime.quick_timeout_s)
        except TaskFailed as failure:
            self._system_move(job, Action.FAIL, system, Change(error=str(failure), ended=True), str(failure))
            raise
        change = Change(rows=result.rows, result=result.summary, output_loc=result.output_loc, ended=True)
        return self._system_move(job, Action.FINISH, system, change).job, result

    def _act(
        self, actor: Actor, ref: JobRef, action: Action, reason: str | None, change: Change = _NO_CHANGE
    ) -> Outcome:
        with self._uow() as uow:
            job = self._writable(actor, self._load(uow, ref))
            outcome = self._apply(uow, job, action, actor, reason, change)
            uow.commit()
        return outcome

    # -- the runners' side ----------------------------------------------------------------------------
    def claim_next(self, runner_id: str, tasks: Collection[str]) -> Job | None:
        with self._uow() as uow:
            job = uow.jobs.claim_next(runner_id, self._clock.now(), tasks)
            uow.commit()
        if job is not None:
            self._observe(Action.START, Channel.RUNNER)
        return job

    def heartbeat(self, runner_id: str, job_ids: Collection[int]) -> None:
        if not job_ids:
            return
        with self._uow() as uow:
            uow.jobs.heartbeat(job_ids, runner_id, self._clock.now())
            uow.commit()

    def states_of(self, job_ids: Collection[int]) -> dict[int, JobState]:
        if not job_ids:
            return {}
        with self._uow(write=False) as uow:
            return uow.jobs.states_of(job_ids)

    def finish(self, job: Job, result: TaskResult) -> Outcome:
        """Record a task's normal end; if a cancel won the race meanwhile, the job ends Cancelled."""
        change = Change(rows=result.rows, result=result.summary, output_loc=result.output_loc, ended=True)
        return self._end(job, Action.FINISH, change, None)

    def fail(self, job: Job, error: str) -> Outcome:
        return self._end(job, Action.FAIL, Change(error=error, ended=True), error)

    def cancel_done(self, job: Job, reason: str | None = None) -> Outcome:
        return self._system_move(job, Action.CANCEL_DONE, Actor.system(), _ENDED, reason)

    def release(self, job: Job, reason: str) -> Outcome:
        """Hand a job back when its runner shuts down: Executing → Submitted, or finish a pending cancel."""
        return self._end(job, Action.REQUEUE, Change(release_attempt=True), reason, reason)

    def _end(
        self, job: Job, action: Action, change: Change, reason: str | None, stopped: str | None = "task stopped"
    ) -> Outcome:
        """A runner's last word on its job; it frees the runner. A cancel that arrived first completes instead
        (Canceling → Cancelled), also one that lands between the read and the compare-and-set: the loser
        decides again."""
        with self._uow() as uow:
            current = self._load(uow, job.id)
            prior = current.state
            for _ in range(_MAX_RETRIES):
                if next_state(current.state, Action.CANCEL_DONE) is None:
                    step = (action, reason, replace(change, clear_runner=True))
                else:  # the task stopping (for whatever reason) completes the cancel
                    step = (Action.CANCEL_DONE, stopped, _ENDED)
                outcome = self._attempt(uow, current, prior, step[0], Actor.system(), step[1], step[2])
                if outcome is not None:
                    break
                current = self._load(uow, job.id)
            else:
                raise TransitionRefused(job.id, current.state, action)
            uow.commit()
        return outcome

    def _system_move(
        self, job: Job, action: Action, actor: Actor, change: Change, reason: str | None = None
    ) -> Outcome:
        with self._uow() as uow:
            outcome = self._apply(uow, self._load(uow, job.id), action, actor, reason, change)
            uow.commit()
        return outcome

    def sweep(self) -> list[Outcome]:
        """Resolve jobs whose runner died (stale heartbeat) and jobs stuck Canceling past the grace.

        Canceling → Cancelled (the task is gone with its runner); Executing → Submitted for one retry,
        Failed if it was already retried; Canceling past grace + margin with a live runner → Failed.
        """
        now = self._clock.now()
        stale_before = now - timedelta(seconds=self.runtime.stale_after_s)
        stuck_before = now - timedelta(seconds=self.runtime.cancel_grace_s + self.runtime.cancel_margin_s)
        system, outcomes = Actor.system(), []
        with self._uow(write=False) as uow:
            stale = uow.jobs.stale(ACTIVE, stale_before)
            stuck = uow.jobs.stuck(JobState.CANCELING, stuck_before)
        for job in stale:
            outcomes += self._resolve_orphan(job, system, stale_before)
        for job in stuck:
            reason = f"cancel did not complete within {self.runtime.cancel_grace_s:g} s"
            outcomes += self._try(job, Action.FAIL, system, Change(error=reason, ended=True, clear_runner=True), reason)
        return outcomes

    def _resolve_orphan(self, job: Job, system: Actor, stale_before: datetime) -> list[Outcome]:
        """Only while the heartbeat is still stale: a beat or a new claim since the read keeps the job."""
        reason = f"runner {job.runner_id} stopped responding"
        if next_state(job.state, Action.CANCEL_DONE):
            return self._try(job, Action.CANCEL_DONE, system, _ENDED, reason, stale_before)
        if job.attempts < 2:
            change = Change(clear_runner=True)
            return self._try(job, Action.REQUEUE, system, change, reason + "; retrying once", stale_before)
        error = reason + "; already retried once"
        change = Change(error=error, ended=True, clear_runner=True)
        return self._try(job, Action.FAIL, system, change, error, stale_before)

    def _try(
        self, job: Job, action: Action, actor: Actor, change: Change, reason: str, stale_before: datetime | None = None
    ) -> list[Outcome]:
        """One compare-and-set from exactly the state read; a lost race means someone else resolved it."""
        move = replace(self._move(job, action, actor, reason, change), stale_before=stale_before)
        with self._uow() as uow:
            moved = uow.jobs.transition(move, self._clock.now())
            uow.commit()
        if moved is None:
            return []
        self._observe(action, actor.protocol)
        return [Outcome(moved, job.state, moved.state, changed=True)]

    # -- the one place the state machine is applied ---------------------------------------------------
    def _apply(
        self,
        uow: UnitOfWork,
        job: Job,
        action: Action,
        actor: Actor,
        reason: str | None,
        change: Change = _NO_CHANGE,
    ) -> Outcome:
        prior = job.state
        for _ in range(_MAX_RETRIES):
            outcome = self._attempt(uow, job, prior, action, actor, reason, change)
            if outcome is not None:
                return outcome
            job = self._load(uow, job.id)  # another request moved it first: decide again on what it did
        raise TransitionRefused(job.id, job.state, action)

    def _attempt(
        self, uow: UnitOfWork, job: Job, prior: JobState, action: Action, actor: Actor, reason: str | None,
        change: Change,
    ) -> Outcome | None:  # fmt: skip
        """One compare-and-set from the state read; None when another request moved the job first."""
        target = next_state(job.state, action)
        if target is None:
            raise TransitionRefused(job.id, job.state, action)
        if target is job.state and not change.deleted:
            return Outcome(job, prior, job.state, changed=False)
        moved = uow.jobs.transition(self._move(job, action, actor, reason, change), self._clock.now())
        if moved is None:
            return None
        self._observe(action, actor.protocol)
        return Outcome(moved, prior, moved.state, changed=True)

    @staticmethod
    def _move(job: Job, action: Action, actor: Actor, reason: str | None, change: Change) -> Transition:
        target = next_state(job.state, action)
        assert target is not None
        return Transition(job.id, action, job.state, target, actor.name, actor.protocol, reason, change=change)

    @staticmethod
    def _find(uow: UnitOfWork, ref: JobRef) -> Job | None:
        if isinstance(ref, int):
            return uow.jobs.get(ref)
        if len(ref) == 32 and all(c in "0123456789abcdef" for c in ref):
            return uow.jobs.get_by_key(ref)
        return None

    def _load(self, uow: UnitOfWork, ref: JobRef) -> Job:
        job = self._find(uow, ref)
        if job is None:
            raise JobNotFound(ref)
        return job

    @staticmethod
    def _readable(actor: Actor, job: Job) -> Job:
        if not may_read(actor, job):
            raise NotOwner(job.id, actor.name)
        return job

    @staticmethod
    def _writable(actor: Actor, job: Job) -> Job:
        if not may_write(actor, job):
            raise NotOwner(job.id, actor.name)
        return job


_ENDED = Change(ended=True, clear_runner=True)

__all__ = ["BadCredentials", "JobRef", "JobService", "Runtime"]
