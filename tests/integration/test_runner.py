"""The runner pool on the real store: tasks run, finish, fail, and stop on cancel, within their limits."""

import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from jobgate.app import Components
from jobgate.domain.model import Actor, Channel, Job, JobSpec, TaskResult
from jobgate.domain.states import JobState
from jobgate.runner import RunnerPool
from jobgate.runner.cancel import CancelToken
from jobgate.runner.pool import Doorbell
from jobgate.runner.tasks import TaskContext
from jobgate.runner.tasks.sleep import sleep
from support.factories import components, settings_for, sleep_job, user_actor
from support.processes import is_alive, kill_all
from support.wait import blocked_in, wait_until

S = JobState
GRACE_S = 0.5
# prints its pid, then ignores SIGTERM: only SIGKILL after the grace stops it
STUBBORN = [
    sys.executable, "-c",
    "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(os.getpid(), flush=True); "
    "time.sleep(60)",
]  # fmt: skip
FAILING = [sys.executable, "-c", "import sys; print('boom', flush=True); sys.exit(3)"]


@pytest.fixture
def running_parts(db_url: str, tmp_path: Path) -> Iterator[Components]:
    """The app's parts with two runner threads going."""
    settings = settings_for(
        db_url,
        tmp_path / "data",
        runners=2,
        cancel_grace_s=GRACE_S,
        commands={"stubborn": STUBBORN, "failing": FAILING},
    )
    with components(settings) as parts:
        parts.pool.start()
        yield parts


@pytest.fixture
def owner(running_parts: Components) -> Actor:
    return user_actor(running_parts, "alice")


def state_of(parts: Components, job: Job) -> JobState:
    return parts.runners.states_of([job.id])[job.id]


def wait_for_state(parts: Components, job: Job, state: JobState, timeout: float) -> Job:
    """Wait until the job is in `state`; returns it as its owner sees it."""
    wait_until(
        lambda: state_of(parts, job) is state,
        timeout,
        message=lambda: f"job {job.id} to be {state} (it is {state_of(parts, job)})",
    )
    return parts.jobs.get(Actor(job.owner, Channel.CLI), job.id)


class TestRunningJobs:
    def test_a_short_sleep_job_ends_finished(self, running_parts: Components, owner: Actor) -> None:
        job = sleep_job(running_parts, owner, seconds=0.1)
        done = wait_for_state(running_parts, job, S.FINISHED, timeout=5)
        assert done.result == "slept 0.1 s"
        _, events = running_parts.jobs.history(owner, job.id)
        assert [e.stage for e in events] == ["submit", "start", "finish"]

    def test_a_command_that_exits_non_zero_ends_failed_with_the_error_recorded(
        self, running_parts: Components, owner: Actor
    ) -> None:
        job = running_parts.jobs.submit(owner, JobSpec("failing"))
        failed = wait_for_state(running_parts, job, S.FAILED, timeout=10)
        assert failed.error is not None
        assert "exited with status 3" in failed.error
        _, events = running_parts.jobs.history(owner, job.id)
        assert (events[-1].stage, events[-1].reason) == ("fail", failed.error)

    def test_a_job_with_bad_params_ends_failed(self, running_parts: Components, owner: Actor) -> None:
        job = running_parts.jobs.submit(owner, JobSpec("sleep", {"seconds": "soon"}))
        failed = wait_for_state(running_parts, job, S.FAILED, timeout=5)
        assert "must be a number" in (failed.error or "")


class TestWakeOnSubmit:
    def test_a_job_submitted_in_this_process_starts_without_waiting_for_the_idle_poll(
        self, db_url: str, tmp_path: Path
    ) -> None:
        with components(settings_for(db_url, tmp_path / "data")) as parts:
            pool = RunnerPool(parts.runners, {"sleep": sleep}, TaskContext(tmp_path, GRACE_S), runners=1, idle_s=3600)
            parts.jobs.attach(submitted=pool)
            owner = user_actor(parts, "alice")
            pool.start()
            try:
                wait_until(lambda: blocked_in("jobgate-runner-0", Doorbell.wait), message="the runner to go idle")
                job = sleep_job(parts, owner, seconds=0)
                wait_for_state(parts, job, S.FINISHED, timeout=5)  # not the hour the idle runner would wait
            finally:
                pool.stop()


class TestCancelRunningJobs:
    def test_a_running_sleep_job_is_cancelled_within_one_second(self, running_parts: Components, owner: Actor) -> None:
        job = sleep_job(running_parts, owner, seconds=60)
        wait_for_state(running_parts, job, S.EXECUTING, timeout=5)
        assert running_parts.jobs.cancel(owner, job.id, reason="enough").current is S.CANCELING
        wait_for_state(running_parts, job, S.CANCELLED, timeout=1.0)
        _, events = running_parts.jobs.history(owner, job.id)
        assert [e.stage for e in events] == ["submit", "start", "cancel", "cancel_done"]

    def test_a_command_that_ignores_sigterm_is_killed_after_the_grace_and_ends_cancelled(
        self, running_parts: Components, owner: Actor
    ) -> None:
        job = running_parts.jobs.submit(owner, JobSpec("stubborn"))
        out = running_parts.settings.data_dir / "output" / f"{job.key}.out"
        pid = int(wait_until(lambda: out.exists() and out.read_text().strip(), timeout=10, message="the pid"))
        try:
            asked = time.monotonic()
            running_parts.jobs.cancel(owner, job.id)
            wait_for_state(running_parts, job, S.CANCELLED, timeout=GRACE_S + 2.0)
            assert time.monotonic() - asked >= GRACE_S * 0.9, "stopped before the grace was up"
            assert not is_alive(pid), f"process {pid} survived the cancel"
        finally:
            kill_all([pid] if is_alive(pid) else [])


class TestNoTransactionDuringTasks:
    def test_the_runner_holds_no_connection_or_transaction_while_its_task_runs(
        self, db_url: str, tmp_path: Path
    ) -> None:
        held: Counter[tuple[int, str]] = Counter()  # (thread id, "conn" | "tx") → open count
        seen: list[tuple[int, int]] = []

        def probe(job: Job, token: CancelToken, ctx: TaskContext) -> TaskResult:
            me = threading.get_ident()
            seen.append((held[me, "conn"], held[me, "tx"]))
            return TaskResult(rows=0, summary="probed")

        with components(settings_for(db_url, tmp_path / "data")) as parts:
            engine = parts.engine

            def count(kind: str, delta: int) -> None:
                held[threading.get_ident(), kind] += delta

            event.listen(engine, "checkout", lambda *_: count("conn", 1))
            event.listen(engine, "checkin", lambda *_: count("conn", -1))
            event.listen(engine, "begin", lambda *_: count("tx", 1))
            event.listen(engine, "commit", lambda *_: count("tx", -1))
            event.listen(engine, "rollback", lambda *_: count("tx", -1))
            pool = RunnerPool(parts.runners, {"probe": probe}, TaskContext(tmp_path, GRACE_S), runners=1)
            owner = user_actor(parts, "alice")
            pool.start()
            try:
                job = parts.jobs.submit(owner, JobSpec("probe"))
                wait_for_state(parts, job, S.FINISHED, timeout=5)
            finally:
                pool.stop()
        assert seen == [(0, 0)]
