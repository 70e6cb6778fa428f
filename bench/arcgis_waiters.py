"""What a thousand ArcGIS clients waiting on `…/jobs/<jobId>?wait=<s>` cost the server, and how fast they all
hear a change: `python -m bench.arcgis_waiters [--clients N] [--database-url URL]`.

Starts `jobgate serve` (one runner), submits one long `sleep` job, opens N concurrent waiting status calls,
then reads the server's resident memory, threads, open sockets and database connections from /proc (and
pg_stat_activity on PostgreSQL) before and while they wait; finally cancels the job and times how long the
last waiter takes to answer. Not part of the test suite.
"""

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = "/arcgis"
TASK = f"{ROOT}/rest/services/bench/GPServer/sleep"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_figures(pid: int) -> dict[str, Any]:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status)
    fds = list(Path(f"/proc/{pid}/fd").iterdir())
    targets = [os.readlink(fd) for fd in fds if fd.exists()]
    return {
        "rss_mib": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
        "threads": int(fields["Threads"]),
        "sockets": sum(t.startswith("socket:") for t in targets),
        "db_files_open": sum(t.endswith((".db", ".db-wal", ".db-shm")) for t in targets),
    }


def postgres_connections(url: str) -> int | None:
    if not url.startswith("postgresql"):
        return None
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://").split("?")[0]) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()").fetchone()
        return int(row[0]) if row else None


def start(work: Path, database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "JOBGATE_DATABASE_URL": database_url, "JOBGATE_DATA_DIR": str(work / "data"),
           "JOBGATE_RUNNERS": "1", "JOBGATE_ACCESS_LOG": "false", "JOBGATE_ARGON2_TIME_COST": "1",
           "JOBGATE_ARGON2_MEMORY_KIB": "8"}  # fmt: skip
    subprocess.run([sys.executable, "-m", "jobgate", "db", "upgrade"], env=env, check=True, cwd=work)
    subprocess.run([sys.executable, "-m", "jobgate", "user", "add", "bench", "--password", "bench-pw"],
                   env=env, check=True, cwd=work, capture_output=True)  # fmt: skip
    log = (work / "server.log").open("wb")
    argv = [sys.executable, "-m", "jobgate", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"]
    proc = subprocess.Popen(argv, env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # readiness poll interval
    proc.kill()
    raise SystemExit("jobgate serve did not start")


async def measure(url: str, pid: int, clients: int, database_url: str) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    async with httpx.AsyncClient(base_url=url, timeout=90, limits=limits) as http:
        form = {"username": "bench", "password": "bench-pw", "f": "json"}
        token = (await http.post(f"{ROOT}/tokens/generateToken", data=form)).json()["token"]
        job = (await http.post(f"{TASK}/submitJob", data={"seconds": 600, "f": "json", "token": token})).json()
        job_id = job["jobId"]
        params = {"f": "json", "token": token}
        while (await http.get(f"{TASK}/jobs/{job_id}", params=params)).json()["jobStatus"] != "esriJobExecuting":
            await asyncio.sleep(0.05)
        before = process_figures(pid) | {"pg_connections": postgres_connections(database_url)}
        waiting = [asyncio.create_task(http.get(f"{TASK}/jobs/{job_id}", params={**params, "wait": 60}))
                   for _ in range(clients)]  # fmt: skip
        await asyncio.sleep(5)  # let every call arrive and settle into its wait
        during = process_figures(pid) | {"pg_connections": postgres_connections(database_url)}
        pending = sum(not task.done() for task in waiting)
        started = time.monotonic()
        await http.post(f"{TASK}/jobs/{job_id}/cancel", data=params)
        answers = await asyncio.gather(*waiting)
        elapsed = time.monotonic() - started
        statuses = {a.json().get("jobStatus") for a in answers}
    return {"clients": clients, "still_waiting_before_cancel": pending, "before": before, "while_waiting": during,
            "all_answered_s": round(elapsed, 3), "statuses": sorted(map(str, statuses))}  # fmt: skip


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.arcgis_waiters")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        database_url = args.database_url or f"sqlite:///{work / 'bench.db'}"
        proc, url = start(work, database_url)
        try:
            result = asyncio.run(measure(url, proc.pid, args.clients, database_url))
        finally:
            proc.terminate()
            proc.wait(30)
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main(sys.argv[1:])
