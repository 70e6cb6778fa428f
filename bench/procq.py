"""procrastinate (the dedicated PostgreSQL job queue) for the claim-throughput comparison of bench/sections/postgres.py:
one trivial task, on the schema BENCH_PROCRASTINATE_DSN's search path names.

    procrastinate --app=bench.procq.app schema --apply
    procrastinate --app=bench.procq.app worker -c 1
"""

import os

from procrastinate import App, PsycopgConnector

app = App(connector=PsycopgConnector(conninfo=os.environ.get("BENCH_PROCRASTINATE_DSN", "")))


@app.task(name="noop")
def noop() -> None:
    """The trivial job: nothing to do, so the figure is the queue's own cost."""
    return None
