"""The quick lane: synchronous (quick) jobs' tasks run here, off the caller's thread, a bounded number at once.

A caller first takes a place (`admit`); when every place is taken it gets Busy at once, so quick work can
never hold more than `size` of the server's request threads. Each admitted task runs on a thread of its own
under the job's time limit: at the limit its token trips (its statements are interrupted) and the caller
gets TaskFailed. A task that has not stopped within the grace after that is given up: its thread is
abandoned (renamed, counted, never given other work), the caller is answered, and its place is free again,
so the lane never shrinks.
"""

import contextlib
import itertools
import logging
import threading
from collections.abc import Iterator, Mapping

from jobgate.domain.errors import Busy, TaskFailed
from jobgate.domain.model import Job, TaskResult
from jobgate.domain.ports import RunNow
from jobgate.runner.cancel import SHUTDOWN, CancelToken, TaskCancelled
from jobgate.runner.tasks import Task, TaskContext

log = logging.getLogger(__name__)


def stopped_message(token: CancelToken) -> str:
    """What a job that stopped because its token tripped failed with (a time limit, a shutdown)."""
    if token.expired:
        return f"Timed out: {token.reason}."
    return "The server is shutting down." if token.reason == SHUTDOWN else f"Stopped: {token.reason}."


class _Call:
    def __init__(self, task: Task, job: Job) -> None:
        self.task, self.job, self.token = task, job, CancelToken()
        self.done = threading.Event()
        self.result: TaskResult | None = None
        self.error: BaseException | None = None

    def run(self, ctx: TaskContext) -> None:
        try:
            self.result = self.task(self.job, self.token, ctx)
        except BaseException as exc:  # handed to the caller's thread
            self.error = exc
        finally:
            self.done.set()

    def outcome(self) -> TaskResult:
        if self.error is None:
            assert self.result is not None
            return self.result
        if isinstance(self.error, TaskCancelled) or (isinstance(self.error, TaskFailed) and self.token.tripped):
            raise TaskFailed(stopped_message(self.token)) from None
        if isinstance(self.error, TaskFailed):
            raise self.error
        log.error("task %s of quick job %s crashed", self.job.task, self.job.id, exc_info=self.error)
        raise TaskFailed("internal error in the task") from None  # recorded Failed, as a runner would


class QuickLane:
    def __init__(self, tasks: Mapping[str, Task], ctx: TaskContext, size: int) -> None:
        self._tasks, self._ctx = tasks, ctx
        self._places = threading.BoundedSemaphore(size)
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._running: set[CancelToken] = set()
        self.abandoned = 0  # threads given up on since start

    @contextlib.contextmanager
    def admit(self) -> Iterator[RunNow]:
        if not self._places.acquire(blocking=False):
            raise Busy()
        try:
            yield self._run
        finally:
            self._places.release()

    def _run(self, job: Job, timeout_s: float) -> TaskResult:
        call = _Call(self._tasks[job.task], job)
        thread = threading.Thread(
            target=call.run, args=(self._ctx,), name=f"jobgate-quick-{next(self._numbers)}", daemon=True
        )
        with self._lock:
            self._running.add(call.token)
        try:
            thread.start()
            if not call.done.wait(timeout_s):
                call.token.expire(timeout_s)
                if not call.done.wait(self._ctx.cancel_grace_s):
                    self._abandon(thread, job)
                    raise TaskFailed(stopped_message(call.token))
        finally:
            with self._lock:
                self._running.discard(call.token)
        return call.outcome()

    def _abandon(self, thread: threading.Thread, job: Job) -> None:
        thread.name += " (abandoned)"
        with self._lock:
            self.abandoned += 1
        log.error(
            "quick job %s: its task did not stop within %g s of its time limit; thread %s abandoned",
            job.id,
            self._ctx.cancel_grace_s,
            thread.name,
        )

    def stop(self) -> None:
        """Trip every running task's token: their callers are answered that the server is shutting down."""
        with self._lock:
            tokens = list(self._running)
        for token in tokens:
            token.trip(SHUTDOWN)
