"""What runners do: claim the oldest Submitted job, heartbeat what they hold, record how a task ended, hand
jobs back at shutdown, and resolve the jobs of runners that died (the watchdog's sweep)."""

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime, timedelta

from jobgate.domain.errors import TransitionRefused
from jobgate.domain.model import Actor, Change, Channel, Job, Outcome, TaskResult
from jobgate.domain.ports import Clock, UnitOfWorkFactory
from jobgate.domain.states import ACTIVE, Action, JobState, next_state
from jobgate.services.runtime import Runtime
from jobgate.services.transitions import ENDED, MAX_RETRIES, Transitions, load


class RunnerService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, transitions: Transitions, runtime: Runtime) -> None:
        self._uow, self._clock, self._transitions, self.runtime = uow, clock, transitions, runtime

    def claim_next(self, runner_id: str, tasks: Collection[str]) -> Job | None:
        with self._uow() as uow:
            job = uow.jobs.claim_next(runner_id, self._clock.now(), tasks)
            uow.commit()
        if job is not None:
            self._transitions.observe(Action.START, Channel.RUNNER)
            self._transitions.announce(Outcome(job, JobState.SUBMITTED, job.state, changed=True))
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
        return self._transitions.system_move(job, Action.CANCEL_DONE, Actor.system(), ENDED, reason)

    def abandon(self, job: Job, error: str) -> Outcome | None:
        """Fail a job whose task would not stop within the grace (its runner is given up); None if it ended."""
        with self._uow() as uow:
            current = load(uow, job.id)
            if next_state(current.state, Action.FAIL) is None:
                return None
            change = Change(error=error, ended=True, clear_runner=True)
            outcome = self._transitions.apply(uow, current, Action.FAIL, Actor.system(), error, change)
            uow.commit()
        self._transitions.announce(outcome)
        return outcome

    def release(self, job: Job, reason: str) -> Outcome:
        """Hand a job back when its runner shuts down: Executing → Submitted, or finish a pending cancel."""
        return self._end(job, Action.REQUEUE, Change(release_attempt=True), reason, reason)

    def _end(
        self, job: Job, action: Action, change: Change, reason: str | None, stopped: str | None = "task stopped"
    ) -> Outcome:
        """A runner's last word on its job; it frees the runner. A cancel that arrived first completes instead
        (Canceling → Cancelled), also one that lands between the read and the compare-and-set: the loser
        decides again."""
        system = Actor.system()
        with self._uow() as uow:
            current = load(uow, job.id)
            prior = current.state
            for _ in range(MAX_RETRIES):
                if next_state(current.state, Action.CANCEL_DONE) is None:
                    step = (action, reason, replace(change, clear_runner=True))
                else:  # the task stopping (for whatever reason) completes the cancel
                    step = (Action.CANCEL_DONE, stopped, ENDED)
                outcome = self._transitions.step(uow, current, prior, step[0], system, step[1], step[2])
                if outcome is not None:
                    break
                current = load(uow, job.id)
            else:
                raise TransitionRefused(job.id, current.state, action)
            uow.commit()
        self._transitions.announce(outcome)
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
            change = Change(error=reason, ended=True, clear_runner=True)
            outcomes += self._transitions.attempt(job, Action.FAIL, system, change, reason)
        return outcomes

    def _resolve_orphan(self, job: Job, system: Actor, stale_before: datetime) -> list[Outcome]:
        """Only while the heartbeat is still stale: a beat or a new claim since the read keeps the job."""
        reason = f"runner {job.runner_id} stopped responding"
        moves = self._transitions
        if next_state(job.state, Action.CANCEL_DONE):
            return moves.attempt(job, Action.CANCEL_DONE, system, ENDED, reason, stale_before)
        if job.attempts < 2:
            change = Change(clear_runner=True)
            return moves.attempt(job, Action.REQUEUE, system, change, reason + "; retrying once", stale_before)
        error = reason + "; already retried once"
        change = Change(error=error, ended=True, clear_runner=True)
        return moves.attempt(job, Action.FAIL, system, change, error, stale_before)
