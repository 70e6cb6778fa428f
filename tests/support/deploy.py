"""Scale-out deployments in tests: `jobgate worker` subprocesses, and the CasJobs cycle a SOAP client runs."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import zeep

from support.casjobs import CANCELLED, ENDLESS_QUERY, FINISHED, JOBS_PATH, QUICK_QUERY, STARTED, CasUser
from support.server import jobgate_env
from support.wait import wait_until


class Worker:
    """`jobgate worker` as a subprocess; start() again after kill()."""

    def __init__(self, env: dict[str, object], log_path: Path) -> None:
        self.env, self.log_path = jobgate_env(env), log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "Worker":
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jobgate", "worker"], env=self.env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


def casjobs_cycle(jobs: Any, user: CasUser, timeout_s: float = 30.0) -> dict[str, int]:
    """Through a zeep service bound to CasJobs' jobs.asmx: a query that finishes, and an endless one that starts
    and is cancelled. Returns the two job ids."""
    login = {"wsid": user.wsid, "pw": user.password}

    def status(job_id: int) -> int:
        return int(jobs.GetJobStatus(wsId=user.wsid, pw=user.password, jobId=job_id))

    quick = int(jobs.SubmitJob(**login, qry=QUICK_QUERY, context="MyDB", taskname="cycle-quick", estimate=1))
    endless = int(jobs.SubmitJob(**login, qry=ENDLESS_QUERY, context="MyDB", taskname="cycle-endless", estimate=1))
    wait_until(lambda: status(quick) == FINISHED, timeout_s, 0.02, f"job {quick} to finish")
    wait_until(lambda: status(endless) == STARTED, timeout_s, 0.02, f"job {endless} to start")
    assert jobs.CancelJob(wsId=user.wsid, pw=user.password, jobId=endless) is None
    wait_until(lambda: status(endless) == CANCELLED, timeout_s, 0.02, f"job {endless} to end cancelled")
    return {"finished": quick, "cancelled": endless}


def zeep_jobs(base_url: str, **client: Any) -> Any:
    """zeep's service for CasJobs' jobs.asmx, built from the WSDL the server serves at `base_url`."""
    return zeep.Client(f"{base_url}{JOBS_PATH}?WSDL", **client).service
