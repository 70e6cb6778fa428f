"""One wrk run (`-t1`, `--latency`, bench/lua/jobs.lua) and the summary of repeated runs."""

import json
import math
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from bench.cpu import Meter
from bench.machine import CLIENT_CPU, REPO, load_average, pinned
from bench.plan import Request
from bench.servers import Server

LUA: Final = REPO / "bench" / "lua" / "jobs.lua"
PRIMES: Final = (7919, 104_729, 1_299_709, 15_485_863)
TIMEOUT: Final = "5s"  # wrk's per-request timeout; a timeout counts as an error in the report


def permutation_step(n: int) -> int:
    """A stride coprime to n: i*step mod n then visits every id once before repeating."""
    return next(p for p in PRIMES if math.gcd(p, n) == 1)


@dataclass
class Sample:
    """One wrk run against one server."""

    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    non2xx: int  # wrk counts HTTP status ≥ 400 here
    socket_errors: int  # connect + read + write + timeout
    load1: float  # 1-minute load average just before the run
    rows_changed: int | None = None  # CancelJob runs: jobs moved Executing → Canceling
    wrapped: bool = False  # more requests than distinct job ids: later CancelJobs changed nothing
    warmup_non2xx: int = 0  # failed warm-up requests (sent before wrk starts)
    foreign_cpu: float = 0.0  # CPUs' worth of time other processes used during the run (bench/cpu.py)
    steal_cpu: float = 0.0  # CPUs' worth of time the hypervisor stole during the run
    io_stall: float = 0.0  # share of the run during which every runnable task waited on I/O
    wal_mb: float | None = None  # SQLite WAL file size after the run (its high-water mark since start)

    @property
    def errors(self) -> int:
        return self.non2xx + self.socket_errors + self.warmup_non2xx


def run_wrk(
    server: Server, request: Request, n: int, connections: int, duration_s: int, log: Path, pin: bool = True
) -> Sample:
    load1, base_url = load_average(), server.base
    headers = [f"{name}: {value}" for name, value in request.headers]
    argv = [
        "wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--latency", "--timeout", TIMEOUT,
        "-s", str(LUA), base_url, "--", request.method, request.path, request.body, str(n),
        str(permutation_step(n)), *headers,
    ]  # fmt: skip
    meter, started = Meter(server.proc.pid).start(), time.monotonic()
    done = subprocess.run(
        pinned(argv, CLIENT_CPU if pin else None), capture_output=True, text=True, timeout=duration_s + 60
    )
    foreign, steal, io_stall = meter.stop(time.monotonic() - started)
    with log.open("a") as out:
        out.write(f"$ wrk -c{connections} -d{duration_s}s {base_url}{request.path[:60]}\n{done.stdout}{done.stderr}\n")
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH-JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout[-500:]}")
    raw = json.loads(line.removeprefix("BENCH-JSON "))
    seconds = raw["duration_us"] / 1e6
    return Sample(
        rps=round(raw["requests"] / seconds, 1),
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        requests=raw["requests"],
        non2xx=raw["status"],
        socket_errors=raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
        load1=load1,
        wrapped=raw["requests"] > n,
        foreign_cpu=foreign,
        steal_cpu=steal,
        io_stall=io_stall,
    )


@dataclass
class Summary:
    """Medians over repetitions; spread = (max − min) / median of req/s."""

    rps: float
    spread: float
    p50_ms: float
    p99_ms: float
    errors: int
    foreign_cpu: float  # the most any repetition shared the machine with other processes
    samples: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, samples: list[Sample]) -> "Summary":
        rates = [s.rps for s in samples]
        middle = statistics.median(rates)
        return cls(
            rps=round(middle, 1),
            spread=round((max(rates) - min(rates)) / middle, 3) if middle else 0.0,
            p50_ms=round(statistics.median(s.p50_ms for s in samples), 3),
            p99_ms=round(statistics.median(s.p99_ms for s in samples), 3),
            errors=sum(s.errors for s in samples),
            foreign_cpu=max(s.foreign_cpu for s in samples),
            samples=[asdict(s) for s in samples],
        )
