"""Cancel latency: from the CancelJob request to the job's Cancelled state, with runners on.

One job at a time: insert it Submitted (bulk SQL path, not the API), wait until a runner holds it
(Executing), let the task get going, send CancelJob over SOAP, wait for Cancelled. The latency is read
from the job's own history: the `cancel_done` event's time minus the wall-clock time the request left
the client (same machine, same clock); the server-side part is `cancel_done` − `cancel`. Two-process
cases run `jobgate serve --runners 0` plus a `jobgate worker` that holds the job, so the cancel crosses
processes (the worker's monitor polls the held jobs' states).
"""

import http.client
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from bench import store
from bench.client import Client
from bench.plan import BENCH_USER, workload
from bench.runs import Context
from bench.servers import Server, jobgate_env, running, start_jobgate, start_worker

ENDLESS: Final = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"
RUNNERS: Final = 2
START_TIMEOUT_S: Final = 30.0
END_TIMEOUT_S: Final = 30.0


@dataclass(frozen=True)
class Case:
    key: str
    backend: str  # sqlite | postgresql
    processes: int  # 1: serve runs the job; 2: a worker process runs it
    task: str  # sleep | sql
    settle_s: float  # pause after Executing so the task is really running (sql: the statement started)

    @property
    def title(self) -> str:
        where = "one process" if self.processes == 1 else "two processes (serve + worker)"
        return f"`{self.task}` task, {'SQLite' if self.backend == 'sqlite' else 'PostgreSQL'}, {where}"

    @property
    def params(self) -> dict[str, str]:
        return {"seconds": "600"} if self.task == "sleep" else {"query": ENDLESS, "context": "MyDB"}


CASES: Final = (
    Case("sleep-sqlite-1", "sqlite", 1, "sleep", 0.05),
    Case("sleep-sqlite-2", "sqlite", 2, "sleep", 0.05),
    Case("sleep-postgresql-1", "postgresql", 1, "sleep", 0.05),
    Case("sleep-postgresql-2", "postgresql", 2, "sleep", 0.05),
    Case("sql-sqlite-1", "sqlite", 1, "sql", 0.2),
)


@contextmanager
def database(ctx: Context, case: Case) -> Iterator[str]:
    if case.backend == "postgresql":
        with store.postgres_schema(ctx.logs) as url:
            yield url
    else:
        yield store.sqlite_url(ctx.store_copy(f"cancel-{case.key}"))


@contextmanager
def jobgate_for(ctx: Context, case: Case, url: str) -> Iterator[Server]:
    data = ctx.work / f"data-{case.key}"
    serve_runners = RUNNERS if case.processes == 1 else 0
    serve_env = jobgate_env(url, data, JOBGATE_RUNNERS=str(serve_runners))
    serve = start_jobgate(f"cancel-{case.key}", serve_env, ctx.logs, None)
    extra = (
        [start_worker(f"worker-{case.key}", jobgate_env(url, data, JOBGATE_RUNNERS=str(RUNNERS)), ctx.logs)]
        if case.processes > 1
        else []
    )
    with running(serve, *extra):
        yield serve


def one_cancel(jobs: store.JobStore, client: Client, case: Case) -> dict[str, Any]:
    job_id = jobs.submit(BENCH_USER, case.task, case.params)
    state = jobs.wait_state(job_id, {"Executing"}, START_TIMEOUT_S)
    if state != "Executing":
        return {"problem": f"job {job_id} never started (state {state})"}
    time.sleep(case.settle_s)
    request = workload("casjobs-soap-cancel").request
    assert request is not None
    try:
        reply = client.send(request, job_id)
    except (OSError, http.client.HTTPException) as exc:
        return {"problem": f"job {job_id}: CancelJob failed: {type(exc).__name__}: {exc}"}
    end = jobs.wait_state(job_id, {"Cancelled", "Failed", "Finished"}, END_TIMEOUT_S)
    if reply.status != 200 or end != "Cancelled":
        return {"problem": f"job {job_id}: CancelJob answered {reply.status}, job ended {end}"}
    at = jobs.event_times(job_id)
    done = at["cancel_done"].timestamp()
    return {
        "total_ms": round((done - reply.sent_at) * 1000, 1),
        "server_ms": round((done - at["cancel"].timestamp()) * 1000, 1),
        "request_ms": round(reply.seconds * 1000, 2),
    }


def percentile(values: list[float], pct: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return round(statistics.quantiles(values, n=100, method="inclusive")[pct - 1], 1)


def run_case(ctx: Context, case: Case) -> dict[str, Any]:
    with database(ctx, case) as url, jobgate_for(ctx, case, url) as serve:
        jobs, client = store.JobStore.open(url), Client(serve.port)
        try:
            # a client that just logged in: its credentials are in the cache, as for any active client
            status = workload("casjobs-soap-status").request
            assert status is not None
            client.send(status, 1)
            found = [one_cancel(jobs, client, case) for _ in range(ctx.plan.cancel_jobs)]
        finally:
            client.close()
            jobs.close()
    measured = [f for f in found if "problem" not in f]
    problems = [str(f["problem"]) for f in found if "problem" in f]
    total = [f["total_ms"] for f in measured]
    result = {
        "title": case.title,
        "jobs": len(found),
        "problems": problems,
        "p50_ms": percentile(total, 50),
        "p99_ms": percentile(total, 99),
        "max_ms": max(total, default=float("nan")),
        "server_p50_ms": percentile([f["server_ms"] for f in measured], 50),
        "server_p99_ms": percentile([f["server_ms"] for f in measured], 99),
        "request_p50_ms": percentile([f["request_ms"] for f in measured], 50),
        "samples_ms": total,
    }
    shout = f"  PROBLEMS {len(problems)}" if problems else ""
    print(
        f"  {case.key:<20} p50 {result['p50_ms']:7.1f}  p99 {result['p99_ms']:7.1f}  max {result['max_ms']:7.1f} ms"
        f"  (server side p50 {result['server_p50_ms']} ms){shout}",
        flush=True,
    )
    return result


def run(ctx: Context) -> dict[str, Any]:
    return {"runners": RUNNERS, "cases": {case.key: run_case(ctx, case) for case in CASES}}
