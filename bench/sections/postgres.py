"""PostgreSQL: what one and two jobgate server processes answer, beside reference E_pg, and how fast workers
drain a queue, beside procrastinate; plus the statements and round trips of each hot operation.

1. Requests: CasJobs GetJobStatus and CancelJob (SOAP 1.1, wrk, c=16) against `jobgate serve` (1 process,
   pinned to the server CPU), `jobgate serve --workers 2` (unpinned: it needs both cores), the single process
   with JOBGATE_INLINE_HOT_PATH=on (jobgate-1-inline) and E_pg (raw ASGI +
   hardened lxml + the same statements through psycopg with a pool of 10, pinned like jobgate-1), repetitions
   interleaved, on one schema of Executing jobs (CancelJob runs are undone between runs).
2. Claims: 10,000 trivial jobs drained by 2 worker processes: `jobgate worker` (`sleep` 0 s jobs, inserted by
   bulk SQL once the workers listen) and procrastinate's worker (a no-op task, batch-deferred), each at 1
   and 4 jobs at a time per process, in the same run, each on a fresh schema of the same database.
3. Round trips: the hot operations run in this process through the ASGI app with libpq's protocol trace on
   every pooled connection: messages per request (Query / Parse-Bind-Execute / Sync).
4. Profile: py-spy on the single served process under the status load (top frames), when py-spy is installed.
"""

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bench import store
from bench.client import warm_up
from bench.load import Sample, Summary, run_wrk
from bench.machine import REPO, SERVER_CPU, load_average
from bench.plan import BENCH_USER, workload
from bench.runs import Context, read_twin, rotated, say
from bench.servers import (
    LOGGING_OFF,
    Server,
    clean_env,
    jobgate_env,
    launch,
    running,
    start_jobgate,
    start_reference_pg,
)

WORKLOADS: Final = ("casjobs-soap-status", "casjobs-soap-cancel")
CONNECTIONS: Final = 16
CLAIM_WORKERS: Final = 2
CLAIM_CONCURRENCY: Final = (1, 4)
DRAIN_TIMEOUT_S: Final = 600.0
PG_DSN: Final = "host=127.0.0.1 port=5432 user=postgres dbname=test"

_SEED_EXECUTING: Final = text(
    """
    INSERT INTO jobs (id, key, owner, project, task, name, params, state, queue, synchronous, system, deleted,
                      submitted_at, started_at, state_changed_at, runner_id, heartbeat_at, attempts, version)
    SELECT i, lpad(to_hex(i), 32, '0'), :owner, '', 'sleep', '', CAST(:params AS json), 'Executing', 'default',
           false, false, false, now(), now(), now(), :runner, NULL, 1, 2
    FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS i
    """
)
_SEED_EVENTS: Final = text(
    """
    INSERT INTO job_events (job_id, seq, stage, status, from_state, to_state, at, actor, protocol, reason)
    SELECT id, 1, 'submit', 'ok', NULL, 'Submitted', now(), owner, 'cli', NULL FROM jobs
    UNION ALL
    SELECT id, 2, 'start', 'ok', 'Submitted', 'Executing', now(), 'system', 'runner', NULL FROM jobs
    """
)
_SEED_QUEUE: Final = text(
    """
    WITH made AS (
        INSERT INTO jobs (key, owner, project, task, name, params, state, queue, synchronous, system, deleted,
                          submitted_at, state_changed_at, attempts, version)
        SELECT md5(random()::text || i), :owner, '', 'sleep', '', CAST('{"seconds": "0"}' AS json), 'Submitted',
               'default', false, false, false, now(), now(), 0, 1
        FROM generate_series(1, CAST(:count AS bigint)) AS i
        RETURNING id, owner
    )
    INSERT INTO job_events (job_id, seq, stage, status, from_state, to_state, at, actor, protocol, reason)
    SELECT id, 1, 'submit', 'ok', NULL, 'Submitted', now(), owner, 'cli', NULL FROM made
    """
)
_RESET_EVENTS: Final = text("DELETE FROM job_events WHERE seq > 2")
_RESET_JOBS: Final = text(
    "UPDATE jobs SET state = 'Executing', version = 2, ended_at = NULL, error = NULL, runner_id = :runner "
    "WHERE state <> 'Executing'"
)


def run(ctx: Context) -> dict[str, Any]:
    jobs = ctx.plan.jobs // 5  # 20,000 (quick: 4,000): a PostgreSQL index lookup does not depend on it
    claim_jobs = 1_000 if ctx.plan.quick else 10_000
    with store.postgres_schema(ctx.logs) as url:
        seeded = _seed_executing(url, jobs)
        print(f"  PostgreSQL store of {jobs:,} Executing jobs seeded in {seeded:.1f} s", flush=True)
        requests, profile = _requests(ctx, url, jobs)
        trips = _round_trips(url, jobs)
    claims = _claims(ctx, claim_jobs)
    return {
        "connections": CONNECTIONS,
        "jobs": jobs,
        "requests": requests,
        "ratios": {
            key: {
                name: round(requests[name][key]["rps"] / requests["E_pg"][key]["rps"], 3)
                for name in requests
                if requests["E_pg"][key]["rps"]
            }
            for key in WORKLOADS
        },
        "round_trips": trips,
        "profile": profile,
        "claims": claims,
        "max_connections": _max_connections(),
        "load1_end": load_average(),
    }


# -- 1. requests ------------------------------------------------------------------------------------------
def _seed_executing(url: str, jobs: int) -> float:
    started = time.monotonic()
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(_SEED_EXECUTING, {"first": 1, "last": jobs, "owner": BENCH_USER.name,
                                       "params": store.SLEEP_PARAMS, "runner": store.SEED_RUNNER})  # fmt: skip
        conn.execute(_SEED_EVENTS)
        conn.execute(text("SELECT setval(pg_get_serial_sequence('jobs', 'id'), :last)"), {"last": jobs})
        conn.execute(text("ANALYZE jobs"))
    engine.dispose()
    return time.monotonic() - started


def _reset(url: str) -> int:
    """Undo a CancelJob run; the number of jobs it had moved."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(_RESET_EVENTS)
        moved = conn.execute(_RESET_JOBS, {"runner": store.SEED_RUNNER}).rowcount
    engine.dispose()
    return int(moved)


def _requests(ctx: Context, url: str, jobs: int) -> tuple[dict[str, Any], dict[str, Any]]:
    data = ctx.work / "data-postgres"
    env = jobgate_env(url, data, **LOGGING_OFF)
    servers = {
        "jobgate-1": start_jobgate("pg-jobgate-1", env, ctx.logs, SERVER_CPU),
        "jobgate-2": start_jobgate("pg-jobgate-2", env, ctx.logs, None, workers=2),
        # the same process with the hot calls run on the event loop, as E_pg runs them (not the PostgreSQL default:
        # a call then holds the loop for its round trips)
        "jobgate-1-inline": start_jobgate(
            "pg-jobgate-1-inline", {**env, "JOBGATE_INLINE_HOT_PATH": "on"}, ctx.logs, SERVER_CPU
        ),
        "E_pg": start_reference_pg("E", url, BENCH_USER, ctx.logs, SERVER_CPU),
    }
    samples: dict[tuple[str, str], list[Sample]] = defaultdict(list)
    profile: dict[str, Any] = {}
    with running(*servers.values()):
        for rep in range(ctx.plan.reps):
            for name in rotated(tuple(servers), rep):
                for key in WORKLOADS:
                    found = _measure(ctx, servers[name], key, url, jobs)
                    samples[(name, key)].append(found)
                    say(f"rep {rep + 1} {name:<10} {key:<22}", found)
        profile = _profile(ctx, servers["jobgate-1"], jobs)
    results = {name: {key: asdict(Summary.of(samples[(name, key)])) for key in WORKLOADS} for name in servers}
    return results, profile


def _measure(ctx: Context, server: Server, key: str, url: str, jobs: int) -> Sample:
    load = workload(key)
    assert load.request is not None
    twin = read_twin(load).request
    assert twin is not None
    if load.writes:
        _reset(url)
    failed = warm_up(server.port, twin, ctx.plan.warmup_requests, jobs)
    sample = run_wrk(server, load.request, jobs, CONNECTIONS, ctx.plan.duration_s, ctx.logs / "wrk-pg.log")
    sample.warmup_non2xx = len(failed)
    if load.writes:
        time.sleep(0.2)  # requests still in flight when wrk stopped
        sample.rows_changed = _reset(url)
    return sample


def _profile(ctx: Context, server: Server, jobs: int) -> dict[str, Any]:
    """py-spy's top functions (own time, and with callees) over a status run on the single server process."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        return {"skipped": "py-spy not installed (pip install py-spy)"}
    out = ctx.logs / "pg-profile.txt"
    seconds = max(3, ctx.plan.duration_s)
    load = workload("casjobs-soap-status")
    assert load.request is not None
    with out.open("w") as raw:
        spying = subprocess.Popen(
            [spy, "record", "--pid", str(server.proc.pid), "--duration", str(seconds), "--rate", "200",
             "--format", "raw", "--output", str(out.with_suffix(".folded")), "--nonblocking"],
            stdout=raw, stderr=subprocess.STDOUT,
        )  # fmt: skip
        time.sleep(0.5)  # py-spy attaching
        run_wrk(server, load.request, jobs, CONNECTIONS, seconds, ctx.logs / "wrk-pg.log")
        spying.wait(60)
    folded = out.with_suffix(".folded")
    if not folded.exists():
        return {"skipped": f"py-spy recorded nothing ({out.read_text(errors='replace')[-300:]})"}
    return _fold(folded)


_BUCKETS: Final = (
    ("psycopg / libpq (database round trips)", ("psycopg", "pq/")),
    ("SQLAlchemy", ("sqlalchemy",)),
    ("jobgate store", ("jobgate/store",)),
    ("Spyne", ("spyne",)),
    ("lxml", ("lxml", "etree")),
    ("jobgate dialects and services", ("jobgate/dialects", "jobgate/services", "jobgate/domain")),
    ("uvicorn, httptools, asyncio", ("uvicorn", "httptools", "asyncio", "uvloop")),
    ("starlette, anyio", ("starlette", "anyio")),
)


def _fold(folded: Path) -> dict[str, Any]:
    """Share of on-CPU samples by where the innermost recognisable frame is, and the top leaf functions."""
    buckets: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in folded.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaves[frames[-1][:120]] += count
        for frame in reversed(frames):
            bucket = next((name for name, marks in _BUCKETS if any(m in frame for m in marks)), None)
            if bucket is not None:
                buckets[bucket] += count
                break
        else:
            buckets["other"] += count
    if not total:
        return {"samples": 0}
    return {
        "samples": total,
        "by_part": {name: round(n / total, 3) for name, n in buckets.most_common()},
        "top_leaves": [[name, round(n / total, 3)] for name, n in leaves.most_common(12)],
    }


# -- 3. round trips -------------------------------------------------------------------------------------------
def _round_trips(url: str, jobs: int) -> dict[str, Any]:
    """The protocol messages each hot operation sends, counted from libpq's trace of this process's pool."""
    code = f"""
import json, os, sys, tempfile
from collections import Counter
from sqlalchemy import event
from starlette.testclient import TestClient
from jobgate.app import create_app
from jobgate.config import Settings
from bench.plan import BENCH_USER, workload

trace = open(sys.argv[1], "w")
settings = Settings(database_url={url!r}, runners=0, data_dir=tempfile.mkdtemp(), access_log=False,
                    log_level="warning")
app = create_app(settings, migrate=False)
engine = app.state.components.engine
engine.pool.dispose()  # connections create_app opened before the trace was set up

pooled = []

@event.listens_for(engine, "connect")
def traced(dbapi_conn, _record):
    pooled.append(dbapi_conn)
    dbapi_conn.pgconn.trace(trace.fileno())
    dbapi_conn.pgconn.set_trace_flags(3)  # no timestamps, regress mode

def flush():  # libpq buffers its trace in a stdio stream of its own: PQuntrace flushes it
    for conn in pooled:
        if not conn.closed:
            conn.pgconn.untrace()
            conn.pgconn.trace(trace.fileno())
            conn.pgconn.set_trace_flags(3)
    trace.flush()

out = {{}}
with TestClient(app) as client:
    for key in {WORKLOADS!r}:
        request = workload(key).request
        flush()
        warm_start = os.path.getsize(sys.argv[1])
        for n in range(20):  # warm: pool filled, caches loaded, statements prepared (their text shows here)
            path, body = request.filled(n + 1)
            assert client.post(path, content=body, headers=dict(request.headers)).status_code == 200
        flush()
        start = os.path.getsize(sys.argv[1])
        count = 200
        for n in range(count):
            path, body = request.filled(n + 100)
            assert client.post(path, content=body, headers=dict(request.headers)).status_code == 200
        flush()
        with open(sys.argv[1], errors="replace") as seen:
            seen.seek(warm_start)
            warm = [line.split("\\t") for line in seen.read(start - warm_start).splitlines()]
            lines = [line.split("\\t") for line in seen.read().splitlines()]
        sent = Counter(parts[2] for parts in lines if len(parts) > 2 and parts[0] == "F")
        def sql(parts):  # Query: "TEXT"; Parse: "NAME" "TEXT" N …
            args = parts[3].strip()
            return args[1:-1] if parts[2] == "Query" else args.split('" "', 1)[1].rsplit('" ', 1)[0]
        texts = Counter(sql(parts)[:100] for parts in warm + lines
                        if len(parts) > 3 and parts[0] == "F" and parts[2] in ("Query", "Parse"))
        out[key] = {{"per_request": {{k: round(v / count, 2) for k, v in sent.items()}},
                    "round_trips": round((sent["Sync"] + sent["Query"]) / count, 2),
                    "statements": round((sent["Execute"] + sent["Query"]) / count, 2),
                    "texts": sorted(texts)}}
print("BENCH-JSON " + json.dumps(out))
"""
    with tempfile.TemporaryDirectory() as where:
        done = subprocess.run(
            [sys.executable, "-c", code, str(Path(where) / "trace.txt")], cwd=REPO, capture_output=True, text=True,
            env=clean_env({}), timeout=300,
        )  # fmt: skip
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH-JSON ")), None)
    if line is None:
        return {"failed": (done.stderr or done.stdout)[-1500:]}
    found: dict[str, Any] = __import__("json").loads(line.removeprefix("BENCH-JSON "))
    for key, figures in found.items():
        print(f"  {key}: {figures['round_trips']} round trips, {figures['statements']} statements per request",
              flush=True)  # fmt: skip
    _reset(url)
    return found


# -- 2. claims ------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _fresh_schema(prefix: str) -> Iterator[str]:
    schema = f"{prefix}_{os.getpid()}_{int(time.time() * 1000) % 10**8}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _listeners(channel_like: str) -> int:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND state = 'idle'", (channel_like,)
        ).fetchone()
    return int(row[0]) if row else 0


def _wait(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _count(sql: str, schema: str) -> int:
    with psycopg.connect(PG_DSN, autocommit=True, options=f"-csearch_path={schema}") as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _claims(ctx: Context, count: int) -> dict[str, Any]:
    results: dict[str, list[float]] = defaultdict(list)
    cases = [f"{queue}-{per}" for per in CLAIM_CONCURRENCY for queue in ("jobgate", "procrastinate")]
    for rep in range(max(1, min(ctx.plan.reps, 2))):
        for case in rotated(tuple(cases), rep):
            queue, per = case.rsplit("-", 1)
            rate = (_drain_jobgate if queue == "jobgate" else _drain_procrastinate)(ctx, count, int(per))
            results[case].append(rate)
            print(f"  claims rep {rep + 1} {case:<16} {rate:8,.0f} jobs/s  load {load_average():.2f}", flush=True)
    return {
        "jobs": count,
        "workers": CLAIM_WORKERS,
        "jobs_per_s": {case: round(statistics.median(rates), 1) for case, rates in results.items()},
        "all": {case: [round(r, 1) for r in rates] for case, rates in results.items()},
    }


def _drain_jobgate(ctx: Context, count: int, per_worker: int) -> float:
    with _fresh_schema("claims_jg") as schema:
        url = f"{store.PG_BASE}?options=-csearch_path%3D{schema}"
        from bench.servers import add_user

        add_user(BENCH_USER, url, ctx.logs)  # builds the schema too
        env = jobgate_env(url, ctx.work / "data-claims", JOBGATE_RUNNERS=str(per_worker), **LOGGING_OFF)
        workers = [launch(f"claims-jobgate-{n}", [sys.executable, "-m", "jobgate", "worker"], env, ctx.logs, None)
                   for n in range(CLAIM_WORKERS)]  # fmt: skip
        with running(*workers):
            _wait(lambda: _listeners(f'LISTEN "jobgate.{schema}"%') >= CLAIM_WORKERS, 60, "jobgate workers")
            engine = create_engine(url, poolclass=NullPool)
            with engine.begin() as conn:
                conn.execute(_SEED_QUEUE, {"count": count, "owner": BENCH_USER.name})
            engine.dispose()
            started = time.monotonic()
            done = "SELECT count(*) FROM jobs WHERE state IN ('Finished', 'Failed')"
            _wait(lambda: _count(done, schema) >= count, DRAIN_TIMEOUT_S, "the jobgate queue to drain")
            seconds = time.monotonic() - started
            failed = _count("SELECT count(*) FROM jobs WHERE state = 'Failed'", schema)
        if failed:
            raise RuntimeError(f"{failed} jobgate claim-bench jobs failed")
    return count / seconds


def _drain_procrastinate(ctx: Context, count: int, per_worker: int) -> float:
    with _fresh_schema("claims_pq") as schema:
        dsn = f"{PG_DSN} options=-csearch_path={schema}"
        env = clean_env({"BENCH_PROCRASTINATE_DSN": dsn, "PYTHONPATH": str(REPO)})
        cli = [sys.executable, "-m", "procrastinate", "--app=bench.procq.app"]
        subprocess.run([*cli, "schema", "--apply"], cwd=REPO, env=env, check=True, capture_output=True, timeout=120)
        workers = [launch(f"claims-procrastinate-{n}", [*cli, "worker", "-c", str(per_worker)], env, ctx.logs, None)
                   for n in range(CLAIM_WORKERS)]  # fmt: skip
        with running(*workers):
            _wait(lambda: _listeners("%LISTEN%procrastinate%") >= CLAIM_WORKERS, 60, "procrastinate workers")
            from procrastinate import App, PsycopgConnector

            deferring = App(connector=PsycopgConnector(conninfo=dsn))
            with deferring.open():
                deferring.configure_task(name="noop").batch_defer(*({} for _ in range(count)))
            started = time.monotonic()  # committed: the jobs are visible now
            done = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('succeeded', 'failed')"
            _wait(lambda: _count(done, schema) >= count, DRAIN_TIMEOUT_S, "the procrastinate queue to drain")
            seconds = time.monotonic() - started
    return count / seconds


def _max_connections() -> int:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        row = conn.execute("SHOW max_connections").fetchone()
    return int(row[0]) if row else 0
