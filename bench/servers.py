"""Server processes: jobgate (`serve`, `worker`, the CLI) and the reference servers, each in its own
process group so that stopping one never touches anything else."""

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

from bench.machine import REPO, free_port, pinned
from bench.plan import Account

K = TypeVar("K")
READY_TIMEOUT_S: Final = 60.0
STOP_TIMEOUT_S: Final = 15.0


class ServerFailed(RuntimeError):
    """A server did not come up, or a CLI command failed; carries the tail of its log."""


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGINT to the process group (uvicorn shuts down gracefully), SIGKILL if it lingers."""
        if self.proc.poll() is not None:
            return
        _signal_group(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _signal_group(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any JOBGATE_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBGATE_")}
    env.update(extra)
    return env


def launch(name: str, argv: list[str], env: Mapping[str, str], log_dir: Path, cpus: str | None) -> Server:
    """Start a process (not waiting for it) with its output in `<log_dir>/<name>.log`."""
    log = log_dir / f"{name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            pinned(argv, cpus), cwd=REPO, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    port = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--port=")), 0)
    return Server(name, port, proc, log)


def wait_ready(server: Server, path: str = "/readyz") -> Server:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise ServerFailed(f"{server.name} exited with {server.proc.returncode}:\n{server.tail()}")
        if _answers(server.port, path):
            return server
        time.sleep(0.05)
    server.stop()
    raise ServerFailed(f"{server.name} was not ready within {READY_TIMEOUT_S:g} s:\n{server.tail()}")


def _answers(port: int, path: str) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def jobgate_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """What `jobgate serve` gets here: the database and the data directory, every other setting at its default
    (what users run out of the box), plus `extra` where a section measures something else on purpose."""
    return clean_env({"JOBGATE_DATABASE_URL": database_url, "JOBGATE_DATA_DIR": str(data_dir), **extra})


LOGGING_OFF: Final = {"JOBGATE_ACCESS_LOG": "false", "JOBGATE_LOG_LEVEL": "warning"}


def start_jobgate(name: str, env: Mapping[str, str], log_dir: Path, cpus: str | None, workers: int = 1) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "jobgate", "serve", f"--port={port}", f"--workers={workers}"]
    return wait_ready(launch(name, argv, env, log_dir, cpus))


def start_worker(name: str, env: Mapping[str, str], log_dir: Path) -> Server:
    """`jobgate worker`: runners only, no HTTP; ready once a job it holds turns Executing (caller checks)."""
    return launch(name, [sys.executable, "-m", "jobgate", "worker"], env, log_dir, None)


def start_reference(config: str, db_path: Path, account: Account, log_dir: Path, cpus: str | None) -> Server:
    port = free_port()
    argv = [
        sys.executable, "-m", "bench.refs.serve", config, f"--port={port}", f"--db={db_path}",
        f"--user={account.wsid}:{account.password}:{account.name}",
    ]  # fmt: skip
    return wait_ready(launch(f"ref-{config}", argv, clean_env({}), log_dir, cpus))


def start_reference_pg(config: str, url: str, account: Account, log_dir: Path, cpus: str | None) -> Server:
    """A reference configuration on a PostgreSQL store (E_pg: the same statements through psycopg, pooled)."""
    port = free_port()
    argv = [
        sys.executable, "-m", "bench.refs.serve", config, f"--port={port}", f"--url={url}",
        f"--user={account.wsid}:{account.password}:{account.name}",
    ]  # fmt: skip
    return wait_ready(launch(f"ref-{config}-pg", argv, clean_env({}), log_dir, cpus))


def start_all(starters: Mapping[K, Callable[[], Server]]) -> dict[K, Server]:
    """Start several servers; if one fails, stop the ones already started and re-raise."""
    started: dict[K, Server] = {}
    try:
        for key, start in starters.items():
            started[key] = start()
    except BaseException:
        for server in started.values():
            server.stop()
        raise
    return started


@contextmanager
def running(*servers: Server) -> Iterator[tuple[Server, ...]]:
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def jobgate_cli(args: list[str], database_url: str, log_dir: Path) -> str:
    """Run one `jobgate` CLI command; its stdout, or ServerFailed with its stderr."""
    env = clean_env({"JOBGATE_DATABASE_URL": database_url, "JOBGATE_DATA_DIR": str(log_dir / "data")})
    done = subprocess.run(
        [sys.executable, "-m", "jobgate", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise ServerFailed(f"jobgate {' '.join(args[:2])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def add_user(account: Account, database_url: str, log_dir: Path) -> None:
    args = ["user", "add", account.name, "--password", account.password, "--wsid", str(account.wsid)]
    for group in account.groups:
        args += ["--group", group]
    jobgate_cli(args, database_url, log_dir)
