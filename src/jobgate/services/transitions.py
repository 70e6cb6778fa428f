"""The one place the state machine is applied: a compare-and-set from exactly the state read, with its
history event in the same transaction; a lost race is decided again on what the winner did."""

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from jobgate.domain.errors import JobNotFound, NotOwner, TransitionRefused
from jobgate.domain.model import Actor, Change, Channel, Job, Outcome, Transition, may_read, may_write
from jobgate.domain.ports import ChangeListener, Clock, UnitOfWork, UnitOfWorkFactory
from jobgate.domain.states import RECORDED, Action, JobState, next_state

JobRef = int | str  # an integer id, or a 32-hex key

NO_CHANGE = Change()
ENDED = Change(ended=True, clear_runner=True)
MAX_RETRIES = 8  # re-reads after a lost compare-and-set; each loss means another request moved the job


class Transitions:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, observe: Callable[[Action, Channel], None] | None = None
    ) -> None:
        self._uow, self._clock = uow, clock
        self.observe = observe or (lambda action, channel: None)
        self._listeners: list[ChangeListener] = []

    def watch(self, listener: ChangeListener) -> None:
        """Call `listener(job_id)` after every committed state change this process makes (on the thread that
        made it, so it must be quick). Other processes' changes are not heard."""
        self._listeners.append(listener)

    def announce(self, *outcomes: Outcome | None) -> None:
        """Tell the listeners, after the commit, about each outcome that changed its job."""
        for outcome in outcomes:
            if outcome is not None and outcome.changed:
                for listener in self._listeners:
                    listener(outcome.job.id)

    def apply(
        self,
        uow: UnitOfWork,
        job: Job,
        action: Action,
        actor: Actor,
        reason: str | None,
        change: Change = NO_CHANGE,
        only_from: frozenset[JobState] | None = None,
    ) -> Outcome:
        """Move `job` by `action` inside the caller's unit of work; refused, idempotent or moved. `only_from`
        narrows the states the action is accepted from (checked on every re-read, like the table)."""
        prior = job.state
        for _ in range(MAX_RETRIES):
            if only_from is not None and job.state not in only_from:
                raise TransitionRefused(job.id, job.state, action)
            outcome = self.step(uow, job, prior, action, actor, reason, change)
            if outcome is not None:
                return outcome
            job = load(uow, job.id)  # another request moved it first: decide again on what it did
        raise TransitionRefused(job.id, job.state, action)

    def step(
        self, uow: UnitOfWork, job: Job, prior: JobState, action: Action, actor: Actor, reason: str | None,
        change: Change,
    ) -> Outcome | None:  # fmt: skip
        """One compare-and-set from the state read (refused, idempotent or moved); None when another request
        moved the job first, for the caller to decide again on what it did."""
        target = next_state(job.state, action)
        if target is None:
            raise TransitionRefused(job.id, job.state, action)
        if target is job.state and action not in RECORDED:
            return Outcome(job, prior, job.state, changed=False)
        moved = uow.jobs.transition(move(job, action, actor, reason, change), self._clock.now())
        if moved is None:
            return None
        self.observe(action, actor.protocol)
        return Outcome(moved, prior, moved.state, changed=True)

    def system_move(self, job: Job, action: Action, actor: Actor, change: Change, reason: str | None = None) -> Outcome:
        """`apply` in a unit of work of its own, on the job as it is now."""
        with self._uow() as uow:
            outcome = self.apply(uow, load(uow, job.id), action, actor, reason, change)
            uow.commit()
        self.announce(outcome)
        return outcome

    def attempt(
        self, job: Job, action: Action, actor: Actor, change: Change, reason: str, stale_before: datetime | None = None
    ) -> list[Outcome]:
        """One compare-and-set from exactly the state read; a lost race means someone else resolved it. With
        `stale_before`, only while the job's heartbeat is still older than that (the watchdog's guard)."""
        step = replace(move(job, action, actor, reason, change), stale_before=stale_before)
        with self._uow() as uow:
            moved = uow.jobs.transition(step, self._clock.now())
            uow.commit()
        if moved is None:
            return []
        self.observe(action, actor.protocol)
        outcome = Outcome(moved, job.state, moved.state, changed=True)
        self.announce(outcome)
        return [outcome]


def move(job: Job, action: Action, actor: Actor, reason: str | None, change: Change) -> Transition:
    target = next_state(job.state, action)
    assert target is not None
    return Transition(job.id, action, job.state, target, actor.name, actor.protocol, reason, change=change)


def find(uow: UnitOfWork, ref: JobRef) -> Job | None:
    if isinstance(ref, int):
        return uow.jobs.get(ref)
    if len(ref) == 32 and all(c in "0123456789abcdef" for c in ref):
        return uow.jobs.get_by_key(ref)
    return None


def load(uow: UnitOfWork, ref: JobRef) -> Job:
    job = find(uow, ref)
    if job is None:
        raise JobNotFound(ref)
    return job


def readable(actor: Actor, job: Job) -> Job:
    if not may_read(actor, job):
        raise NotOwner(job.id, actor.name)
    return job


def writable(actor: Actor, job: Job) -> Job:
    if not may_write(actor, job):
        raise NotOwner(job.id, actor.name)
    return job
