"""What one benchmark run does: durations, repetitions, sizes, and the workloads as one table of data."""

import base64
import urllib.parse
from dataclasses import dataclass, field, replace
from typing import Final

from lxml import etree

MARK: Final = "__JOBID__"  # replaced by a job id per request (bench/lua/jobs.lua, client.py)
KEY_MARK: Final = "__JOBKEY__"  # replaced by that job's key: the seeded keys are the id in 32 hex digits
TNS: Final = "http://Services.Cas.jhu.edu"
SOAP11: Final = "http://schemas.xmlsoap.org/soap/envelope/"
JOBS_PATH: Final = "/CasJobs/services/jobs.asmx"
CISCO_PATH: Final = "/webacs/api/v3"
SOAP_REFERENCES: Final = ("A", "D", "D2", "E")
REST_REFERENCES: Final = ("A", "E")  # D and D2 are Spyne SOAP: they have no REST counterpart
BIRST_TNS: Final = "http://www.birst.com/"
BIRST_PATH: Final = "/CommandWebService.asmx"
BIRST_TOKEN: Final = "5eed" * 8  # a live Birst login token of the bench user, seeded into the store (store.py)
TRANSWS_TNS: Final = "urn:oasis:names:tc:wstrans:v1:types"
TRANSWS_PATH: Final = "/transws"
ARCGIS_TOKEN: Final = "a5c9" * 8  # a live ArcGIS token of the bench user, seeded likewise
# the seeded jobs' project: a Birst spaceID (36 characters) and an ArcGIS service name at once
BENCH_SPACE: Final = "be4c0000-0000-4000-8000-000000000001"
ARCGIS_TASK: Final = f"/arcgis/rest/services/{BENCH_SPACE}/GPServer/sleep/jobs/j{KEY_MARK}"


@dataclass(frozen=True)
class Account:
    name: str
    wsid: int
    password: str
    groups: tuple[str, ...] = ()


BENCH_USER: Final = Account("bench", 1001, "bench-pw-7c1e", ("nbi-write", "nbi-read"))
ADMIN_USER: Final = Account("bench-admin", 1002, "admin-pw-40d2", ("admin",))


@dataclass(frozen=True)
class Request:
    """One HTTP request shape; `MARK` in the path or body stands for the job id."""

    method: str
    path: str
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()

    def filled(self, job_id: int) -> tuple[str, bytes]:
        body = self.body.replace(MARK, str(job_id)).replace(KEY_MARK, job_key(job_id))
        return self.path.replace(MARK, str(job_id)).replace(KEY_MARK, job_key(job_id)), body.encode()


def job_key(job_id: int) -> str:
    """The key of seeded job `job_id` (store.seed_executing): Birst names a job by its key."""
    return f"{job_id:032x}"


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


def transws11(request: str, account: Account) -> Request:
    """A Trans-WS SOAP 1.1 call as seed 000 shows it (no SOAPAction), with HTTP Basic credentials."""
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soapenv": SOAP11})
    body = etree.SubElement(envelope, f"{{{SOAP11}}}Body")
    call = etree.SubElement(body, f"{{{TRANSWS_TNS}}}{request}", nsmap={None: TRANSWS_TNS})
    # the seeded jobs' project is BENCH_SPACE: the ticket names it
    etree.SubElement(call, f"{{{TRANSWS_TNS}}}ticket", jobId=KEY_MARK, projectId=BENCH_SPACE, userId=account.name)
    text = etree.tostring(envelope, xml_declaration=True, encoding="utf-8").decode()
    basic = base64.b64encode(f"{account.name}:{account.password}".encode()).decode()
    headers = (("Content-Type", "text/xml; charset=utf-8"), ("Authorization", f"Basic {basic}"))
    return Request("POST", TRANSWS_PATH, text, headers)


def birst_soap11(op: str, *children: tuple[str, str]) -> Request:
    """A Birst SOAP 1.1 call as seed 002 shows it: the login token first, then the operation's own values
    (the seeded jobs' spaceID is their project, BENCH_SPACE)."""
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soap": SOAP11})
    body = etree.SubElement(envelope, f"{{{SOAP11}}}Body")
    call = etree.SubElement(body, f"{{{BIRST_TNS}}}{op}", nsmap={None: BIRST_TNS})
    for name, value in (("token", BIRST_TOKEN), *children):
        etree.SubElement(call, f"{{{BIRST_TNS}}}{name}").text = value
    text = etree.tostring(envelope, xml_declaration=True, encoding="utf-8").decode()
    headers = (("Content-Type", "text/xml; charset=utf-8"), ("SOAPAction", f'"{BIRST_TNS}{op}"'))
    return Request("POST", BIRST_PATH, text, headers)


def http_get(op: str, account: Account) -> Request:
    """A CasJobs ASMX HTTP GET call: /jobs.asmx/<Op>?wsId=…&pw=…&jobId=…"""
    query = urllib.parse.urlencode({"wsId": account.wsid, "pw": account.password, "jobId": MARK})
    return Request("GET", f"{JOBS_PATH}/{op}?{query}")


def cisco_rest(op: str, account: Account) -> Request:
    """A Cisco PI call with HTTP Basic: PUT cancelrunning with seed 003's XML payload, or GET one JobSummary."""
    secret = base64.b64encode(f"{account.name}:{account.password}".encode()).decode()
    auth = ("Authorization", f"Basic {secret}")
    if op != "cancelrunning":
        return Request("GET", f"{CISCO_PATH}/data/JobSummary/{MARK}", "", (auth,))
    payload = etree.Element("jobRunOperationPayload")
    etree.SubElement(etree.SubElement(payload, "runIds"), "runId").text = MARK
    text = etree.tostring(payload, xml_declaration=True, encoding="utf-8").decode()
    return Request(
        "PUT", f"{CISCO_PATH}/op/jobService/cancelrunning", text, (("Content-Type", "application/xml"), auth)
    )


def arcgis_rest(op: str) -> Request:
    """ArcGIS GP calls as Esri's JS client makes them: GET …/jobs/j<key>?f=json&token=… (status, messages
    included), or POST …/jobs/j<key>/cancel with the token in the form body."""
    if op == "status":
        return Request("GET", f"{ARCGIS_TASK}?{urllib.parse.urlencode({'f': 'json', 'token': ARCGIS_TOKEN})}")
    body = urllib.parse.urlencode({"f": "json", "token": ARCGIS_TOKEN, "returnMessages": "false"})
    return Request("POST", f"{ARCGIS_TASK}/cancel", body, (("Content-Type", "application/x-www-form-urlencoded"),))


@dataclass(frozen=True)
class Workload:
    key: str
    dialect: str
    binding: str
    op: str
    writes: bool  # CancelJob: every request moves one job Executing → Canceling
    request: Request | None  # None: the dialect is not implemented yet (a row in the report, no run)
    references: tuple[str, ...] = SOAP_REFERENCES  # the reference configurations that serve this workload
    # the reference servers speak CasJobs only: another dialect's row runs on jobgate alone and is held
    # against the references' numbers of the CasJobs workload named here
    compared_to: str | None = None

    @property
    def title(self) -> str:
        return f"{self.dialect} {self.binding} {self.op}"


def workloads(account: Account = BENCH_USER) -> tuple[Workload, ...]:
    return (
        Workload("casjobs-soap-status", "CasJobs", "SOAP 1.1", "GetJobStatus", False, soap11("GetJobStatus", account)),
        Workload("casjobs-soap-cancel", "CasJobs", "SOAP 1.1", "CancelJob", True, soap11("CancelJob", account)),
        Workload("casjobs-get-status", "CasJobs", "HTTP GET", "GetJobStatus", False, http_get("GetJobStatus", account)),
        Workload(
            "birst-soap-status",
            "Birst",
            "SOAP 1.1",
            "getJobStatus",
            False,
            birst_soap11("getJobStatus", ("jobToken", KEY_MARK)),
            compared_to="casjobs-soap-status",
        ),
        Workload(
            "birst-soap-cancel",
            "Birst",
            "SOAP 1.1",
            "cancelJob",
            True,
            birst_soap11("cancelJob", ("spaceID", BENCH_SPACE), ("jobToken", KEY_MARK)),
            compared_to="casjobs-soap-cancel",
        ),
        Workload(
            "transws-soap-cancel",
            "Trans-WS",
            "SOAP 1.1",
            "cancelJob",
            True,
            transws11("cancelJobRequest", account),
            compared_to="casjobs-soap-cancel",
        ),
        Workload(
            "cisco-rest-cancel",
            "Cisco",
            "REST",
            "cancelrunning",
            True,
            cisco_rest("cancelrunning", account),
            REST_REFERENCES,
        ),
        Workload(
            "cisco-rest-summary",
            "Cisco",
            "REST",
            "JobSummary/<id>",
            False,
            cisco_rest("JobSummary", account),
            REST_REFERENCES,
        ),
        Workload(
            "arcgis-rest-status",
            "ArcGIS",
            "REST",
            "jobs/<jobId>",
            False,
            arcgis_rest("status"),
            compared_to="casjobs-get-status",
        ),
        Workload(
            "arcgis-rest-cancel",
            "ArcGIS",
            "REST",
            "jobs/<jobId>/cancel",
            True,
            arcgis_rest("cancel"),
            compared_to="casjobs-soap-cancel",
        ),
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
