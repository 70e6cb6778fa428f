"""Credential-cache expiry under load: the same SOAP GetJobStatus load at c=16 with the default cache
TTL and with a TTL short enough to expire a few times within each run. Every CasJobs call carries wsId+pw;
when the cached check of a busy client expires, each request in flight at that moment may verify the
password itself (argon2id, ~0.2 s and 64 MiB each) unless the server lets one verify for all."""

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

CONNECTIONS: Final = 16
WORKLOAD: Final = "casjobs-soap-status"


def short_ttl(duration_s: int) -> str:
    """A TTL that expires about three times per run."""
    return f"{max(round(duration_s / 3, 1), 0.3):g}"


def run(ctx: Context) -> dict[str, Any]:
    plan, jobs = ctx.plan, min(ctx.plan.jobs, 10_000)
    db = ctx.store_copy("cache-expiry")
    store.seed_executing(db, 1, jobs)
    ttls = {"default": {}, "short": {"JOBGATE_AUTH_CACHE_TTL_S": short_ttl(plan.duration_s)}}
    envs = {name: jobgate_env(store.sqlite_url(db), ctx.work / "data", **extra) for name, extra in ttls.items()}
    servers = start_all(
        {name: partial(start_jobgate, f"ttl-{name}", env, ctx.logs, SERVER_CPU) for name, env in envs.items()}
    )
    samples: dict[str, list[Sample]] = defaultdict(list)
    with running(*servers.values()):
        for rep in range(plan.reps):
            for name in rotated(tuple(servers), rep):
                found = measure(ctx, servers[name], workload(WORKLOAD), CONNECTIONS, db, jobs)
                samples[name].append(found)
                say(f"rep {rep + 1} cache TTL {name:<8} max {found.max_ms:7.1f} ms", found)
    return {
        "connections": CONNECTIONS,
        "workload": WORKLOAD,
        "short_ttl_s": float(short_ttl(plan.duration_s)),
        "results": {name: asdict(Summary.of(found)) for name, found in samples.items()},
        "max_ms": {name: max(s.max_ms for s in found) for name, found in samples.items()},
    }
