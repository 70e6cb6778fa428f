"""Request throughput: jobgate as `jobgate serve` runs out of the box, the same build with logging off, and
the reference configurations A, D, D2, E; every implemented workload at every concurrency, repetitions
interleaved with the order rotated per rep."""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any, Final

from bench import store
from bench.load import Sample, Summary
from bench.machine import SERVER_CPU
from bench.plan import BENCH_USER, workloads
from bench.runs import Context, measure, rotated, say
from bench.servers import LOGGING_OFF, Server, jobgate_env, running, start_all, start_jobgate, start_reference

# jobgate's configurations: the settings each gets beyond the database and the data directory
JOBGATE: Final[dict[str, dict[str, str]]] = {"jobgate": {}, "jobgate-quiet": LOGGING_OFF}
REFERENCES: Final = ("A", "D", "D2", "E")
CONFIGS: Final = (*JOBGATE, *REFERENCES)


def start_servers(ctx: Context, db_name: str, jobs: int) -> tuple[dict[str, Server], Path]:
    db = ctx.store_copy(db_name)
    store.seed_executing(db, 1, jobs)
    starters: dict[str, Callable[[], Server]] = {
        name: partial(
            start_jobgate, name, jobgate_env(store.sqlite_url(db), ctx.work / name, **extra), ctx.logs, SERVER_CPU
        )
        for name, extra in JOBGATE.items()
    }
    for config in REFERENCES:
        starters[config] = partial(start_reference, config, db, BENCH_USER, ctx.logs, SERVER_CPU)
    return start_all(starters), db


def run(ctx: Context) -> dict[str, Any]:
    plan, jobs = ctx.plan, ctx.plan.jobs
    servers, db = start_servers(ctx, "throughput", jobs)
    samples: dict[tuple[str, int, str], list[Sample]] = defaultdict(list)
    with running(*servers.values()):
        for rep in range(plan.reps):
            for workload in (w for w in workloads() if w.request is not None):
                for connections in plan.concurrency:
                    # a workload with no reference of its own (compared_to) runs on jobgate alone
                    refs = () if workload.compared_to is not None else workload.references
                    served = (c for c in rotated(CONFIGS, rep) if c in JOBGATE or c in refs)
                    for config in served:
                        sample = measure(ctx, servers[config], workload, connections, db, jobs)
                        samples[(workload.key, connections, config)].append(sample)
                        say(f"rep {rep + 1} {workload.key:<22} c={connections:<3} {config:<13}", sample)
    return {
        "configs": list(CONFIGS),
        "jobs": jobs,
        "results": _nest({key: Summary.of(found) for key, found in samples.items()}),
    }


def _nest(flat: dict[tuple[str, int, str], Summary]) -> dict[str, dict[str, dict[str, Any]]]:
    nested: dict[str, dict[str, dict[str, Any]]] = defaultdict(lambda: defaultdict(dict))
    for (workload, connections, config), summary in flat.items():
        nested[workload][str(connections)][config] = asdict(summary)
    return {w: dict(by_c) for w, by_c in nested.items()}
