"""The runner pool of one process: N runner threads, a monitor (heartbeats, cancel polls, time limits, stuck
runners), a watchdog, and the quick lane that synchronous jobs run on.

A job runs under its queue's time limit (Runtime.time_limit_s): when it is up, the monitor trips the job's
token, the task stops as on a cancel, and the job ends Failed ("Timed out: …"). A runner whose task has not
stopped within the grace after its token tripped (cancel or time limit) is given up: the job ends Failed,
the runner thread is marked abandoned (it records nothing if its task ever returns, and claims no more work),
and a new runner takes its place, so the pool never shrinks.
"""

import contextlib
import itertools
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from jobgate.clock import SystemClock
from jobgate.domain.errors import TaskFailed
from jobgate.domain.model import Job, TaskResult
from jobgate.domain.ports import Clock, PeerListener, RunNow
from jobgate.domain.states import JobState
from jobgate.runner.cancel import SHUTDOWN, CancelBoard, CancelToken, TaskCancelled
from jobgate.runner.lane import QuickLane, stopped_message
from jobgate.runner.tasks import Task, TaskContext
from jobgate.services import RunnerService

log = logging.getLogger(__name__)

CLAIM_IDLE_S = 0.25  # how often an idle runner looks for work another process queued
CANCEL_POLL_S = 0.05  # the monitor's tick (time limits, stuck runners); by default held jobs' states are read as often
SWEEP_EVERY_S = 1.0
QUICK_PLACES = 4


class Doorbell:
    """Wakes one idle runner per ring; rings made while every runner is busy are kept, up to one per runner."""

    def __init__(self, keep: int) -> None:
        self._cond = threading.Condition()
        self._rings, self._keep = 0, max(keep, 1)
        self._closed = False

    def ring(self) -> None:
        with self._cond:
            if self._rings < self._keep:
                self._rings += 1
                self._cond.notify()

    def wait(self, timeout_s: float) -> None:
        """Return at the next ring (or one kept from before), on close, or after `timeout_s`."""
        with self._cond:
            if not self._rings and not self._closed:
                self._cond.wait(timeout_s)
            if self._rings:
                self._rings -= 1

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


@dataclass(eq=False)
class _Runner:
    id: str
    thread: threading.Thread | None = None
    abandoned: bool = False


@dataclass(eq=False)
class _Work:
    """A job a runner holds: its token, when its time limit is up, when its token tripped."""

    job: Job
    runner: _Runner
    token: CancelToken
    limit_s: float | None
    deadline: float | None
    tripped_at: float | None = None


class RunnerPool:
    """Runs jobs for one process; also the TaskExecutor that synchronous (quick) jobs use, and the
    SubmitSignal that wakes an idle runner when this process queues a job."""

    def __init__(
        self,
        service: RunnerService,
        tasks: Mapping[str, Task],
        ctx: TaskContext,
        runners: int,
        idle_s: float = CLAIM_IDLE_S,
        quick_places: int = QUICK_PLACES,
        clock: Clock | None = None,
        peers: PeerListener | None = None,
        cancel_poll_s: float = CANCEL_POLL_S,
    ) -> None:
        self._service, self._tasks, self._ctx, self._count = service, dict(tasks), ctx, runners
        self._clock = clock or SystemClock()
        self._peers = peers  # other processes' cancels and new jobs, at once; polling stays the fallback
        self._poll_s = max(cancel_poll_s, CANCEL_POLL_S)  # how often held jobs' states are read
        self.board = CancelBoard()
        self.quick = QuickLane(self._tasks, ctx, quick_places)
        self._stop = threading.Event()
        self._doorbell = Doorbell(runners)
        self._idle_s = idle_s
        self._threads: list[threading.Thread] = []  # the monitor and the watchdog
        self._runners: list[_Runner] = []
        self._prefix = f"{socket.gethostname()}:{os.getpid()}"
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._working: dict[int, _Work] = {}
        self.abandoned = 0  # runners given up on since start

    # -- TaskExecutor ----------------------------------------------------------------------------------
    def knows(self, task: str) -> bool:
        return task in self._tasks

    @contextlib.contextmanager
    def admit(self) -> Iterator[RunNow]:
        with self.quick.admit() as run_now:
            yield run_now

    # -- SubmitSignal ---------------------------------------------------------------------------------
    def submitted(self, job_id: int) -> None:
        self._doorbell.ring()

    # -- life cycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        self._service.sweep()  # jobs left by runners that died before this process started
        if self._peers is not None:
            self._peers.listen(self.board.canceling, self.submitted)
        self._spawn(self._monitor, "jobgate-monitor")
        self._spawn(self._watchdog, "jobgate-watchdog")
        for _ in range(self._count):
            self._add_runner()

    def _add_runner(self) -> None:
        n = next(self._numbers)
        runner = _Runner(f"{self._prefix}:{n}")
        runner.thread = threading.Thread(target=self._run, name=f"jobgate-runner-{n}", args=(runner,), daemon=True)
        with self._lock:
            self._runners.append(runner)
        runner.thread.start()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop claiming, stop running tasks and put their jobs back in the queue for another runner."""
        self._stop.set()
        self._doorbell.close()
        self.board.trip_all(SHUTDOWN)
        self.quick.stop()
        with self._lock:
            runners, self._runners = [r.thread for r in self._runners if not r.abandoned], []
        for thread in [*self._threads, *runners]:
            if thread is not None:
                thread.join(timeout_s)
        self._threads.clear()

    def live_runners(self) -> int:
        """Runner threads that take work (abandoned ones do not count)."""
        with self._lock:
            return sum(1 for r in self._runners if not r.abandoned and r.thread is not None and r.thread.is_alive())

    # -- runners ----------------------------------------------------------------------------------------
    def _run(self, runner: _Runner) -> None:
        while not self._stop.is_set() and not runner.abandoned:
            try:
                job = self._service.claim_next(runner.id, self._tasks.keys())
            except Exception:
                log.exception("claim failed", extra={"runner": runner.id})
                job = None
            if job is None:
                self._doorbell.wait(self._idle_s)
                continue
            self._execute(job, runner)

    def _execute(self, job: Job, runner: _Runner) -> None:
        limit = self._service.runtime.time_limit_s(job)
        deadline = None if limit is None else self._clock.monotonic() + limit
        work = _Work(job, runner, self.board.hold(job.id, runner.id), limit, deadline)
        with self._lock:
            self._working[job.id] = work
        try:
            record = self._outcome(job, work.token)
            if self._finish(work):  # False: the monitor gave up on this runner and ended the job itself
                record()
        except Exception:
            log.exception("recording the end of job %s failed", job.id)
        finally:
            self.board.release(job.id)

    def _finish(self, work: _Work) -> bool:
        with self._lock:
            if self._working.get(work.job.id) is not work:
                return False
            del self._working[work.job.id]
            return True

    def _outcome(self, job: Job, token: CancelToken) -> Callable[[], object]:
        """Run the task; what records its end."""
        try:
            result: TaskResult = self._tasks[job.task](job, token, self._ctx)
        except TaskCancelled:
            return lambda: self._stopped(job, token)
        except TaskFailed as failure:
            if token.tripped:
                return lambda: self._stopped(job, token)
            error = str(failure)  # the name `failure` is gone once the except block ends
            return lambda: self._service.fail(job, error)
        except Exception:
            log.exception("task %s of job %s crashed", job.task, job.id)
            return lambda: self._service.fail(job, "internal error in the task")
        return lambda: self._service.finish(job, result)

    def _stopped(self, job: Job, token: CancelToken) -> None:
        if token.reason == SHUTDOWN:
            self._service.release(job, "server shutting down")
        elif token.expired:
            self._service.fail(job, stopped_message(token))  # a cancel that came first still ends it Cancelled
        else:
            self._service.cancel_done(job)

    # -- the monitor ------------------------------------------------------------------------------------
    def _monitor(self) -> None:
        """Enforce time limits and give up on stuck runners; trip the token of any held job another process
        (or request) moved to Canceling; heartbeat."""
        since_beat = since_poll = 0.0
        while not self._stop.wait(CANCEL_POLL_S):
            try:
                self._police()
                held = self.board.held()
                if not held:
                    continue
                since_poll += CANCEL_POLL_S
                if since_poll >= self._poll_s - 1e-9:
                    since_poll = 0.0
                    for job_id, state in self._service.states_of(held).items():
                        if state is JobState.CANCELING:
                            self.board.canceling(job_id)
                since_beat += CANCEL_POLL_S
                if since_beat >= self._service.runtime.heartbeat_s:
                    since_beat = 0.0
                    for runner_id in set(held.values()):
                        self._service.heartbeat(runner_id, [j for j, r in held.items() if r == runner_id])
            except Exception:
                log.exception("runner monitor failed; retrying")

    def _police(self) -> None:
        now = self._clock.monotonic()
        with self._lock:
            working = list(self._working.values())
        for work in working:
            if work.deadline is not None and work.limit_s is not None and now >= work.deadline:
                work.token.expire(work.limit_s)
            if not work.token.tripped:
                continue
            if work.tripped_at is None:
                work.tripped_at = now
            elif now - work.tripped_at >= self._ctx.cancel_grace_s and not self._stop.is_set():
                self._give_up(work)

    def _give_up(self, work: _Work) -> None:
        """The task ignored its token for the whole grace: end the job, abandon the runner, start another."""
        if not self._finish(work):
            return  # its task returned meanwhile
        runner, grace = work.runner, self._ctx.cancel_grace_s
        runner.abandoned = True
        if runner.thread is not None:
            runner.thread.name += " (abandoned)"
        self.board.release(work.job.id)
        with self._lock:
            self.abandoned += 1
        what = stopped_message(work.token) if work.token.expired else f"Cancel did not complete within {grace:g} s."
        log.error("job %s: runner %s did not stop its task within %g s; replaced", work.job.id, runner.id, grace)
        self._add_runner()
        self._service.abandon(work.job, f"{what} The task did not stop, and its runner was replaced.")

    def _watchdog(self) -> None:
        while not self._stop.wait(SWEEP_EVERY_S):
            try:
                for outcome in self._service.sweep():
                    log.warning(
                        "watchdog moved job %s from %s to %s",
                        outcome.job.id,
                        outcome.prior.value,
                        outcome.current.value,
                    )
            except Exception:
                log.exception("watchdog sweep failed; retrying")
