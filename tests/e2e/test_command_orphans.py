"""A command task dies with the server that started it, so the crash sweep's retry never runs it twice."""

import sys
import uuid
from collections.abc import Iterator

import pytest

from support.processes import is_alive, kill_all, pids_with
from support.server import JobgateServer
from support.wait import wait_until


@pytest.fixture
def marker() -> Iterator[str]:
    tag = f"jobgate-orphan-{uuid.uuid4().hex}"
    yield tag
    kill_all(pids_with(tag))  # only reached if the test failed to see them die


def test_a_command_task_dies_when_its_server_is_killed(jobgate_server, marker: str) -> None:
    long_command = [sys.executable, "-c", f"import time; time.sleep(120)  # {marker}"]
    server: JobgateServer = jobgate_server(JOBGATE_RUNNERS=1, JOBGATE_COMMANDS={"long": long_command})
    server.cli.add_user("alice", "pw")
    server.cli.submit(owner="alice", task="long")
    wait_until(lambda: len(pids_with(marker)) == 1, 15, message="the command task never started")
    (pid,) = pids_with(marker)
    server.kill()
    wait_until(lambda: not is_alive(pid), 5, message="the command task outlived its SIGKILLed server")
