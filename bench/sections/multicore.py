"""Multi-core: `jobgate serve --workers 2` against one process, CasJobs SOAP GetJobStatus.

Neither the servers nor wrk are pinned here (two server processes need both CPUs); on a 2-CPU machine
wrk competes with them for the same cores, which the report says next to the numbers.
"""

from collections import defaultdict
from dataclasses import asdict
from functools import partial
from typing import Any, Final

from bench import store
from bench.load import Sample, Summary
from bench.plan import workload
from bench.runs import Context, measure, rotated, say
from bench.servers import jobgate_env, running, start_all, start_jobgate

SETUPS: Final = ("1 process", "2 processes")
WORKLOAD: Final = "casjobs-soap-status"


def run(ctx: Context) -> dict[str, Any]:
    plan, jobs = ctx.plan, ctx.plan.jobs
    db = ctx.store_copy("multicore")
    store.seed_executing(db, 1, jobs)
    env = jobgate_env(store.sqlite_url(db), ctx.work / "data")
    servers = start_all(
        {
            name: partial(start_jobgate, f"multicore-{n + 1}", env, ctx.logs, None, n + 1)
            for n, name in enumerate(SETUPS)
        }
    )
    samples: dict[tuple[int, str], list[Sample]] = defaultdict(list)
    with running(*servers.values()):
        for rep in range(plan.reps):
            for connections in plan.multicore_concurrency:
                for name in rotated(SETUPS, rep):
                    found = measure(ctx, servers[name], workload(WORKLOAD), connections, db, jobs, pin=False)
                    samples[(connections, name)].append(found)
                    say(f"rep {rep + 1} c={connections:<3} {name:<12}", found)
    results = {
        str(c): {name: asdict(Summary.of(samples[(c, name)])) for name in SETUPS} for c in plan.multicore_concurrency
    }
    ratios = {c: round(by[SETUPS[1]]["rps"] / by[SETUPS[0]]["rps"], 3) for c, by in results.items()}
    return {"workload": WORKLOAD, "results": results, "ratios": ratios}
