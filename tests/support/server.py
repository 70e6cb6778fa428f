"""A real `jobgate serve` subprocess on 127.0.0.1, and the `jobgate` CLI run with the same environment."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

# Cheap hashing: argon2 at its production cost would make every CLI call and login slow.
TEST_ENV = {
    "JOBGATE_ARGON2_TIME_COST": "1",
    "JOBGATE_ARGON2_MEMORY_KIB": "8",
    "JOBGATE_LOG_LEVEL": "info",
    "PYTHONUNBUFFERED": "1",
}
CLI_TIMEOUT_S = 60.0


def jobgate_env(overrides: Mapping[str, str | int | float | Path | Mapping[str, Any]]) -> dict[str, str]:
    """os.environ without any JOBGATE_* variable, plus the test defaults, plus `overrides`.

    Mappings (e.g. JOBGATE_COMMANDS) are written as JSON. os.environ itself is never changed.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBGATE_")}
    env.update(TEST_ENV)
    for name, value in overrides.items():
        env[name] = json.dumps(value) if isinstance(value, Mapping) else str(value)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class CliResult:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


class JobgateCli:
    """Runs `python -m jobgate ARGS…` as a subprocess with a fixed environment."""

    def __init__(self, env: Mapping[str, str], cwd: Path | None = None) -> None:
        self.env, self.cwd = dict(env), cwd

    def run(self, *args: str | int, check: bool = True, timeout: float = CLI_TIMEOUT_S) -> CliResult:
        [result] = self._run_all([args], check, timeout)
        return result

    def run_together(
        self, *commands: tuple[str | int, ...], check: bool = True, timeout: float = CLI_TIMEOUT_S
    ) -> list[CliResult]:
        """Run several commands at once (each start costs ~1 s of imports); with `check`, all must succeed."""
        return self._run_all(list(commands), check, timeout)

    def json(self, *args: str | int) -> Any:
        return self.run(*args).json()

    def _run_all(self, commands: list[tuple[str | int, ...]], check: bool, timeout: float) -> list[CliResult]:
        argvs = [[str(a) for a in args] for args in commands]
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "jobgate", *argv],
                env=self.env,
                cwd=self.cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for argv in argvs
        ]
        results = []
        deadline = time.monotonic() + timeout
        try:
            for argv, proc in zip(argvs, procs, strict=True):
                out, err = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
                results.append(CliResult(tuple(argv), proc.returncode, out, err))
        finally:
            for proc in procs:  # only after a timeout is any still running
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        failed = [r for r in results if r.returncode != 0]
        if check and failed:
            raise AssertionError(
                "\n".join(f"jobgate {' '.join(r.args)} exited {r.returncode}\n{r.stdout}{r.stderr}" for r in failed)
            )
        return results

    def add_user(self, name: str, password: str, *extra: str) -> int:
        """`jobgate user add`; returns the new user's wsid."""
        line = self.run("user", "add", name, "--password", password, *extra).stdout.strip()
        return int(line.rsplit("wsid=", 1)[1])

    def submit(self, owner: str, task: str, **params: Any) -> int:
        """`jobgate job submit`; returns the new job's id."""
        pairs = [arg for k, v in params.items() for arg in ("--param", f"{k}={v}")]
        return int(self.json("job", "submit", "--owner", owner, "--task", task, *pairs)["id"])

    def show(self, job_id: int) -> dict[str, Any]:
        found: dict[str, Any] = self.json("job", "show", job_id, "--json")
        return found


class JobgateServer:
    """`jobgate serve` on a free loopback port; start() may be called again after stop() or kill()."""

    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        *,
        args: tuple[str, ...] = (),
        cwd: Path | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        self.env, self.log_path, self.args, self.cwd = dict(env), log_path, args, cwd
        self.ready_timeout = ready_timeout
        self.cli = JobgateCli(self.env, cwd)
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    # -- what tests read ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._proc is not None, "the server is not running"
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0, **kwargs)

    # -- life cycle -----------------------------------------------------------------------------------
    def start(self) -> "JobgateServer":
        assert not self.running, "the server is already running"
        for _ in range(3):  # a free port can be taken by someone else before the server binds it
            if self._launch():
                return self
        raise AssertionError(f"jobgate serve did not start; log:\n{self.log_text()}")

    def _launch(self) -> bool:
        self.port = free_port()
        self.starts += 1
        argv = [sys.executable, "-m", "jobgate", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts}: {' '.join(argv[1:])} {' '.join(self.args)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                [*argv, *self.args], env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + self.ready_timeout
        with httpx.Client(timeout=2.0) as http:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    self._proc = None
                    if "address already in use" in self.log_text().lower():
                        return False
                    raise AssertionError(f"jobgate serve exited during start-up; log:\n{self.log_text()}")
                try:
                    if http.get(f"{self.url}/readyz").status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.05)  # the poll interval of the readiness check
        self.kill()
        raise AssertionError(f"jobgate serve not ready within {self.ready_timeout:g} s; log:\n{self.log_text()}")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait for a graceful exit; returns the exit status."""
        proc = self._require()
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"jobgate serve ignored SIGTERM for {timeout:g} s") from None
        finally:
            self._proc = None

    def kill(self) -> None:
        """SIGKILL: the server dies at once, as in a crash."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)

    def _require(self) -> subprocess.Popen[bytes]:
        assert self._proc is not None, "the server is not running"
        return self._proc

    def __enter__(self) -> "JobgateServer":
        return self if self.running else self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.kill()
