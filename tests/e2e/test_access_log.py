"""The access log of a real `jobgate serve`: a stderr that nobody reads never stalls a request (lines are
dropped and counted instead), and a graceful stop writes every queued line, ahead of the lines the stop
itself logs. (Ordering against error lines: tests/integration/test_log_stream.py.)"""

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from support.server import free_port, jobgate_env
from support.wait import wait_until

REQUEST_TIMEOUT_S = 5.0  # far above a /healthz answer; a server stalled on its log never answers at all
DROPPED = re.compile(r"^jobgate_access_log_dropped_lines_total (\S+)$", re.MULTILINE)


@contextmanager
def serve_to_pipe(tmp_path: Path, **settings: str | int) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`jobgate serve` with its stderr on a pipe that the test reads when (and if) it wants to."""
    port = free_port()
    env = jobgate_env(
        {
            "JOBGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'jobgate.db'}",
            "JOBGATE_DATA_DIR": tmp_path / "data",
            **settings,
        }
    )
    argv = [sys.executable, "-m", "jobgate", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with (tmp_path / "stdout.log").open("wb") as out:
        proc = subprocess.Popen(
            argv, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(proc, url), timeout=30, interval=0.05, message="jobgate serve to be ready")
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()


def answers(proc: subprocess.Popen[bytes], url: str) -> bool:
    assert proc.poll() is None, f"jobgate serve exited with {proc.returncode}"
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def dropped(http: httpx.Client) -> float:
    found = DROPPED.search(http.get("/metrics").text)
    assert found is not None, "no jobgate_access_log_dropped_lines_total in /metrics"
    return float(found.group(1))


def test_a_stderr_nobody_reads_never_stalls_a_request(tmp_path: Path) -> None:
    slowest = 0.0

    def healthz(http: httpx.Client) -> None:
        nonlocal slowest
        started = time.monotonic()
        assert http.get("/healthz").status_code == 200
        slowest = max(slowest, time.monotonic() - started)

    def all_of_a_hundred_more_dropped(http: httpx.Client) -> bool:
        start = dropped(http)
        for _ in range(100):
            healthz(http)
        return dropped(http) - start >= 100

    # the pipe (64 KiB, ~350 lines) fills, the writer blocks on it, then the queue of 100 fills. A burst can
    # fill the queue between two of the writer's batches before the pipe is full: only when a hundred lines
    # in a row are dropped is the writer surely blocked
    with serve_to_pipe(tmp_path, JOBGATE_ACCESS_LOG_QUEUE=100) as (proc, url):
        with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as http:
            wait_until(lambda: all_of_a_hundred_more_dropped(http), timeout=60, interval=0, message="dropped lines")
            before = dropped(http)
            for _ in range(300):
                healthz(http)
            after = dropped(http)
        assert proc.poll() is None
    assert after - before >= 300, f"dropped {before:g}, then {after:g} after 300 more requests"
    assert slowest < 1.0, f"the slowest /healthz took {slowest:.3f} s"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_graceful_stop_writes_every_queued_line(tmp_path: Path, stop: signal.Signals) -> None:
    # 1,000 lines are ~190 kB, three times what a pipe holds: while nobody reads, most of them are still
    # queued in the server when the signal arrives, and only the stop can write them
    ids = [f"stop-{n:04d}" for n in range(1000)]
    with serve_to_pipe(tmp_path) as (proc, url):
        with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as http:
            for request_id in ids:
                assert http.get("/healthz", headers={"x-request-id": request_id}).status_code == 200
            assert dropped(http) == 0
        proc.send_signal(stop)
        _, err = proc.communicate(timeout=60)
        # uvicorn stops gracefully, then raises the signal again (the exit status says what stopped it)
        assert proc.returncode in (0, -stop, 128 + stop), err.decode(errors="replace")[-2000:]
    assert b"Application shutdown complete" in err
    lines = err.decode().splitlines()
    for request_id in ids:
        found = [line for line in lines if f"request_id='{request_id}'" in line]
        assert len(found) == 1, f"{request_id}: {len(found)} access lines"
    last_access = max(n for n, line in enumerate(lines) if "request_id='stop-" in line)
    shutting_down = next(n for n, line in enumerate(lines) if "Shutting down" in line)
    assert last_access < shutting_down, "an access line of a request answered before the stop came after it"
