"""Tasks a job can run: `sleep`, `sql`, `extract`, `upload` and the configured command tasks. Each is called with
the job (its params among its fields), a CancelToken and the TaskContext, and returns a TaskResult or raises
TaskFailed (a failure to report) or TaskCancelled (it stopped because the token tripped)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from jobgate.domain.errors import TaskFailed
from jobgate.domain.model import Job, TaskResult
from jobgate.runner.cancel import CancelToken

MIB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class SqlLimits:
    """What one SQL task may use (README, Limits): SQLite enforces the first two, the tasks the rest."""

    value_bytes: int = 16 * MIB  # SQLITE_LIMIT_LENGTH: the largest string, blob or stored row a query makes
    mydb_quota_bytes: int = 1024 * MIB  # a MyDB file's size (max_page_count)
    quick_rows: int = 100_000  # rows a quick job may return
    quick_bytes: int = 8 * MIB  # bytes a quick job may return (text and blobs by length, other values 8)
    extract_bytes: int = 4096 * MIB  # the largest file an extract writes (a view's rows need not end)
    batch_bytes: int = 4 * MIB  # rows are copied and written in batches of at most this (or 1,000 rows)
    batch_rows: int = 1_000


@dataclass(frozen=True, slots=True)
class TaskContext:
    data_dir: Path
    cancel_grace_s: float
    limits: SqlLimits = field(default_factory=SqlLimits)


class Task(Protocol):
    def __call__(self, job: Job, token: CancelToken, ctx: TaskContext) -> TaskResult: ...


def param(params: Mapping[str, Any], name: str) -> Any:
    if name not in params:
        raise TaskFailed(f"missing parameter {name!r}")
    return params[name]
