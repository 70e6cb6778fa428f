"""`sleep`: wait `seconds` (fractional allowed), waking at once on cancel."""

import math

from jobgate.domain.errors import TaskFailed
from jobgate.domain.model import Job, TaskResult
from jobgate.runner.cancel import CancelToken, TaskCancelled
from jobgate.runner.tasks import TaskContext, param


def sleep(job: Job, token: CancelToken, ctx: TaskContext) -> TaskResult:
    try:
        seconds = float(param(job.params, "seconds"))
    except (TypeError, ValueError):
        raise TaskFailed("parameter 'seconds' must be a number") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise TaskFailed("parameter 'seconds' must be a finite number ≥ 0")
    if token.wait(seconds):  # an Event wait wakes at once, well inside the 100 ms the contract asks
        raise TaskCancelled(token.reason)
    return TaskResult(rows=0, summary=f"slept {seconds:g} s")
