"""Facts about the machine and the software under test, CPU pinning, free ports, and the wrk check."""

import importlib.metadata
import importlib.util
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

REPO: Final = Path(__file__).resolve().parents[1]
SERVER_CPU: Final = "0"
CLIENT_CPU: Final = "1"
LIBS: Final = (
    "spyne", "lxml", "sqlalchemy", "uvicorn", "uvloop", "httptools", "starlette", "a2wsgi",
    "argon2-cffi", "psycopg", "alembic", "matplotlib",
)  # fmt: skip

WRK_MISSING: Final = """wrk is not installed; the benchmark drives every server with it.
Install it with your package manager, e.g. on Debian/Ubuntu:  apt-get install -y wrk
(macOS: brew install wrk). Then run the benchmark again."""


MODULES_MISSING: Final = """The benchmark needs {missing} (reference config D runs on a2wsgi; the plot uses matplotlib).
Install the bench extra into this environment:  {python} -m pip install -e '.[bench]'"""


def require_tools() -> None:
    """Exit with instructions if wrk or a bench-only package is missing (the harness installs nothing)."""
    if shutil.which("wrk") is None:
        sys.exit(WRK_MISSING)
    missing = [name for name in ("a2wsgi", "matplotlib") if importlib.util.find_spec(name) is None]
    if missing:
        sys.exit(MODULES_MISSING.format(missing=" and ".join(missing), python=sys.executable))


def can_pin() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pinned(argv: list[str], cpus: str | None) -> list[str]:
    """`argv` run on the given CPU list via taskset, or unchanged when pinning is off or unavailable."""
    if cpus is None or not can_pin():
        return argv
    return ["taskset", "-c", cpus, *argv]


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _output(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False, cwd=REPO)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (done.stdout or done.stderr).strip()


def jobgate_commit() -> str:
    commit = _output(["git", "rev-parse", "--short", "HEAD"])
    dirty = _output(["git", "status", "--porcelain", "--", "src"])
    return f"{commit} (+ uncommitted changes in src/)" if dirty else commit


def facts() -> dict[str, Any]:
    wrk_line = _output(["wrk", "-v"]).splitlines()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": wrk_line[0].split(" Copyright")[0] if wrk_line else "unknown",
        "libs": {name: _version(name) for name in LIBS},
        "jobgate_commit": jobgate_commit(),
        "pinning": f"server on CPU {SERVER_CPU}, wrk on CPU {CLIENT_CPU} (taskset)" if can_pin() else "none",
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }
