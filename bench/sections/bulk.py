"""Bulk cancel: every Executing job of a store cancelled by filter through JobService.cancel_many, in
process (jobgate.app.build), timed around the call alone; the store is reset between repetitions."""

import statistics
import time
from typing import Any

from bench import store
from bench.plan import ADMIN_USER
from bench.runs import Context
from jobgate.app import build
from jobgate.config import Settings
from jobgate.domain.model import ADMIN_GROUP, Actor, Channel, JobFilter
from jobgate.domain.states import JobState


def run(ctx: Context) -> dict[str, Any]:
    n = ctx.plan.bulk_jobs
    db = ctx.store_copy("bulk")
    store.seed_executing(db, 1, n)
    settings = Settings.model_validate(
        {"database_url": store.sqlite_url(db), "runners": 0, "data_dir": ctx.work / "data-bulk"}
    )
    parts = build(settings)
    admin = Actor(ADMIN_USER.name, Channel.CLI, frozenset({ADMIN_GROUP}))
    where = JobFilter(states=frozenset({JobState.EXECUTING}))
    seconds, problems = [], []
    try:
        for rep in range(ctx.plan.bulk_reps):
            store.reset(db)
            started = time.perf_counter()
            outcomes = parts.jobs.cancel_many(admin, where, reason="bench: bulk cancel")
            seconds.append(round(time.perf_counter() - started, 3))
            changed = sum(1 for o in outcomes if o.changed)
            canceling = store.count_state(db, "Canceling")
            if changed != n or canceling != n:
                problems.append(f"rep {rep + 1}: {changed} outcomes changed, {canceling} jobs Canceling, of {n}")
            print(f"  rep {rep + 1}: {n:,} jobs cancelled in {seconds[-1]:.3f} s", flush=True)
    finally:
        parts.engine.dispose()
    return {"jobs": n, "seconds": seconds, "median_s": statistics.median(seconds), "problems": problems}
