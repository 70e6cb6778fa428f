"""Submit → Executing latency in one process: `python -m bench.submit_latency [--jobs N] [--runners N]`.

Builds the app's parts on a scratch SQLite store, starts the runner pool, and submits jobs one at a time
from this thread, each after a random pause (so a submit lands at any point of an idle runner's poll). A
probe task notes when a runner starts it: the job has just been claimed (Executing). Prints the median,
p90 and worst latency from the return of submit's caller to the task's start. Not part of the test suite.
"""

import argparse
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from jobgate.app import build
from jobgate.config import Settings
from jobgate.domain.model import ADMIN_GROUP, Actor, Channel, Job, JobSpec, TaskResult
from jobgate.store.migrate import upgrade


def measure(jobs: int, runners: int, scratch: Path) -> list[float]:
    settings = Settings(
        database_url=f"sqlite:///{scratch / 'jobs.db'}",
        data_dir=scratch / "data",
        runners=runners,
        argon2_time_cost=1,
        argon2_memory_kib=8,
        access_log=False,
    )
    parts = build(settings)
    upgrade(parts.engine)
    started: dict[int, float] = {}
    ran = threading.Semaphore(0)

    def probe(job: Job, *_: Any) -> TaskResult:
        started[job.id] = time.perf_counter()
        ran.release()
        return TaskResult(rows=0, summary="probed")

    parts.pool._tasks["probe"] = probe  # a bench-only task, added to the pool build() wired
    user = parts.identity.add_user("bench", "bench-password", groups=[ADMIN_GROUP])
    actor = Actor.of(user, Channel.CLI)
    parts.pool.start()
    rng = random.Random(19)
    latencies = []
    try:
        for _ in range(jobs):
            time.sleep(rng.uniform(0.0, 0.3))  # the bench's own pacing: land anywhere in a poll interval
            asked = time.perf_counter()
            job = parts.jobs.submit(actor, JobSpec("probe"))
            if not ran.acquire(timeout=10):
                raise SystemExit(f"job {job.id} did not start within 10 s")
            latencies.append(started[job.id] - asked)
    finally:
        parts.pool.stop()
        parts.engine.dispose()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.submit_latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--runners", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jobgate-submit-latency-") as scratch:
        got = sorted(measure(args.jobs, args.runners, Path(scratch)))
    p90 = got[int(0.9 * (len(got) - 1))]
    print(
        f"submit → Executing over {len(got)} jobs, {args.runners} runners: "
        f"median {statistics.median(got) * 1e3:.2f} ms, p90 {p90 * 1e3:.2f} ms, max {got[-1] * 1e3:.2f} ms"
    )


if __name__ == "__main__":
    main()
