"""What clients ask, whichever dialect or the CLI they come through: submit, look up, list, cancel, suspend,
resume, delete, and run a quick job inside the call. Ownership is decided here, for every dialect."""

import secrets
from collections.abc import Callable, Collection
from dataclasses import replace

from jobgate.domain.errors import InvalidRequest, JobNotFound, TaskFailed, TransitionRefused
from jobgate.domain.model import (
    Actor,
    Change,
    Job,
    JobEvent,
    JobFilter,
    JobSpec,
    Outcome,
    TaskResult,
    ignores_cancel,
    may_write,
)
from jobgate.domain.ports import (
    CancelSignal,
    ChangeListener,
    Clock,
    Peers,
    SubmitSignal,
    TaskExecutor,
    UnitOfWorkFactory,
)
from jobgate.domain.states import ACTIVE, Action, JobState, moving_sources, next_state
from jobgate.services.runtime import Runtime
from jobgate.services.transitions import NO_CHANGE, JobRef, Transitions, find, load, move, readable, writable

_ALL = JobFilter()
# a dialect's rule for which job a request names beyond its id (Trans-WS: the ticket's project and owner); a
# job it rejects is treated as unknown, in the same unit of work as the change
Named = Callable[[Job], bool]
_CANCEL_ROUNDS = 3  # a bulk cancel re-reads the jobs others moved under it, at most this many times


def visible(actor: Actor, where: JobFilter) -> JobFilter:
    """`where` narrowed to the jobs `actor` may see: their own, or every job for an administrator."""
    return where if actor.is_admin else replace(where, owner=actor.name)


class _NoSignal:
    def canceling(self, job_id: int) -> None:
        return None

    def submitted(self, job_id: int) -> None:
        return None


class JobService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        transitions: Transitions,
        runtime: Runtime,
        executor: TaskExecutor | None = None,
        signal: CancelSignal | None = None,
    ) -> None:
        self._uow, self._clock, self._transitions, self.runtime = uow, clock, transitions, runtime
        self._executor = executor
        self._signal: CancelSignal = signal or _NoSignal()
        self._submitted: SubmitSignal = _NoSignal()
        self._peers: Peers = _NoSignal()

    def attach(
        self,
        executor: TaskExecutor | None = None,
        signal: CancelSignal | None = None,
        submitted: SubmitSignal | None = None,
        peers: Peers | None = None,
    ) -> None:
        """Wiring that needs the runner package or the store (composition root only): this process's runners
        (signal, submitted) and the other processes' (peers) hear of cancels and new jobs at once."""
        if peers is not None:
            self._peers = peers
        if executor is not None:
            self._executor = executor
        if signal is not None:
            self._signal = signal
        if submitted is not None:
            self._submitted = submitted

    def watch(self, listener: ChangeListener) -> None:
        """Hear every committed state change this process makes, after its commit (Transitions.watch)."""
        self._transitions.watch(listener)

    def knows_task(self, task: str) -> bool:
        """True when this build runs `task` (a dialect that names tasks on the wire refuses the others)."""
        return self._executor is not None and self._executor.knows(task)

    def states_of(self, job_ids: Collection[int]) -> dict[int, JobState]:
        """The current states of these jobs, in one read (hidden ones too): what a waiter re-reads."""
        if not job_ids:
            return {}
        with self._uow(write=False) as uow:
            return uow.jobs.states_of(job_ids)

    def _tell_canceling(self, job_id: int) -> None:
        self._signal.canceling(job_id)
        self._peers.canceling(job_id)

    def _tell_submitted(self, job_id: int) -> None:
        self._submitted.submitted(job_id)
        self._peers.submitted(job_id)

    # -- reading --------------------------------------------------------------------------------------
    def get(self, actor: Actor, ref: JobRef) -> Job:
        with self._uow(write=False) as uow:
            return readable(actor, load(uow, ref))

    def find(self, actor: Actor, ref: JobRef) -> Job | None:
        """Like get(), but an unknown job is None rather than an error."""
        with self._uow(write=False) as uow:
            job = find(uow, ref)
            return None if job is None else readable(actor, job)

    def finished_output(self, key: str, task: str) -> str | None:
        """The output location of the Finished job with this key if it ran `task`, else None. No actor: the
        32-hex key is the capability (CasJobs serves extract files to whoever holds the URL)."""
        with self._uow(write=False) as uow:
            job = find(uow, key)
        if job is None or job.task != task or job.state is not JobState.FINISHED:
            return None
        return job.output_loc

    def list_jobs(self, actor: Actor, where: JobFilter = _ALL) -> list[Job]:
        with self._uow(write=False) as uow:
            return uow.jobs.list_jobs(visible(actor, where))

    def page_of_jobs(self, actor: Actor, where: JobFilter) -> tuple[int, list[Job]]:
        """(how many jobs the filter selects without its offset and limit, the page it selects), read together."""
        where = visible(actor, where)
        with self._uow(write=False) as uow:
            return uow.jobs.count_jobs(where), uow.jobs.list_jobs(where)

    def list_histories(self, actor: Actor, where: JobFilter = _ALL) -> list[tuple[Job, list[JobEvent]]]:
        """The jobs `list_jobs` selects, each with its history, read in one unit of work."""
        with self._uow(write=False) as uow:
            found = uow.jobs.list_jobs(visible(actor, where))
            events = uow.jobs.events_of([job.id for job in found]) if found else {}
        return [(job, events.get(job.id, [])) for job in found]

    def history(self, actor: Actor, ref: JobRef) -> tuple[Job, list[JobEvent]]:
        with self._uow(write=False) as uow:
            job = readable(actor, load(uow, ref))
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
        if not job.synchronous:
            self._tell_submitted(job.id)  # after the commit, so the runner it wakes finds the job
        return job

    def cancel(
        self,
        actor: Actor,
        ref: JobRef,
        reason: str | None = None,
        only_from: frozenset[JobState] | None = None,
        named: Named | None = None,
    ) -> Outcome:
        """Ask a job to stop: Submitted|Suspended → Cancelled, Executing → Canceling (the runner ends it).
        `only_from` narrows the states a cancel is accepted from (a dialect's stricter rule); any other
        state is refused as the table would refuse it. A job `named` rejects is unknown (JobNotFound)."""
        outcome = self.cancel_if_exists(actor, ref, reason, only_from, named)
        if outcome is None:
            raise JobNotFound(ref)
        return outcome

    def cancel_if_exists(
        self,
        actor: Actor,
        ref: JobRef,
        reason: str | None = None,
        only_from: frozenset[JobState] | None = None,
        named: Named | None = None,
    ) -> Outcome | None:
        """Like cancel(), but an unknown job is None, not an error (CasJobs: "does nothing")."""
        with self._uow() as uow:
            found = find(uow, ref)
            if found is None or (named is not None and not named(found)):
                return None
            job = writable(actor, found)
            if ignores_cancel(job):
                return Outcome(job, job.state, job.state, changed=False)
            outcome = self._transitions.apply(uow, job, Action.CANCEL, actor, reason, only_from=only_from)
            uow.commit()
        self._transitions.announce(outcome)
        if outcome.changed and outcome.current in ACTIVE:
            self._tell_canceling(job.id)
        return outcome

    def try_cancel(
        self, actor: Actor, ref: JobRef, project: str | None = None, reason: str | None = None
    ) -> Outcome | None:
        """A cancel that answers yes or no instead of raising (Birst's boolean): the Outcome when the request
        is accepted (the job now Canceling or Cancelled, or it was already Canceling); None, changing nothing,
        when the job is unknown, not the actor's to write, outside `project` (when given), synchronous or final."""
        with self._uow() as uow:
            job = find(uow, ref)
            if job is None or not may_write(actor, job) or (project is not None and job.project != project):
                return None
            if ignores_cancel(job) or next_state(job.state, Action.CANCEL) is None:
                return None
            try:
                outcome = self._transitions.apply(uow, job, Action.CANCEL, actor, reason)
            except TransitionRefused:  # another request ended the job first
                return None
            uow.commit()
        self._transitions.announce(outcome)
        if outcome.changed and outcome.current in ACTIVE:
            self._tell_canceling(job.id)
        return outcome

    def cancel_many(self, actor: Actor, where: JobFilter, reason: str | None = None) -> list[Outcome]:
        """Cancel every job the filter selects that the actor may write: one compare-and-set per source
        state for all of them, in one transaction. Jobs already Canceling or final are left as they are.

        A job another request moves between the read and the write (a runner claims it, a client suspends
        it) is missed by its compare-and-set; it is read again and moved from its new state, for a few rounds,
        so a job a runner claimed meanwhile still ends Canceling rather than running on."""
        where = self._cancel_filter(actor, where)
        now = self._clock.now()
        outcomes: list[Outcome] = []
        with self._uow() as uow:
            candidates = self._cancellable(uow.jobs.list_jobs(where))
            for _round in range(_CANCEL_ROUNDS):
                if not candidates:
                    break
                moves = [move(job, Action.CANCEL, actor, reason, NO_CHANGE) for job in candidates]
                moved = uow.jobs.transition_all(moves, now)
                outcomes += [
                    Outcome(replace(job, state=step.target, state_changed_at=now, version=job.version + 1),
                            job.state, step.target, changed=True)
                    for job, step in zip(candidates, moves, strict=True)
                    if job.id in moved
                ]  # fmt: skip
                missed = frozenset(job.id for job in candidates if job.id not in moved)
                candidates = self._cancellable(uow.jobs.list_jobs(replace(where, ids=missed))) if missed else []
            uow.commit()
        self._transitions.announce(*outcomes)
        for outcome in outcomes:
            self._transitions.observe(Action.CANCEL, actor.protocol)
            if outcome.current in ACTIVE:
                self._tell_canceling(outcome.job.id)
        return outcomes

    def cancellable(self, actor: Actor, where: JobFilter) -> list[Job]:
        """The jobs cancel_many(actor, where) would move now (a dry run: changes nothing)."""
        with self._uow(write=False) as uow:
            return self._cancellable(uow.jobs.list_jobs(self._cancel_filter(actor, where)))

    @staticmethod
    def _cancel_filter(actor: Actor, where: JobFilter) -> JobFilter:
        sources = moving_sources(Action.CANCEL)
        states = sources if where.states is None else where.states & sources
        return replace(visible(actor, where), states=states)

    @staticmethod
    def _cancellable(found: list[Job]) -> list[Job]:
        sources = moving_sources(Action.CANCEL)
        return [job for job in found if job.state in sources and not ignores_cancel(job)]

    def suspend(self, actor: Actor, ref: JobRef, reason: str | None = None, named: Named | None = None) -> Outcome:
        return self._act(actor, ref, Action.SUSPEND, reason, named=named)

    def resume(self, actor: Actor, ref: JobRef, reason: str | None = None, named: Named | None = None) -> Outcome:
        return self._act(actor, ref, Action.RESUME, reason, named=named)

    def delete(self, actor: Actor, ref: JobRef, reason: str | None = None) -> Outcome:
        """Hide a finished, cancelled or failed job; its history stays in the store."""
        return self._act(actor, ref, Action.DELETE, reason, Change(deleted=True))

    def reject(self, actor: Actor, ref: JobRef, reason: str | None = None) -> Outcome:
        """Record that the owner rejects a Finished job's result; its state stays Finished."""
        return self._act(actor, ref, Action.REJECT, reason)

    def execute(self, actor: Actor, spec: JobSpec, timeout_s: float | None = None) -> tuple[Job, TaskResult]:
        """Run a synchronous (quick) job within this call and record it like any other job; Busy (and nothing
        recorded) when the executor has no place for it."""
        if self._executor is None or not self._executor.knows(spec.task):
            raise InvalidRequest(f"Task {spec.task!r} cannot run synchronously here.")
        system, moves = Actor.system(), self._transitions
        with self._executor.admit() as run_now:
            job = self.submit(actor, replace(spec, synchronous=True))
            job = moves.system_move(job, Action.START, system, Change(started=True)).job
            try:
                result = run_now(job, timeout_s or self.runtime.quick_timeout_s)
            except TaskFailed as failure:
                moves.system_move(job, Action.FAIL, system, Change(error=str(failure), ended=True), str(failure))
                raise
        change = Change(rows=result.rows, result=result.summary, output_loc=result.output_loc, ended=True)
        return moves.system_move(job, Action.FINISH, system, change).job, result

    def _act(
        self,
        actor: Actor,
        ref: JobRef,
        action: Action,
        reason: str | None,
        change: Change = NO_CHANGE,
        named: Named | None = None,
    ) -> Outcome:
        with self._uow() as uow:
            job = load(uow, ref)
            if named is not None and not named(job):
                raise JobNotFound(ref)
            job = writable(actor, job)
            outcome = self._transitions.apply(uow, job, action, actor, reason, change)
            uow.commit()
        self._transitions.announce(outcome)
        return outcome
