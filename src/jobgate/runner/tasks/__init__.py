"""Tasks a job can run: `sleep`, `sql`, `extract`, `upload` and the configured command tasks. Each is called with
the job (its params among its fields), a CancelToken and the TaskContext, and returns a TaskResult or raises
TaskFailed (a failure to report) or TaskCancelled (it stopped because the token tripped)."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from jobgate.domain.model import Job, TaskResult
from jobgate.runner.cancel import CancelToken


@dataclass(frozen=True, slots=True)
class TaskContext:
    data_dir: Path
    cancel_grace_s: float


class Task(Protocol):
    def __call__(self, job: Job, token: CancelToken, ctx: TaskContext) -> TaskResult: ...


def param(params: Mapping[str, Any], name: str) -> Any:
    from jobgate.domain.errors import TaskFailed

    if name not in params:
        raise TaskFailed(f"missing parameter {name!r}")
    return params[name]
