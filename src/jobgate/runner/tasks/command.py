"""Admin-configured command tasks: argv templates from config, never a shell string from a client.

Each argument of the template may name job params as `{name}`; values are substituted into that one
argument only (no shell, no word splitting). The process runs in its own process group; cancel sends
SIGTERM to the group, then SIGKILL after the grace.
"""

import contextlib
import os
import shutil
import signal
import string
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from jobgate.domain.errors import TaskFailed
from jobgate.domain.model import Job, TaskResult
from jobgate.runner.cancel import CancelToken, TaskCancelled
from jobgate.runner.tasks import Task, TaskContext

_POLL_S = 0.05


def render_argv(template: Sequence[str], params: Mapping[str, Any]) -> list[str]:
    argv = []
    for arg in template:
        for _, field, spec, conv in string.Formatter().parse(arg):
            if field is None:
                continue
            if not field.isidentifier() or spec or conv:
                raise TaskFailed(f"bad placeholder {{{field}}} in the command template")
            if field not in params:
                raise TaskFailed(f"missing parameter {field!r}")
        argv.append(arg.format_map({k: str(v) for k, v in params.items()}))
    return argv


def command_task(template: Sequence[str]) -> Task:
    # The task dies with the runner that started it: otherwise a SIGKILLed server leaves it running while
    # the sweep retries the job, and the command runs twice at once. (util-linux setpriv sets the
    # parent-death signal, then execs the command; without it the command is started as it is.)
    guard = [setpriv, "--pdeathsig", "KILL", "--"] if (setpriv := shutil.which("setpriv")) else []

    def run(job: Job, token: CancelToken, ctx: TaskContext) -> TaskResult:
        argv = render_argv(template, job.params)
        if shutil.which(argv[0]) is None:
            raise TaskFailed(f"cannot start {argv[0]}: no such program")
        out_dir = ctx.data_dir / "output"
        out_dir.mkdir(parents=True, exist_ok=True)
        out_path = out_dir / f"{job.key}.out"
        with out_path.open("wb") as out:
            try:
                proc = subprocess.Popen(  # noqa: S603 - argv from admin config, no shell
                    [*guard, *argv],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                raise TaskFailed(f"cannot start {argv[0]}: {exc.strerror}") from None
            code = _wait(proc, token, ctx.cancel_grace_s)
        if code != 0:
            raise TaskFailed(f"{argv[0]} exited with status {code}")
        # relative to the data directory, as every task's output: no server path leaves through a dialect
        return TaskResult(rows=None, summary="exit status 0", output_loc=f"output/{out_path.name}")

    return run


def _wait(proc: subprocess.Popen[bytes], token: CancelToken, grace_s: float) -> int:
    while True:
        if token.wait(_POLL_S):
            _stop(proc, grace_s)
            raise TaskCancelled(token.reason)
        code = proc.poll()
        if code is not None:
            return code


def _stop(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    _signal_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        proc.wait()
    _signal_group(proc, signal.SIGKILL)  # children the leader left behind


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
