"""What the access log costs per request, in CPU time: the whole app (create_app, lifespan, one SQLite
store) driven in process by a minimal ASGI caller, with the access log on and off, stderr to a file.
CPU time of the process (all its threads, so the log writer's too) divided by the requests: on a busy
shared machine it moves far less than req/s does. Each configuration runs in its own process, repetitions
interleaved; `src=DIR` runs another build (see bench/ab.py).

    python -m bench.logcost --jobgate on: --jobgate 'off:JOBGATE_ACCESS_LOG=false,JOBGATE_LOG_LEVEL=warning' \\
        --jobgate 'old-on:src=/tmp/old/src' --requests 20000 --reps 5
"""

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ab import parse_config
from bench.machine import REPO, SERVER_CPU, load_average, pinned
from bench.plan import workload
from bench.servers import clean_env

JOBS = 1000


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.logcost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobgate", type=parse_config, action="append", help="NAME:[VAR=VALUE,...]")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # the work directory of one child run
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.child:
        print(json.dumps(asyncio.run(child(args.child, args.requests))))
        return 0
    configs = dict(args.jobgate or [])
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in configs}
    print(f"load average {load_average()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="jobgate-logcost-") as work:
        for rep in range(args.reps):
            names = list(configs)
            for name in names[rep % len(names) :] + names[: rep % len(names)]:
                found = run_child(Path(work) / f"{name}-{rep}", configs[name], args.requests)
                runs[name].append(found)
                print(
                    f"  rep {rep + 1} {name:<12} {found['cpu_us']:7.1f} µs CPU  {found['wall_us']:7.1f} µs wall",
                    flush=True,
                )
    print(f"\nCPU µs per request (median of {args.reps}; {args.requests:,} SOAP GetJobStatus each):")
    for name, found in runs.items():
        cpus = [r["cpu_us"] for r in found]
        print(f"  {name:<12} {statistics.median(cpus):7.1f}  (range {min(cpus):.1f}–{max(cpus):.1f})")
    return 0


def run_child(work: Path, settings: dict[str, str], requests: int) -> dict[str, float]:
    work.mkdir(parents=True)
    extra = dict(settings)
    src = extra.pop("src", None)
    env = clean_env({"JOBGATE_DATABASE_URL": f"sqlite:///{work / 'store.db'}", "JOBGATE_DATA_DIR": str(work / "data")})
    env.update(extra)
    if src:
        env["PYTHONPATH"] = str(Path(src).resolve())
    argv = [sys.executable, "-m", "bench.logcost", "--child", str(work), "--requests", str(requests)]
    with (work / "stderr.log").open("wb") as err:
        done = subprocess.run(
            pinned(argv, SERVER_CPU), cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=err, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(f"child failed: {(work / 'stderr.log').read_text()[-3000:]}")
    found: dict[str, float] = json.loads(done.stdout)
    return found


async def child(work: Path, requests: int) -> dict[str, float]:
    from bench import store
    from bench.plan import BENCH_USER
    from bench.servers import add_user
    from jobgate import logs
    from jobgate.app import create_app
    from jobgate.config import Settings

    db = work / "store.db"
    add_user(BENCH_USER, store.sqlite_url(db), work)
    store.seed_executing(db, 1, JOBS)
    settings = Settings()
    logs.configure(settings.log_level)
    app = create_app(settings)
    lifespan = Lifespan(app)
    await lifespan.start()
    request = workload("casjobs-soap-status").request
    assert request is not None
    for n in range(200):  # warm-up: the credential cache, SQLite's page cache
        await call(app, request, n % JOBS + 1)
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(requests):
        await call(app, request, n % JOBS + 1)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await lifespan.stop()
    return {"cpu_us": round(cpu / requests * 1e6, 2), "wall_us": round(wall / requests * 1e6, 2)}


class Lifespan:
    def __init__(self, app: Any) -> None:
        self.app, self.inbox, self.outbox = app, asyncio.Queue[dict[str, str]](), asyncio.Queue[dict[str, Any]]()

    async def start(self) -> None:
        self.task = asyncio.create_task(
            self.app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, self.inbox.get, self.outbox.put)
        )
        await self.inbox.put({"type": "lifespan.startup"})
        assert (await self.outbox.get())["type"] == "lifespan.startup.complete"

    async def stop(self) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        assert (await self.outbox.get())["type"] == "lifespan.shutdown.complete"
        await self.task


async def call(app: Any, request: Any, job_id: int) -> None:
    path, body = request.filled(job_id)
    headers = [(k.lower().encode(), v.encode()) for k, v in request.headers]
    headers += [(b"host", b"127.0.0.1:8080"), (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": request.method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8080), "state": {},
    }  # fmt: skip
    delivered, status = False, 0

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # never disconnects
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    assert status == 200, f"HTTP {status}"


if __name__ == "__main__":
    sys.exit(main())
