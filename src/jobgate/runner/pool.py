"""The runner pool of one process: N runner threads, a monitor (heartbeats, cancel polls), a watchdog."""

import logging
import os
import socket
import threading
from collections.abc import Mapping

from jobgate.domain.errors import TaskFailed
from jobgate.domain.model import Job, TaskResult
from jobgate.domain.states import JobState
from jobgate.runner.cancel import CancelBoard, CancelToken, TaskCancelled
from jobgate.runner.tasks import Task, TaskContext
from jobgate.services import RunnerService

log = logging.getLogger(__name__)

CLAIM_IDLE_S = 0.25  # how long an idle runner waits before it looks for work again
CANCEL_POLL_S = 0.05  # how often held jobs' states are read: the cross-process cancel latency
SWEEP_EVERY_S = 1.0


class RunnerPool:
    """Runs jobs for one process; also the TaskExecutor that synchronous (quick) jobs use."""

    def __init__(self, service: RunnerService, tasks: Mapping[str, Task], ctx: TaskContext, runners: int) -> None:
        self._runners, self._tasks, self._ctx, self._count = service, dict(tasks), ctx, runners
        self.board = CancelBoard()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._prefix = f"{socket.gethostname()}:{os.getpid()}"

    # -- TaskExecutor ----------------------------------------------------------------------------------
    def knows(self, task: str) -> bool:
        return task in self._tasks

    def run_now(self, job: Job, timeout_s: float) -> TaskResult:
        token = CancelToken()
        timer = threading.Timer(timeout_s, token.trip, args=(f"time limit of {timeout_s:g} s reached",))
        timer.daemon = True
        timer.start()
        try:
            return self._tasks[job.task](job, token, self._ctx)
        except TaskCancelled:
            raise TaskFailed(f"Query timed out: the time limit of {timeout_s:g} s was reached.") from None
        finally:
            timer.cancel()

    # -- life cycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        self._runners.sweep()  # jobs left by runners that died before this process started
        self._spawn(self._monitor, "jobgate-monitor")
        self._spawn(self._watchdog, "jobgate-watchdog")
        for n in range(self._count):
            self._spawn(self._run, f"jobgate-runner-{n}", f"{self._prefix}:{n}")

    def _spawn(self, target: object, name: str, *args: object) -> None:
        thread = threading.Thread(target=target, name=name, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop claiming, stop running tasks and put their jobs back in the queue for another runner."""
        self._stop.set()
        self._wake.set()
        self.board.trip_all("shutdown")
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads.clear()

    def poke(self) -> None:
        """New work may be waiting: wake an idle runner now."""
        self._wake.set()

    # -- threads ----------------------------------------------------------------------------------------
    def _run(self, runner_id: str) -> None:
        while not self._stop.is_set():
            try:
                job = self._runners.claim_next(runner_id, self._tasks.keys())
            except Exception:
                log.exception("claim failed", extra={"runner": runner_id})
                job = None
            if job is None:
                self._wake.wait(CLAIM_IDLE_S)
                self._wake.clear()
                continue
            self._execute(job, runner_id)

    def _execute(self, job: Job, runner_id: str) -> None:
        token = self.board.hold(job.id, runner_id)
        try:
            self._settle(job, token)
        except Exception:
            log.exception("recording the end of job %s failed", job.id)
        finally:
            self.board.release(job.id)

    def _settle(self, job: Job, token: CancelToken) -> None:
        try:
            result = self._tasks[job.task](job, token, self._ctx)
        except TaskCancelled:
            self._stopped(job, token)
        except TaskFailed as failure:
            if token.tripped:
                self._stopped(job, token)
            else:
                self._runners.fail(job, str(failure))
        except Exception:
            log.exception("task %s of job %s crashed", job.task, job.id)
            self._runners.fail(job, "internal error in the task")
        else:
            self._runners.finish(job, result)

    def _stopped(self, job: Job, token: CancelToken) -> None:
        if token.reason == "shutdown":
            self._runners.release(job, "server shutting down")
        else:
            self._runners.cancel_done(job)

    def _monitor(self) -> None:
        """Trip the token of any held job another process (or request) moved to Canceling; heartbeat."""
        since_beat = 0.0
        while not self._stop.wait(CANCEL_POLL_S):
            held = self.board.held()
            if not held:
                continue
            try:
                for job_id, state in self._runners.states_of(held).items():
                    if state is JobState.CANCELING:
                        self.board.canceling(job_id)
                since_beat += CANCEL_POLL_S
                if since_beat >= self._runners.runtime.heartbeat_s:
                    since_beat = 0.0
                    for runner_id in set(held.values()):
                        self._runners.heartbeat(runner_id, [j for j, r in held.items() if r == runner_id])
            except Exception:
                log.exception("runner monitor failed; retrying")

    def _watchdog(self) -> None:
        while not self._stop.wait(SWEEP_EVERY_S):
            try:
                for outcome in self._runners.sweep():
                    log.warning(
                        "watchdog moved job %s from %s to %s",
                        outcome.job.id,
                        outcome.prior.value,
                        outcome.current.value,
                    )
            except Exception:
                log.exception("watchdog sweep failed; retrying")
