"""Behind PgBouncer in transaction pooling mode (Debian's pgbouncer, started here on 127.0.0.1): one
`jobgate serve` and one `jobgate worker` send their transactions through it, while what needs a session
(the LISTEN of cross-process cancels, the migrations' advisory lock) goes to JOBGATE_DIRECT_DATABASE_URL;
zeep runs the CasJobs cycle, and PgBouncer's own figures show the traffic went through it."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support import pgbouncer
from support.casjobs import add_users, show
from support.deploy import Worker, casjobs_cycle, zeep_jobs
from support.server import JobgateServer


@pytest.fixture
def bouncer(pg_url: str) -> Iterator[tuple[str, int]]:
    with pgbouncer.pgbouncer(pg_url.rsplit("%3D", 1)[1], pool_size=3) as running:
        yield running


def test_the_casjobs_cycle_runs_through_pgbouncer_in_transaction_mode(
    bouncer: tuple[str, int], pg_url: str, jobgate_server: Callable[..., JobgateServer], tmp_path: Path
) -> None:
    pooled_url, port = bouncer
    via_bouncer = {"JOBGATE_DIRECT_DATABASE_URL": pg_url, "JOBGATE_CANCEL_POLL_S": 5}
    server = jobgate_server(pooled_url, JOBGATE_RUNNERS=0, **via_bouncer)  # migrates through the direct URL
    worker = Worker(
        {"JOBGATE_DATABASE_URL": pooled_url, "JOBGATE_RUNNERS": 2, "JOBGATE_DATA_DIR": server.env["JOBGATE_DATA_DIR"],
         **via_bouncer}, tmp_path / "worker.log",
    ).start()  # fmt: skip
    try:
        before = pgbouncer.stats(port)["total_xact_count"]
        alice = add_users(server, "alice")["alice"]
        jobs = zeep_jobs(server.url)
        for _ in range(3):  # more than psycopg's prepare threshold (5 executions) of every hot statement
            ids = casjobs_cycle(jobs, alice, timeout_s=4.0)  # < the 5 s poll: the cancel came by NOTIFY
    finally:
        worker.kill()
    shown = show(server, ids["cancelled"])
    assert [e["to_state"] for e in shown["history"]] == ["Submitted", "Executing", "Canceling", "Cancelled"]
    assert show(server, ids["finished"])["state"] == "Finished"
    assert pgbouncer.stats(port)["total_xact_count"] - before > 50
    for log in (server.log_text(), worker.log_text()):
        assert "prepared statement" not in log
        assert "Traceback" not in log
