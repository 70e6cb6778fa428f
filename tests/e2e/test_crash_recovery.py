"""After a crash (kill -9 of `jobgate serve`), the restarted server resolves what the dead one left behind.

interface.md, 'After a crash': a job left Canceling by a dead runner becomes Cancelled; a job left
Executing goes back to Submitted once (and runs again), then Failed after the next crash.
"""

import signal
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobgate.app import Components
from jobgate.domain.model import JobSpec
from jobgate.domain.states import JobState
from support.factories import components, settings_for, sleep_job, user_actor
from support.processes import kill_all, pids_with
from support.server import JobgateServer
from support.wait import wait_until

S = JobState
RESOLVE_WITHIN_S = 15.0


@pytest.fixture
def marker() -> Iterator[str]:
    """A tag in the command line of the test's command tasks: they outlive a SIGKILLed server, so end them here."""
    tag = f"jobgate-e2e-{uuid.uuid4().hex}"
    yield tag
    kill_all(pids_with(tag))


@pytest.fixture
def server(empty_db_url: str, marker: str, jobgate_server) -> JobgateServer:
    """jobgate_server comes last, so its servers die first: before their tasks are reaped and the schema dropped."""
    stubborn = [
        sys.executable, "-c",
        f"import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)  # {marker}",
    ]  # fmt: skip
    return jobgate_server(
        empty_db_url,
        JOBGATE_RUNNERS=2,
        JOBGATE_CANCEL_GRACE_S=60,  # the stubborn task stays Canceling until the crash
        JOBGATE_HEARTBEAT_S=0.2,
        JOBGATE_STALE_AFTER_S=2,
        JOBGATE_COMMANDS={"stubborn": stubborn},
    )


@pytest.fixture
def store(server: JobgateServer, empty_db_url: str, tmp_path: Path) -> Iterator[Components]:
    """A reader on the server's database, to poll states quickly (each CLI call costs about a second)."""
    with components(settings_for(empty_db_url, tmp_path / "reader")) as parts:
        yield parts


def wait_for(store: Components, states: dict[int, JobState], timeout: float = RESOLVE_WITHIN_S) -> None:
    def current() -> dict[int, JobState]:
        return store.runners.states_of(list(states))

    wait_until(lambda: current() == states, timeout, message=lambda: f"states {states}, seen {current()}")


def transitions(shown: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return [(e["stage"], e["from_state"], e["to_state"]) for e in shown["history"]]


def test_after_each_crash_canceling_jobs_end_cancelled_and_executing_jobs_retry_once_then_fail(
    server: JobgateServer, store: Components
) -> None:
    alice = user_actor(store, "alice")  # set up from a second process's view of the store: quicker than the CLI
    stubborn = store.jobs.submit(alice, JobSpec("stubborn")).id
    sleeper = sleep_job(store, alice, seconds=60).id
    wait_for(store, {stubborn: S.EXECUTING, sleeper: S.EXECUTING})
    store.jobs.cancel(alice, stubborn, reason="stop before the crash")  # the server's runner sees it in the store
    wait_for(store, {stubborn: S.CANCELING}, timeout=5)

    server.kill()  # crash 1: both jobs are held by runners that no longer exist
    server.start()
    wait_for(store, {stubborn: S.CANCELLED, sleeper: S.EXECUTING})

    cancelled, retried = (
        r.json() for r in server.cli.run_together(*(("job", "show", j, "--json") for j in (stubborn, sleeper)))
    )
    assert cancelled["state"] == "Cancelled"
    assert transitions(cancelled) == [
        ("submit", None, "Submitted"),
        ("start", "Submitted", "Executing"),
        ("cancel", "Executing", "Canceling"),
        ("cancel_done", "Canceling", "Cancelled"),
    ]
    assert cancelled["history"][2]["reason"] == "stop before the crash"
    assert (cancelled["history"][2]["actor"], cancelled["history"][2]["protocol"]) == ("alice", "cli")
    assert (cancelled["history"][3]["actor"], cancelled["history"][3]["protocol"]) == ("system", "runner")
    assert "stopped responding" in cancelled["history"][3]["reason"]

    assert (retried["state"], retried["attempts"]) == ("Executing", 2)
    assert transitions(retried) == [
        ("submit", None, "Submitted"),
        ("start", "Submitted", "Executing"),
        ("requeue", "Executing", "Submitted"),
        ("start", "Submitted", "Executing"),
    ]
    assert "retrying once" in retried["history"][2]["reason"]

    server.kill()  # crash 2: the sleeper has used its one retry
    server.start()
    wait_for(store, {sleeper: S.FAILED})
    failed = server.cli.show(sleeper)
    assert transitions(failed)[-1] == ("fail", "Executing", "Failed")
    assert "already retried once" in failed["error"]
    assert [e["seq"] for e in failed["history"]] == [1, 2, 3, 4, 5]


def test_a_graceful_stop_hands_a_running_job_back_without_using_its_retry(jobgate_server, tmp_path: Path) -> None:
    server: JobgateServer = jobgate_server(JOBGATE_RUNNERS=1, JOBGATE_HEARTBEAT_S=0.2)
    with components(settings_for(server.env["JOBGATE_DATABASE_URL"], tmp_path / "reader")) as store:
        alice = user_actor(store, "alice")
        job = sleep_job(store, alice, seconds=60).id
        wait_for(store, {job: S.EXECUTING}, timeout=5)

        # SIGTERM: the runner stops the task and puts the job back; uvicorn re-raises the signal once done
        assert server.stop() in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in server.log_text()
        assert store.runners.states_of([job]) == {job: S.SUBMITTED}
        server.start()
        wait_for(store, {job: S.EXECUTING}, timeout=5)
        shown = server.cli.show(job)
    assert shown["attempts"] == 1
    assert transitions(shown)[1:] == [
        ("start", "Submitted", "Executing"),
        ("requeue", "Executing", "Submitted"),
        ("start", "Submitted", "Executing"),
    ]
    assert shown["history"][2]["reason"] == "server shutting down"
