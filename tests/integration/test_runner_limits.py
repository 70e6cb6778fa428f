"""Every job stoppable, every time limit enforced (issue 19, finding 1), on the real store: queue time limits,
stuck runners replaced without the pool shrinking, and the quick lane's own bounded threads (busy when full)."""

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jobgate.app import Components
from jobgate.config import Settings
from jobgate.dialects.casjobs import wire
from jobgate.domain.errors import Busy, TaskFailed
from jobgate.domain.model import Actor, Channel, Job, JobFilter, JobSpec, TaskResult
from jobgate.domain.states import JobState
from jobgate.runner import RunnerPool
from jobgate.runner.cancel import CancelToken
from jobgate.runner.tasks import TaskContext
from jobgate.runner.tasks.sleep import sleep
from jobgate.services import Runtime
from support.factories import components, settings_for, user_actor
from support.wait import wait_until

S = JobState
GRACE_S = 0.3
LIMIT_S = 0.5


@dataclass
class Stubborn:
    """A task that ignores its token: it returns only when the test lets it go."""

    started: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def __call__(self, job: Job, token: CancelToken, ctx: TaskContext) -> TaskResult:
        self.threads.append(threading.current_thread())
        self.started.set()
        self.release.wait(30)
        return TaskResult(rows=0, summary="finished after all")


def crash(job: Job, token: CancelToken, ctx: TaskContext) -> TaskResult:
    raise ZeroDivisionError("a bug in a task")


@pytest.fixture
def stubborn() -> Iterator[Stubborn]:
    task = Stubborn()
    yield task
    task.release.set()


@pytest.fixture
def parts(db_url: str, tmp_path: Path) -> Iterator[Components]:
    settings = settings_for(db_url, tmp_path / "data", cancel_grace_s=GRACE_S, long_timeout_s=LIMIT_S)
    with components(settings) as built:
        yield built


@pytest.fixture
def pool(parts: Components, stubborn: Stubborn, tmp_path: Path) -> Iterator[RunnerPool]:
    """One runner and one quick place over `sleep` and the stubborn task, wired like build() wires its pool."""
    tasks = {"sleep": sleep, "stubborn": stubborn, "crash": crash}
    pool = RunnerPool(parts.runners, tasks, TaskContext(tmp_path / "data", GRACE_S), runners=1, quick_places=1)
    parts.jobs.attach(executor=pool, signal=pool.board, submitted=pool)
    pool.start()
    yield pool
    pool.stop()


@pytest.fixture
def alice(parts: Components) -> Actor:
    return user_actor(parts, "alice")


def ended(parts: Components, job: Job, timeout: float = 5.0) -> Job:
    def done() -> Job | None:
        found = parts.jobs.get(Actor(job.owner, Channel.CLI), job.id)
        return found if found.state in (S.FINISHED, S.FAILED, S.CANCELLED) else None

    return wait_until(done, timeout, message=f"job {job.id} to end")


class TestQueueLimits:
    def test_a_long_queue_job_is_stopped_at_its_limit_and_ends_failed(
        self, parts: Components, pool: RunnerPool, alice: Actor
    ) -> None:
        job = parts.jobs.submit(alice, JobSpec("sleep", {"seconds": 60}, queue="long"))
        done = ended(parts, job)
        assert (done.state, done.error) == (S.FAILED, f"Timed out: the time limit of {LIMIT_S:g} s was reached.")
        assert done.started_at is not None
        assert done.ended_at is not None
        assert (done.ended_at - done.started_at).total_seconds() < LIMIT_S + 1.0
        assert pool.abandoned == 0  # the task stopped when asked: nothing to replace

    def test_a_job_of_a_queue_without_a_limit_runs_past_it(
        self, parts: Components, pool: RunnerPool, alice: Actor
    ) -> None:
        job = parts.jobs.submit(alice, JobSpec("sleep", {"seconds": LIMIT_S * 2}, queue="default"))
        assert ended(parts, job).state is S.FINISHED

    def test_the_limits_getqueues_advertises_are_the_defaults_the_runners_enforce(self) -> None:
        settings, runtime = Settings(), Runtime()
        assert wire.QUICK_QUEUE == settings.quick_timeout_s == runtime.quick_timeout_s
        assert wire.LONG_QUEUE == settings.long_timeout_s == runtime.long_timeout_s


class TestStuckRunner:
    @pytest.mark.parametrize("how", ["cancel", "time limit"])
    def test_a_runner_whose_task_ignores_the_stop_is_replaced_and_the_job_ends_failed(
        self, parts: Components, pool: RunnerPool, stubborn: Stubborn, alice: Actor, how: str
    ) -> None:
        queue = "long" if how == "time limit" else "default"
        job = parts.jobs.submit(alice, JobSpec("stubborn", queue=queue))
        assert stubborn.started.wait(5)
        if how == "cancel":
            parts.jobs.cancel(alice, job.id)
        failed = ended(parts, job)
        assert failed.state is S.FAILED
        assert "The task did not stop, and its runner was replaced." in (failed.error or "")
        assert pool.abandoned == 1
        assert pool.live_runners() == 1  # the pool did not shrink
        assert "(abandoned)" in stubborn.threads[0].name

        after = parts.jobs.submit(alice, JobSpec("sleep", {"seconds": 0}))
        assert ended(parts, after).state is S.FINISHED  # the replacement runs the next job

        history = parts.jobs.history(alice, job.id)[1]
        stubborn.release.set()  # the stuck task returns at last: it records nothing and takes no more work
        wait_until(lambda: not stubborn.threads[0].is_alive(), message="the abandoned runner to exit")
        assert parts.jobs.history(alice, job.id)[1] == history
        assert pool.live_runners() == 1


class TestQuickLane:
    def test_a_quick_job_past_its_limit_fails_and_its_place_is_free_again(
        self, parts: Components, pool: RunnerPool, stubborn: Stubborn, alice: Actor
    ) -> None:
        asked = time.monotonic()
        with pytest.raises(TaskFailed, match=r"^Timed out: the time limit of 0\.2 s was reached\.$"):
            parts.jobs.execute(alice, JobSpec("stubborn"), timeout_s=0.2)
        assert time.monotonic() - asked < 0.2 + GRACE_S + 1.0  # the caller is answered, stuck task or not
        assert pool.quick.abandoned == 1
        [failed] = [j for j in parts.jobs.list_jobs(alice) if j.task == "stubborn"]
        assert failed.state is S.FAILED
        _job, result = parts.jobs.execute(alice, JobSpec("sleep", {"seconds": 0}))
        assert result.summary == "slept 0 s"

    def test_a_quick_job_whose_task_crashes_is_recorded_failed(
        self, parts: Components, pool: RunnerPool, alice: Actor
    ) -> None:
        with pytest.raises(TaskFailed, match=r"^internal error in the task$"):
            parts.jobs.execute(alice, JobSpec("crash"))
        [failed] = parts.jobs.list_jobs(alice)
        assert (failed.state, failed.error) == (S.FAILED, "internal error in the task")

    def test_a_quick_job_finding_every_place_taken_is_refused_busy_at_once_and_not_recorded(
        self, parts: Components, pool: RunnerPool, stubborn: Stubborn, alice: Actor
    ) -> None:
        holder = threading.Thread(target=parts.jobs.execute, args=(alice, JobSpec("stubborn"), 30.0))
        holder.start()
        try:
            assert stubborn.started.wait(5)
            asked = time.monotonic()
            with pytest.raises(Busy, match="busy"):
                parts.jobs.execute(alice, JobSpec("sleep", {"seconds": 0}))
            assert time.monotonic() - asked < 0.5
            assert [j.task for j in parts.jobs.list_jobs(alice, JobFilter())] == ["stubborn"]
        finally:
            stubborn.release.set()
            holder.join(10)
        _job, result = parts.jobs.execute(alice, JobSpec("sleep", {"seconds": 0}))
        assert result.rows == 0
