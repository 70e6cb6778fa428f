"""What every load section shares: the run context and one measured wrk run against one server."""

import time
from dataclasses import dataclass
from pathlib import Path

from bench import store
from bench.client import Client, warm_up
from bench.load import Sample, run_wrk
from bench.plan import Plan, Request, Workload, workloads
from bench.servers import Server


@dataclass(frozen=True)
class Context:
    plan: Plan
    work: Path  # scratch directory of this run (stores, data dirs)
    logs: Path  # server logs and raw wrk output
    template: Path  # SQLite store with the schema and the bench users

    def store_copy(self, name: str) -> Path:
        return store.copy_store(self.template, self.work / f"{name}.db")


def read_twin(workload: Workload) -> Workload:
    """The read-only call on the same binding, of the same dialect where it has one: warm-ups never change a
    job (a dialect without a read row, Trans-WS, warms up on another dialect's)."""
    reads = [w for w in workloads() if w.binding == workload.binding and not w.writes and w.request]
    return next((w for w in reads if w.dialect == workload.dialect), reads[0])


def measure(
    ctx: Context, server: Server, workload: Workload, connections: int, db: Path, jobs: int, pin: bool = True
) -> Sample:
    """Reset the store (writes), warm the server up, run wrk, count the rows a CancelJob run moved, and reset
    again: no job stays Canceling past the default grace + margin, when jobgate's watchdog would fail it."""
    assert workload.request is not None
    if workload.writes:
        store.reset(db)
    twin = read_twin(workload).request
    assert twin is not None
    failed = warm_up(server.port, twin, ctx.plan.warmup_requests, jobs)
    sample = run_wrk(server, workload.request, jobs, connections, ctx.plan.duration_s, ctx.logs / "wrk.log", pin=pin)
    sample.warmup_non2xx = len(failed)
    moved = settle(server, twin, db)
    wal = db.with_name(db.name + "-wal")
    sample.wal_mb = round(wal.stat().st_size / 1e6, 1) if wal.exists() else 0.0
    if workload.writes:
        sample.rows_changed = moved
        store.reset(db)
    return sample


def settle(server: Server, probe: Request, db: Path, quick_s: float = 0.05, limit_s: float = 30.0) -> int:
    """Wait until the requests still in flight when wrk stopped are done (a probe call is answered fast
    and the count of Canceling jobs holds still), so they neither count nor burn the next run's CPU."""
    deadline = time.monotonic() + limit_s
    before = store.count_state(db, "Canceling")
    client = Client(server.port)
    try:
        while True:
            answered = client.send(probe, 1).seconds
            now = store.count_state(db, "Canceling")
            if (answered < quick_s and now == before) or time.monotonic() > deadline:
                return now
            before = now
            time.sleep(0.05)
    finally:
        client.close()


def rotated(items: tuple[str, ...], rep: int) -> tuple[str, ...]:
    """The order of configurations in repetition `rep` (each rep starts one further along)."""
    shift = rep % len(items)
    return items[shift:] + items[:shift]


def say(label: str, s: Sample) -> None:
    """One progress line per run (stdout); errors are shouted."""
    errors = f"  ERRORS {s.errors} (non-2xx {s.non2xx}, socket {s.socket_errors})" if s.errors else ""
    rows = f"  rows {s.rows_changed}/{s.requests}" if s.rows_changed is not None else ""
    figures = f"{s.rps:>9,.0f} req/s  p50 {s.p50_ms:6.2f}  p99 {s.p99_ms:7.2f} ms  load {s.load1:.2f}"
    figures += f"  others {s.foreign_cpu:.2f} CPU" + (f"  I/O stall {s.io_stall:.0%}" if s.io_stall >= 0.01 else "")
    print(f"  {label} {figures}{rows}{errors}", flush=True)
