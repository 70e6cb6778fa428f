"""CasJobs helpers for the tests that drive a real server: users, and jobs steered over the HTTP POST binding.

The wire words (status ints, `wsid`, `jobId`) stay here and in the tests that check them.
"""

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import httpx
from typer.testing import CliRunner

from jobgate.cli import cli
from support.server import JobgateServer
from support.wait import wait_until

JOBS_PATH: Final = "/CasJobs/services/jobs.asmx"
USERS_PATH: Final = "/CasJobs/services/casusers.asmx"
TNS: Final = "http://Services.Cas.jhu.edu"

# Runs until it is interrupted: a job that stays Executing (status 1) until someone cancels it.
ENDLESS_QUERY: Final = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"
QUICK_QUERY: Final = "SELECT 1 AS a, 'x' AS b"
QUICK_CSV: Final = '[a]:BigInt,[b]:String\n1,"x"\n'  # casjobs.md: header `[name]:Type`, rows, a final newline

READY, STARTED, CANCELING, CANCELLED, FAILED, FINISHED = range(6)  # casjobs.md, status codes
CANCELING_OR_CANCELLED: Final = frozenset({CANCELING, CANCELLED})
START_TIMEOUT_S: Final = 15.0


@dataclass(frozen=True, slots=True)
class CasUser:
    name: str
    password: str
    wsid: int

    def login(self) -> dict[str, Any]:
        return {"wsid": self.wsid, "pw": self.password}


def add_users(server: JobgateServer, *names: str) -> dict[str, CasUser]:
    """`jobgate user add` for each name, all at once (the server has already built the schema)."""
    passwords = {name: f"{name}-Pa55" for name in names}
    done = server.cli.run_together(*(("user", "add", name, "--password", pw) for name, pw in passwords.items()))
    wsids = [int(result.stdout.strip().rsplit("wsid=", 1)[1]) for result in done]
    return {name: CasUser(name, passwords[name], wsid) for name, wsid in zip(names, wsids, strict=True)}


def post(http: httpx.Client, op: str, **params: Any) -> httpx.Response:
    """One call over the HTTP POST binding of jobs.asmx."""
    return http.post(f"{JOBS_PATH}/{op}", data={k: str(v) for k, v in params.items()})


def result_of(response: httpx.Response) -> str:
    """The text of an HTTP GET/POST answer's root (`<long xmlns="…">42</long>`); fails on anything else."""
    assert response.status_code == 200, f"{response.request.url.path}: {response.status_code} {response.text}"
    found = re.search(r"<(long|int|string)\b[^>]*>([^<]*)</\1>", response.text)
    assert found is not None, f"no scalar result in {response.text!r}"
    return found.group(2)


def submit(http: httpx.Client, user: CasUser, query: str = ENDLESS_QUERY, taskname: str = "test") -> int:
    answer = post(http, "SubmitJob", **user.login(), qry=query, context="MyDB", taskname=taskname, estimate=1)
    return int(result_of(answer))


def status(http: httpx.Client, user: CasUser, job_id: int) -> int:
    return int(result_of(post(http, "GetJobStatus", **user.login(), jobId=job_id)))


def wait_for_status(http: httpx.Client, user: CasUser, job_id: int, wanted: set[int]) -> int:
    seen: list[int] = []

    def reached() -> bool:
        seen.append(status(http, user, job_id))
        return seen[-1] in wanted

    wait_until(reached, START_TIMEOUT_S, 0.02, lambda: f"job {job_id} to reach status {wanted}; last {seen[-1:]}")
    return seen[-1]


def start_endless_job(http: httpx.Client, user: CasUser) -> int:
    """Submit the endless query and return its id once a runner has started it (status 1)."""
    job_id = submit(http, user)
    wait_for_status(http, user, job_id, {STARTED})
    return job_id


@contextmanager
def endless_job(http: httpx.Client, user: CasUser) -> Iterator[int]:
    """start_endless_job; on the way out the job is cancelled if it still holds a runner, even when the
    block failed, so that one failing test does not starve the next of runners."""
    job_id = start_endless_job(http, user)
    try:
        yield job_id
    finally:
        if status(http, user, job_id) in (READY, STARTED):
            cancel(http, user, job_id)


def cancel(http: httpx.Client, user: CasUser, job_id: int) -> None:
    answer = post(http, "CancelJob", **user.login(), jobId=job_id)
    assert answer.status_code == 200, answer.text


def jobgate_json(server: JobgateServer, *args: str | int) -> Any:
    """`jobgate ARGS… --json` on the server's database, run in this process (Click's CliRunner): a
    subprocess would spend a second importing for every look."""
    argv = [str(a) for a in args] + ["--json", "--database-url", server.env["JOBGATE_DATABASE_URL"]]
    done = CliRunner().invoke(cli, argv)
    assert done.exit_code == 0, f"jobgate {' '.join(argv)} exited {done.exit_code}: {done.output}"
    return json.loads(done.stdout)


def show(server: JobgateServer, job_id: int) -> dict[str, Any]:
    """`jobgate job show ID --json`: the job with its history."""
    shown: dict[str, Any] = jobgate_json(server, "job", "show", job_id)
    return shown


def cancel_events(shown: dict[str, Any]) -> list[dict[str, Any]]:
    """The cancel events of a job as `jobgate job show --json` prints it."""
    return [event for event in shown["history"] if event["stage"] == "cancel"]
