"""Cisco `GET op/jobService/runhistory` by job name, job type, state and submission time, paged, `GET
op/rateService/rateLimits`, and `GET data/JobSummary` filtered by the store: what a Prime Infrastructure script
reads, on the real store (an app in this process on SQLite, and on PostgreSQL), in XML and JSON. The store does the
filtering and the paging (JobFilter; the port contract in tests/ports covers the query on the fake, SQLite and
PostgreSQL alike)."""

import base64
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Final

import httpx
import pytest
from lxml import etree
from starlette.applications import Starlette

from jobgate.dialects.cisco.query import parse_query, select
from jobgate.domain.model import Actor, Channel, Job, JobSpec
from support.kits.base import app_in_process, request

API: Final = "/webacs/api"
PASSWORD: Final = "Rh-pa55-word"
STRICT: Final = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    overrides = {} if request.param == "sqlite" else {"database_url": request.getfixturevalue("pg_module_url")}
    with app_in_process(tmp_path_factory.mktemp("runhistory"), **overrides) as built:
        identity = built.state.components.identity
        for name, groups in {"alice": ["nbi-read"], "bob": ["nbi-read", "nbi-write"], "pusher": ["nbi-write"],
                             "root": ["admin"]}.items():  # fmt: skip
            identity.add_user(name, PASSWORD, groups)
        yield built


@pytest.fixture(scope="module")
def jobs(app: Starlette) -> dict[str, Job]:
    """alice's jobs: three named `nightly` (two `backup`, one `report`), one unnamed `backup`, one cancelled
    `report`, one suspended `backup`; bob's `backup` named `nightly` too."""
    service = app.state.components.jobs
    alice, bob = Actor("alice", Channel.CLI), Actor("bob", Channel.CLI)
    made = {
        "n1": service.submit(alice, JobSpec("backup", {}, "net", name="nightly")),
        "n2": service.submit(alice, JobSpec("report", {}, "net", name="nightly")),
        "unnamed": service.submit(alice, JobSpec("backup", {}, "net")),
        "n3": service.submit(alice, JobSpec("backup", {}, "net", name="nightly")),
        "cancelled": service.submit(alice, JobSpec("report", {}, "net", name="weekly")),
        "suspended": service.submit(alice, JobSpec("backup", {}, "net", name="weekly")),
        "bobs": service.submit(bob, JobSpec("backup", {}, "net", name="nightly")),
    }
    service.cancel(alice, made["cancelled"].id)
    service.suspend(alice, made["suspended"].id)
    return {key: service.get(Actor("root", Channel.CLI, frozenset({"admin"})), job.id) for key, job in made.items()}


def basic(name: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{PASSWORD}".encode()).decode()}


def runs(app: Starlette, query: dict[str, Any], as_json: bool = False, who: str = "alice", version: str = "v3") -> Any:
    suffix = ".json" if as_json else ""
    url = f"{API}/{version}/op/jobService/runhistory{suffix}?{urllib.parse.urlencode(query)}"
    return request(app, "GET", url, headers=basic(who))


def job_ids(answer: httpx.Response) -> list[int]:
    """The jobIds of the answer, XML or v2/v3 JSON, each with its one run of the same id."""
    assert answer.status_code == 200, answer.text
    if answer.headers["content-type"].startswith("application/json"):
        found = answer.json()["mgmtResponse"]
        assert found["@responseType"] == "operation"
        listed = found.get("job", [])
        assert all(job["runInstances"]["runInstance"][0]["runId"] == job["jobId"] for job in listed)
        return [job["jobId"] for job in listed]
    root = etree.fromstring(answer.content, STRICT)
    assert (root.tag, root.get("responseType")) == ("mgmtResponse", "operation")
    listed = root.findall("job")
    assert all(job.findtext("runInstances/runInstance/runId") == job.findtext("jobId") for job in listed)
    return [int(job.findtext("jobId") or "") for job in listed]


def ids(jobs: dict[str, Job], *keys: str) -> list[int]:
    return sorted(jobs[key].id for key in keys)


@pytest.mark.parametrize("as_json", [False, True], ids=["xml", "json"])
class TestFilters:
    def test_by_job_name(self, app: Starlette, jobs: dict[str, Job], as_json: bool) -> None:
        assert job_ids(runs(app, {"jobName": "nightly"}, as_json)) == ids(jobs, "n1", "n2", "n3")
        assert job_ids(runs(app, {"jobName": '"weekly"'}, as_json)) == ids(jobs, "cancelled", "suspended")
        assert job_ids(runs(app, {"jobName": "never"}, as_json)) == []

    def test_an_unnamed_job_by_the_name_it_is_shown_with(
        self, app: Starlette, jobs: dict[str, Job], as_json: bool
    ) -> None:
        shown = f"backup_{jobs['unnamed'].id}"
        answer = runs(app, {"jobName": shown}, as_json)
        assert job_ids(answer) == ids(jobs, "unnamed")
        name = answer.json()["mgmtResponse"]["job"][0]["jobName"] if as_json else etree.fromstring(
            answer.content, STRICT).findtext("job/jobName")  # fmt: skip
        assert name == shown
        assert job_ids(runs(app, {"jobName": f"report_{jobs['unnamed'].id}"}, as_json)) == []  # not its task
        assert job_ids(runs(app, {"jobName": f"backup_{jobs['n1'].id}"}, as_json)) == []  # it has a name

    def test_by_job_type(self, app: Starlette, jobs: dict[str, Job], as_json: bool) -> None:
        assert job_ids(runs(app, {"jobType": "report"}, as_json)) == ids(jobs, "n2", "cancelled")
        assert job_ids(runs(app, {"jobType": "backup", "jobName": "nightly"}, as_json)) == ids(jobs, "n1", "n3")

    def test_by_state(self, app: Starlette, jobs: dict[str, Job], as_json: bool) -> None:
        assert job_ids(runs(app, {"jobStatus": "CANCELLED"}, as_json)) == ids(jobs, "cancelled")
        assert job_ids(runs(app, {"runStatus": "PAUSED"}, as_json)) == ids(jobs, "suspended")
        queued = ids(jobs, "n1", "n2", "unnamed", "n3")
        assert job_ids(runs(app, {"runStatus": "PENDING_EXECUTION"}, as_json)) == queued
        assert job_ids(runs(app, {"jobStatus": "SCHEDULED", "jobType": "report"}, as_json)) == ids(jobs, "n2")

    def test_by_submission_time(self, app: Starlette, jobs: dict[str, Job], as_json: bool) -> None:
        mine = [job for key, job in jobs.items() if key != "bobs"]
        start, end = jobs["n2"].submitted_at, jobs["n3"].submitted_at
        within = sorted(job.id for job in mine if start <= job.submitted_at <= end)
        assert ids(jobs, "n2", "unnamed", "n3") <= within  # (jobs made in one millisecond share it)
        millis = {"startTime": int(start.timestamp() * 1000), "endTime": int(end.timestamp() * 1000)}
        assert job_ids(runs(app, millis, as_json)) == within
        written = {"startTime": start.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                   "endTime": end.isoformat(timespec="milliseconds").replace("+00:00", "Z")}  # fmt: skip
        assert job_ids(runs(app, written, as_json)) == within
        after = jobs["suspended"].submitted_at + timedelta(milliseconds=1)
        assert job_ids(runs(app, {"startTime": int(after.timestamp() * 1000)}, as_json)) == []

    def test_pages(self, app: Starlette, jobs: dict[str, Job], as_json: bool) -> None:
        backups = ids(jobs, "n1", "unnamed", "n3", "suspended")
        pages = [job_ids(runs(app, {"jobType": "backup", ".firstResult": first, ".maxResults": 2}, as_json))
                 for first in (0, 2, 4)]  # fmt: skip
        assert pages == [backups[:2], backups[2:], []]
        assert job_ids(runs(app, {"jobType": "backup", ".firstResult": 1, ".maxResults": 1}, as_json)) == backups[1:2]
        shown = f"backup_{jobs['unnamed'].id}"  # the unnamed job joins the named ones in id order, then the page
        assert job_ids(runs(app, {".firstResult": 1, ".maxResults": 1, "jobName": shown}, as_json)) == []

    def test_only_the_callers_jobs_and_an_administrator_sees_all(
        self, app: Starlette, jobs: dict[str, Job], as_json: bool
    ) -> None:
        assert job_ids(runs(app, {"jobName": "nightly"}, as_json, who="bob")) == ids(jobs, "bobs")
        assert job_ids(runs(app, {"jobName": "nightly"}, as_json, who="root")) == ids(jobs, "n1", "n2", "n3", "bobs")
        assert job_ids(runs(app, {"jobId": jobs["n1"].id}, as_json)) == ids(jobs, "n1")
        assert runs(app, {"jobId": jobs["bobs"].id}, as_json).status_code == 404  # not alice's to see
        # a jobId the other conditions rule out is not found either (as it was before filters existed)
        assert runs(app, {"jobId": jobs["n1"].id, "jobType": "report"}, as_json).status_code == 404


def test_v1_json_writes_one_job_as_an_object_and_v2_as_a_list(app: Starlette, jobs: dict[str, Job]) -> None:
    one = {"jobType": "report", "jobStatus": "CANCELLED"}
    v1 = runs(app, one, as_json=True, version="v1").json()["mgmtResponse"]
    v2 = runs(app, one, as_json=True, version="v2").json()["mgmtResponse"]
    assert v1["job"]["jobId"] == v2["job"][0]["jobId"] == jobs["cancelled"].id
    assert v1["job"]["jobName"] == "weekly"


def test_nbi_read_suffices_nbi_write_alone_does_not_and_credentials_are_required(
    app: Starlette, jobs: dict[str, Job]
) -> None:
    assert job_ids(runs(app, {"jobType": "report"}, who="alice")) == ids(jobs, "n2", "cancelled")
    assert runs(app, {"jobType": "report"}, who="pusher").status_code == 403
    anonymous = request(app, "GET", f"{API}/v3/op/jobService/runhistory?jobType=report")
    assert anonymous.status_code == 401
    assert etree.fromstring(anonymous.content, STRICT).tag == "errorDocument"


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_rate_limits_as_a_script_reads_them(app: Starlette, version: str) -> None:
    """cisco.md [CLI]: `mgmtResponse.rateLimitsDTO[0].limitUnpagedQuery`; a list in every version."""
    url = f"{API}/{version}/op/rateService/rateLimits"
    answer = request(app, "GET", f"{url}.json", headers=basic("alice"))
    assert answer.status_code == 200, answer.text
    [limits] = answer.json()["mgmtResponse"]["rateLimitsDTO"]
    assert limits == {"limitConcurrentRequestsPerUser": 64, "limitPageSize": 1000, "limitUnpagedQuery": 100}
    root = etree.fromstring(request(app, "GET", url, headers=basic("alice")).content, STRICT)
    assert root.findtext("rateLimitsDTO/limitUnpagedQuery") == "100"
    assert request(app, "GET", f"{url}.json", headers=basic("pusher")).status_code == 403
    assert request(app, "GET", f"{url}.json").status_code == 401
    assert request(app, "PUT", f"{url}.json", headers=basic("root")).status_code == 405


# -- JobSummary: what the store filters and pages answers as the filtering in Python did ------------------------
SUMMARY_QUERIES: Final = (
    "", 'jobType="backup"', "jobType=backup&.firstResult=1&.maxResults=2", 'jobStatus="CANCELLED"',
    'runStatus="PAUSED"&jobType="backup"', 'username="alice"', 'username="SYSTEM"', 'description="net"',
    "id={n1}", "runId=between({n1},{n3})", 'jobType="backup"&jobType="report"', 'jobName="nightly"',
    ".sort=-id&jobType=backup", "jobType=contains(ack)", 'resultStatus="PENDINGEXECUTION"&.maxResults=1',
    "jobType=backup&.firstResult=9", 'jobStatus="RUNNING"', "id=05", "id=9999999999999999999", "id=-3",
    "jobType=back%00up", 'id="x"',
)  # fmt: skip


@pytest.mark.parametrize("who", ["alice", "root"])
@pytest.mark.parametrize("template", SUMMARY_QUERIES)
def test_job_summary_filtered_by_the_store_answers_as_select_does(
    app: Starlette, jobs: dict[str, Job], who: str, template: str
) -> None:
    query = template.format(n1=jobs["n1"].id, n3=jobs["n3"].id)
    params = urllib.parse.parse_qsl(query, keep_blank_values=True)
    service, actor = app.state.components.jobs, Actor(who, Channel.CLI, frozenset({"admin"} if who == "root" else ()))
    count, page = select(service.list_jobs(actor), parse_query(params))  # the filtering in Python, as before

    answer = request(app, "GET", f"{API}/v3/data/JobSummary.json?{query}", headers=basic(who))

    assert answer.status_code == 200, answer.text
    found = answer.json()["queryResponse"]
    assert (found["@count"], [int(e["$"]) for e in found.get("entityId", [])]) == (count, [j.id for j in page])


def test_a_query_the_store_answers_whole_is_paged_by_the_store(
    app: Starlette, jobs: dict[str, Job], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`eq` on type and status, by id: one count and one page from the store, no list to filter."""
    service = app.state.components.jobs

    def unpaged(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("every job listed, to be filtered and paged in Python")

    monkeypatch.setattr(service, "list_jobs", unpaged)
    url = f'{API}/v3/data/JobSummary.json?jobType="backup"&runStatus="PENDING_EXECUTION"&.firstResult=1'
    answer = request(app, "GET", url, headers=basic("alice"))
    assert answer.status_code == 200, answer.text
    found = answer.json()["queryResponse"]
    assert (found["@count"], [int(e["$"]) for e in found["entityId"]]) == (3, ids(jobs, "unnamed", "n3"))
