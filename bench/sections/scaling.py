"""Scaling with the store: the same GetJobStatus/CancelJob load at one concurrency on stores of growing
size (bulk-generated), one server per store, repetitions interleaved across the sizes."""

from collections import defaultdict
from dataclasses import asdict
from functools import partial
from typing import Any, Final

from bench import store
from bench.load import Sample, Summary
from bench.machine import SERVER_CPU
from bench.plan import workload
from bench.runs import Context, measure, rotated, say
from bench.servers import jobgate_env, running, start_all, start_jobgate

WORKLOADS: Final = ("casjobs-soap-status", "casjobs-soap-cancel")


def run(ctx: Context) -> dict[str, Any]:
    plan, sizes = ctx.plan, tuple(sorted(ctx.plan.store_sizes))
    dbs, seed_s = {}, {}
    for size in sizes:
        dbs[size] = ctx.store_copy(f"scaling-{size}")
        seed_s[str(size)] = round(store.seed_executing(dbs[size], 1, size), 1)
        print(f"  store of {size:,} jobs seeded in {seed_s[str(size)]} s", flush=True)
    env = {size: jobgate_env(store.sqlite_url(db), ctx.work / "data") for size, db in dbs.items()}
    servers = start_all(
        {size: partial(start_jobgate, f"scaling-{size}", env[size], ctx.logs, SERVER_CPU) for size in sizes}
    )
    samples: dict[tuple[int, str], list[Sample]] = defaultdict(list)
    order = tuple(str(size) for size in sizes)
    with running(*servers.values()):
        for rep in range(plan.reps):
            for size in (int(s) for s in rotated(order, rep)):
                for key in WORKLOADS:
                    found = measure(ctx, servers[size], workload(key), plan.scaling_concurrency, dbs[size], size)
                    samples[(size, key)].append(found)
                    say(f"rep {rep + 1} {size:>9,} jobs {key:<22}", found)
    results = {str(size): {key: asdict(Summary.of(samples[(size, key)])) for key in WORKLOADS} for size in sizes}
    return {
        "connections": plan.scaling_concurrency,
        "sizes": list(sizes),
        "seed_s": seed_s,
        "results": results,
        "ratios": {key: _ratios(results, sizes, key) for key in WORKLOADS},
    }


def _ratios(results: dict[str, dict[str, Any]], sizes: tuple[int, ...], key: str) -> dict[str, float]:
    small, large = results[str(sizes[0])][key], results[str(sizes[-1])][key]
    return {
        "p50": round(large["p50_ms"] / small["p50_ms"], 3),
        "p99": round(large["p99_ms"] / small["p99_ms"], 3),
        "rps": round(large["rps"] / small["rps"], 3),
    }
