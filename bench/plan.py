"""What one benchmark run does: durations, repetitions, sizes, and the workloads as one table of data."""

import urllib.parse
from dataclasses import dataclass, field, replace
from typing import Final

from lxml import etree

MARK: Final = "__JOBID__"  # replaced by a job id per request (bench/lua/jobs.lua, client.py)
KEYMARK: Final = "__JOBKEY__"  # replaced by the job's key: its id as 32 zero-padded digits (store.py seeds them)
ARCGIS_TOKEN: Final = "bench-arcgis-token-5b0c9e7d4f2a41c8a3e6d1f0b9c2e4a7"  # stored (hashed) by store.py
ARCGIS_SERVICE: Final = "bench"  # the seeded jobs' project: their GP service
TNS: Final = "http://Services.Cas.jhu.edu"
SOAP11: Final = "http://schemas.xmlsoap.org/soap/envelope/"
JOBS_PATH: Final = "/CasJobs/services/jobs.asmx"


@dataclass(frozen=True)
class Account:
    name: str
    wsid: int
    password: str
    groups: tuple[str, ...] = ()


BENCH_USER: Final = Account("bench", 1001, "bench-pw-7c1e")
ADMIN_USER: Final = Account("bench-admin", 1002, "admin-pw-40d2", ("admin",))


@dataclass(frozen=True)
class Request:
    """One HTTP request shape; `MARK` in the path or body stands for the job id."""

    method: str
    path: str
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()

    def filled(self, job_id: int) -> tuple[str, bytes]:
        def fill(text: str) -> str:
            return text.replace(MARK, str(job_id)).replace(KEYMARK, f"{job_id:032d}")

        return fill(self.path), fill(self.body).encode()


def soap11(op: str, account: Account) -> Request:
    """A CasJobs SOAP 1.1 call as the seed shows it (wsId + pw in every call)."""
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soap": SOAP11})
    body = etree.SubElement(envelope, f"{{{SOAP11}}}Body")
    call = etree.SubElement(body, f"{{{TNS}}}{op}", nsmap={None: TNS})
    for name, value in (("wsId", str(account.wsid)), ("pw", account.password), ("jobId", MARK)):
        etree.SubElement(call, f"{{{TNS}}}{name}").text = value
    text = etree.tostring(envelope, xml_declaration=True, encoding="utf-8").decode()
    headers = (("Content-Type", "text/xml; charset=utf-8"), ("SOAPAction", f'"{TNS}/{op}"'))
    return Request("POST", JOBS_PATH, text, headers)


def http_get(op: str, account: Account) -> Request:
    """A CasJobs ASMX HTTP GET call: /jobs.asmx/<Op>?wsId=…&pw=…&jobId=…"""
    query = urllib.parse.urlencode({"wsId": account.wsid, "pw": account.password, "jobId": MARK})
    return Request("GET", f"{JOBS_PATH}/{op}?{query}")


def arcgis_status() -> Request:
    """An ArcGIS GP job status call as Esri's clients poll it: GET …/jobs/j<key>?f=json&token=…"""
    query = urllib.parse.urlencode({"f": "json", "token": ARCGIS_TOKEN})
    return Request("GET", f"/arcgis/rest/services/{ARCGIS_SERVICE}/GPServer/sleep/jobs/j{KEYMARK}?{query}")


def arcgis_cancel() -> Request:
    """An ArcGIS GP cancel as Esri's JS client sends it: POST …/jobs/j<key>/cancel, form body with the token."""
    body = urllib.parse.urlencode({"f": "json", "token": ARCGIS_TOKEN, "returnMessages": "false"})
    path = f"/arcgis/rest/services/{ARCGIS_SERVICE}/GPServer/sleep/jobs/j{KEYMARK}/cancel"
    return Request("POST", path, body, (("Content-Type", "application/x-www-form-urlencoded"),))


@dataclass(frozen=True)
class Workload:
    key: str
    dialect: str
    binding: str
    op: str
    writes: bool  # CancelJob: every request moves one job Executing → Canceling
    request: Request | None  # None: the dialect is not implemented yet (a row in the report, no run)

    @property
    def title(self) -> str:
        return f"{self.dialect} {self.binding} {self.op}"


def workloads(account: Account = BENCH_USER) -> tuple[Workload, ...]:
    return (
        Workload("casjobs-soap-status", "CasJobs", "SOAP 1.1", "GetJobStatus", False, soap11("GetJobStatus", account)),
        Workload("casjobs-soap-cancel", "CasJobs", "SOAP 1.1", "CancelJob", True, soap11("CancelJob", account)),
        Workload("casjobs-get-status", "CasJobs", "HTTP GET", "GetJobStatus", False, http_get("GetJobStatus", account)),
        Workload("birst-soap-cancel", "Birst", "SOAP 1.1", "cancelJob", True, None),
        Workload("transws-soap-cancel", "Trans-WS", "SOAP 1.1", "cancel", True, None),
        Workload("cisco-rest-cancel", "Cisco", "REST", "cancelJob", True, None),
        Workload("arcgis-rest-status", "ArcGIS", "REST", "jobs/<jobId>", False, arcgis_status()),
        Workload("arcgis-rest-cancel", "ArcGIS", "REST", "jobs/<jobId>/cancel", True, arcgis_cancel()),
    )


def workload(key: str) -> Workload:
    return next(w for w in workloads() if w.key == key)


@dataclass(frozen=True)
class Plan:
    duration_s: int = 10
    reps: int = 3
    concurrency: tuple[int, ...] = (1, 16, 64)
    jobs: int = 100_000  # Executing jobs in the throughput store (ids 1..jobs)
    store_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    scaling_concurrency: int = 16
    cancel_jobs: int = 50  # jobs per cancel-latency case
    bulk_jobs: int = 10_000
    bulk_reps: int = 3
    multicore_concurrency: tuple[int, ...] = (16, 64)
    warmup_requests: int = 50
    quick: bool = False
    sections: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def quick_plan(cls) -> "Plan":
        return cls(
            duration_s=1, reps=1, jobs=20_000, store_sizes=(1_000, 10_000), cancel_jobs=10,
            bulk_jobs=1_000, bulk_reps=1, warmup_requests=20, quick=True,
        )  # fmt: skip

    def with_duration(self, seconds: int | None) -> "Plan":
        return self if seconds is None else replace(self, duration_s=seconds)
