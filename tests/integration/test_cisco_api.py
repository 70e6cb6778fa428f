"""The Cisco dialect in this process (create_app on SQLite, driven through httpx's ASGI transport): the
per-id verdicts in every state, the NBI groups, every refusal as an errorDocument that changes nothing,
JobSummary and runhistory, and the OpenAPI part."""

import base64
import itertools
import json
from collections.abc import Iterator
from typing import Any, Final

import httpx
import pytest
from lxml import etree
from openapi_spec_validator import validate
from starlette.applications import Starlette

from jobgate.dialects import registry
from jobgate.dialects.cisco.routes import CiscoApi
from jobgate.domain.model import Actor, Channel, JobSpec, TaskResult, User
from jobgate.domain.states import JobState
from jobgate.server import banner
from jobgate.services import Identity, JobService
from support.kits.base import app_in_process, request

S = JobState
API: Final = "/webacs/api"
PASSWORD: Final = "Pa55-word"
_TASKS: Final = itertools.count()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    with app_in_process(tmp_path_factory.mktemp("cisco"), max_in_flight_per_user=2) as built:
        identity: Identity = built.state.components.identity
        for name, groups in {
            "writer": ["nbi-write", "nbi-read"], "reader": ["nbi-read"], "pusher": ["nbi-write"],
            "other": ["nbi-write", "nbi-read"], "root": ["admin"], "nobody": [],
        }.items():  # fmt: skip
            identity.add_user(name, PASSWORD, groups)
        yield built


def jobs_of(app: Starlette) -> JobService:
    service: JobService = app.state.components.jobs
    return service


def user(app: Starlette, name: str) -> Actor:
    found: User | None = app.state.components.identity.user(name)
    assert found is not None
    return Actor.of(found, Channel.CLI)


def job_in(app: Starlette, wanted: JobState, owner: str = "writer") -> int:
    """A job brought into `wanted` by the requests a client and a runner would make."""
    jobs, runners, actor = jobs_of(app), app.state.components.runners, user(app, owner)
    task = f"task-{next(_TASKS)}"  # a task of its own: no runner here, and a claim must pick this job
    job = jobs.submit(actor, JobSpec(task, {"seconds": 60}, "proj"))
    if wanted in (S.EXECUTING, S.CANCELING, S.FINISHED, S.FAILED):
        claimed = runners.claim_next("runner", {task})
        assert claimed is not None
        assert claimed.id == job.id
        if wanted is S.CANCELING:
            jobs.cancel(actor, job.id)
        elif wanted is S.FINISHED:
            runners.finish(claimed, TaskResult(rows=1))
        elif wanted is S.FAILED:
            runners.fail(claimed, "broke")
    elif wanted is S.CANCELLED:
        jobs.cancel(actor, job.id)
    elif wanted is S.SUSPENDED:
        jobs.suspend(actor, job.id)
    assert jobs.get(actor, job.id).state is wanted
    return job.id


def state_of(app: Starlette, job_id: int) -> JobState:
    return jobs_of(app).get(user(app, "root"), job_id).state


def basic(name: str, password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def put(app: Starlette, op: str, ids: list[Any], who: str = "writer", version: str = "v3") -> httpx.Response:
    item = "runId" if op == "cancelrunning" else "jobId"
    root = "jobRunOperationPayload" if op == "cancelrunning" else "jobOperationPayload"
    body = json.dumps({root: {item[:-2] + "Ids": {item: ids}}}).encode()
    return request(app, "PUT", f"{API}/{version}/op/jobService/{op}.json", content=body, headers=basic(who))


def verdict(answer: httpx.Response) -> tuple[str, str]:
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["mgmtResponse"]["operationResult"]
    [[found]] = [result[side][side] for side in ("success", "failure") if result[side][side]]
    return found["status"], found["message"]


def error_of(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    if answer.headers["content-type"] == "application/json":
        document: dict[str, Any] = answer.json()["errorDocument"]
    else:
        root = etree.fromstring(answer.content)
        assert root.tag == "errorDocument"
        document = {child.tag: child.text for child in root}
        document["httpResponseCode"] = int(document["httpResponseCode"])
    assert list(document) == ["httpResponseCode", "httpMethod", "message", "id", "uriPath", "queryParams"]
    assert document["httpResponseCode"] == status
    return document


OK, NO = "Success", "Failure"
TABLE: Final = {  # cisco.md, "Mapping to the jobgate state machine"
    ("cancelrunning", S.SUBMITTED): (OK, "Run cancelled", S.CANCELLED),
    ("cancelrunning", S.EXECUTING): (OK, "Run cancelled; the run is stopping", S.CANCELING),
    ("cancelrunning", S.CANCELING): (OK, "Cancel already in progress", S.CANCELING),
    ("cancelrunning", S.SUSPENDED): (NO, "Run is not running", S.SUSPENDED),
    ("cancelrunning", S.FINISHED): (NO, "Run is not running", S.FINISHED),
    ("cancelrunning", S.CANCELLED): (NO, "Run is not running", S.CANCELLED),
    ("cancel", S.SUBMITTED): (OK, "Job cancelled", S.CANCELLED),
    ("cancel", S.EXECUTING): (OK, "Job cancelled; the run is stopping", S.CANCELING),
    ("cancel", S.CANCELING): (OK, "Cancel already in progress", S.CANCELING),
    ("cancel", S.SUSPENDED): (OK, "Job cancelled", S.CANCELLED),
    ("cancel", S.FAILED): (NO, "Job is already completed", S.FAILED),
    ("suspend", S.SUBMITTED): (OK, "Job suspended", S.SUSPENDED),
    ("suspend", S.SUSPENDED): (OK, "Job is already suspended", S.SUSPENDED),
    ("suspend", S.EXECUTING): (NO, "Job is running; suspend affects only future runs", S.EXECUTING),
    ("suspend", S.FINISHED): (NO, "Job is already completed", S.FINISHED),
    ("resume", S.SUSPENDED): (OK, "Job resumed", S.SUBMITTED),
    ("resume", S.SUBMITTED): (NO, "Job is not suspended", S.SUBMITTED),
    ("resume", S.EXECUTING): (NO, "Job is not suspended", S.EXECUTING),
    ("resume", S.CANCELLED): (NO, "Job is already completed", S.CANCELLED),
}


class TestOperations:
    @pytest.mark.parametrize(("op", "before"), list(TABLE))
    def test_each_state_gives_the_verdict_and_the_state_of_the_table(
        self, app: Starlette, op: str, before: JobState
    ) -> None:
        status, message, after = TABLE[(op, before)]
        job_id = job_in(app, before)
        assert verdict(put(app, op, [job_id])) == (status, message)
        assert state_of(app, job_id) is after

    @pytest.mark.parametrize("op", ["cancelrunning", "cancel", "suspend", "resume"])
    def test_unknown_and_other_users_jobs_are_not_found_and_unchanged(self, app: Starlette, op: str) -> None:
        theirs = job_in(app, S.SUSPENDED, owner="other")
        missing = "Run not found" if op == "cancelrunning" else "Job not found"
        assert verdict(put(app, op, [theirs])) == (NO, missing)
        assert verdict(put(app, op, [99_999_999])) == (NO, missing)
        assert state_of(app, theirs) is S.SUSPENDED

    def test_admin_acts_on_any_users_job(self, app: Starlette) -> None:
        theirs = job_in(app, S.EXECUTING, owner="other")
        assert verdict(put(app, "cancelrunning", [theirs], who="root")) == (OK, "Run cancelled; the run is stopping")

    def test_ids_may_be_numeric_strings_and_xml_is_the_default_format(self, app: Starlette) -> None:
        job_id = job_in(app, S.SUBMITTED)
        body = f"<jobOperationPayload><jobIds><jobId> {job_id} </jobId></jobIds></jobOperationPayload>".encode()
        answer = request(app, "POST", f"{API}/v1/op/jobService/suspend", content=body, headers=basic("writer"))
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/xml"
        assert etree.fromstring(answer.content).findtext("operationResult/success/success/id") == str(job_id)
        assert verdict(put(app, "resume", [str(job_id)])) == (OK, "Job resumed")


class TestGroupsAndCredentials:
    def test_no_credentials_is_401_with_a_basic_challenge(self, app: Starlette) -> None:
        answer = request(app, "GET", f"{API}/v3/data/JobSummary")
        assert error_of(answer, 401)["message"] == "Authentication required"
        assert answer.headers["www-authenticate"] == 'Basic realm="jobgate"'

    def test_wrong_password_is_401_and_changes_nothing(self, app: Starlette) -> None:
        job_id = job_in(app, S.SUBMITTED)
        body = json.dumps({"jobOperationPayload": {"jobIds": {"jobId": job_id}}}).encode()
        answer = request(app, "PUT", f"{API}/v2/op/jobService/cancel.json", content=body,
                         headers=basic("writer", "wrong"))  # fmt: skip
        assert error_of(answer, 401)["message"] == "Invalid user name or password"
        assert state_of(app, job_id) is S.SUBMITTED

    def test_operations_need_nbi_write(self, app: Starlette) -> None:
        job_id = job_in(app, S.SUBMITTED, owner="reader")
        document = error_of(put(app, "cancel", [job_id], who="reader"), 403)
        assert document["message"] == "User does not belong to NBI Write"
        assert state_of(app, job_id) is S.SUBMITTED

    def test_reads_need_nbi_read(self, app: Starlette) -> None:
        answer = request(app, "GET", f"{API}/v3/data/JobSummary.json", headers=basic("pusher"))
        assert error_of(answer, 403)["message"] == "User does not belong to NBI Read"
        answer = request(app, "GET", f"{API}/v3/data/JobSummary.json", headers=basic("nobody"))
        assert error_of(answer, 403)["id"] == "security.SEC-403"

    def test_admin_may_read_and_write(self, app: Starlette) -> None:
        assert request(app, "GET", f"{API}/v3/data/JobSummary", headers=basic("root")).status_code == 200
        assert verdict(put(app, "suspend", [job_in(app, S.SUBMITTED)], who="root"))[0] == OK

    def test_more_requests_in_flight_than_the_limit_are_503(self, app: Starlette) -> None:
        api = next(r.route.app for r in app.routes if isinstance(getattr(getattr(r, "route", None), "app", None),
                                                                      CiscoApi))  # fmt: skip
        with api.in_flight.slot("writer"), api.in_flight.slot("writer"):
            answer = put(app, "cancel", [job_in(app, S.SUBMITTED)])
            assert error_of(answer, 503)["message"] == "Rate limit exceeded"
            assert answer.headers["retry-after"] == "1"
            assert verdict(put(app, "cancel", [job_in(app, S.SUBMITTED, owner="other")], who="other"))[0] == OK
        assert verdict(put(app, "cancel", [job_in(app, S.SUBMITTED)]))[0] == OK


BAD_BODIES: Final = [
    ("application/xml", b"<jobOperationPayload><jobIds><jobId>1</jobId>"),
    ("application/xml", b'<!DOCTYPE x [<!ENTITY a "b">]><jobOperationPayload/>'),
    ("application/xml", b"<wrongRoot><jobIds><jobId>1</jobId></jobIds></wrongRoot>"),
    ("application/xml", b"<jobOperationPayload><jobIds/></jobOperationPayload>"),
    ("application/xml", b"<jobOperationPayload><jobIds><jobId>x1</jobId></jobIds></jobOperationPayload>"),
    ("application/json", b'{"jobOperationPayload": {"jobIds": {"jobId": [1, '),
    ("application/json", b'{"jobOperationPayload": {"jobIds": {"jobId": true}}}'),
    ("application/json", b'{"jobOperationPayload": {"jobIds": {"jobId": 1.5}}}'),
    ("application/json", b'{"jobOperationPayload": {"jobIds": {"jobId": []}}}'),
    ("application/json", b'{"jobOperationPayload": {"jobIds": {"jobId": 99999999999999999999}}}'),
    ("application/json", b'{"jobOperationPayload": {"jobIds": {"jobId": NaN}}}'),
    ("application/json", b"[" * 100 + b"]" * 100),
    ("application/json", b""),
]


class TestRefusals:
    @pytest.mark.parametrize(("media", "body"), BAD_BODIES)
    def test_a_bad_payload_is_400_and_changes_nothing(self, app: Starlette, media: str, body: bytes) -> None:
        job_id = job_in(app, S.SUBMITTED)
        body = body.replace(b">1<", f">{job_id}<".encode())
        answer = request(app, "PUT", f"{API}/v3/op/jobService/cancel", content=body,
                         headers={**basic("writer"), "Content-Type": media})  # fmt: skip
        document = error_of(answer, 400)
        assert (document["id"], document["httpMethod"], document["uriPath"]) == (
            "presentation.PRS-400", "PUT", "/op/jobService/cancel")  # fmt: skip
        assert "Traceback" not in answer.text
        assert state_of(app, job_id) is S.SUBMITTED

    @pytest.mark.parametrize(
        ("method", "path", "headers", "status"),
        [
            ("GET", "/v3/op/jobService/cancel", {}, 405),
            ("DELETE", "/v3/data/JobSummary", {}, 405),
            ("GET", "/v4/data/JobSummary", {}, 404),
            ("GET", "/v3/data/Devices", {}, 404),
            ("GET", "/v3/op/jobService/nothing", {}, 404),
            ("GET", "/v3/data/JobSummary", {"Accept": "text/html"}, 406),
            ("PUT", "/v3/op/jobService/cancel", {"Content-Type": "text/plain"}, 415),
            ("GET", "/v3/data/JobSummary?.maxResults=5000", {}, 400),
            ("GET", "/v3/data/JobSummary?colour=red", {}, 400),
            ("GET", "/v3/op/jobService/runhistory?jobId=x", {}, 400),
            ("GET", "/v3/op/jobService/runhistory?colour=red", {}, 400),
            ("GET", "/v3/op/jobService/runhistory?jobType=a&jobType=b", {}, 400),
            ("GET", "/v3/op/jobService/runhistory?jobStatus=RUNNING", {}, 400),
            ("GET", "/v3/op/jobService/runhistory?startTime=yesterday", {}, 400),
            ("GET", "/v3/op/jobService/runhistory?startTime=0001-01-01T00:00:00%2B05:00", {}, 400),
            ("GET", "/v3/op/jobService/runhistory?startTime=99999999999999999", {}, 400),
            ("GET", "/v3/op/jobService/runhistory?jobName=a%00b", {}, 400),
            ("GET", "/v3/op/jobService/runhistory?.maxResults=1001", {}, 400),
            ("GET", "/v3/data/JobSummary/77777777", {}, 404),
            ("GET", "/v3/data/JobSummary?.sort=%1F%00", {}, 400),  # echoed in the message: no XML 1.0 character
            ("GET", "/v3/data/Job%00Summary", {}, 404),
        ],
    )
    def test_refusals_are_error_documents(
        self, app: Starlette, method: str, path: str, headers: dict[str, str], status: int
    ) -> None:
        answer = request(app, method, API + path, content=b"<x/>" if method == "PUT" else None,
                         headers={**basic("writer"), **headers})  # fmt: skip
        error_of(answer, status)

    def test_a_body_over_the_cap_is_413(self, app: Starlette) -> None:
        answer = request(app, "PUT", f"{API}/v3/op/jobService/cancel", content=b" " * (2 * 1024 * 1024 + 1),
                         headers=basic("writer"))  # fmt: skip
        assert error_of(answer, 413)["message"] == "Request body too large"

    def test_an_unexpected_error_is_500_with_the_request_id_and_no_detail(
        self, app: Starlette, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("secret detail")

        monkeypatch.setattr(jobs_of(app), "page_of_jobs", broken)
        answer = request(app, "GET", f"{API}/v3/data/JobSummary.json", headers={**basic("writer"),
                                                                               "X-Request-Id": "req-42"})  # fmt: skip
        document = error_of(answer, 500)
        assert document["message"] == "Internal server error (request id req-42)"
        assert "secret detail" not in answer.text
        assert any("req-42" in record.getMessage() and record.exc_info for record in caplog.records)


class TestFindingRuns:
    def test_job_summary_lists_own_jobs_only_in_pages_sorted_and_filtered(self, app: Starlette) -> None:
        mine = [job_in(app, S.SUSPENDED, owner="reader") for _ in range(3)]
        job_in(app, S.SUSPENDED, owner="other")
        query = '?.full=true&.sort=-id&.maxResults=2&jobStatus="SUSPENDED"'
        answer = request(app, "GET", f"{API}/v1/data/JobSummary.json{query}", headers=basic("reader"))
        assert answer.status_code == 200, answer.text
        top = answer.json()["queryResponse"]
        assert (top["@count"], top["@first"], top["@last"], top["@responseType"]) == (3, 0, 1, "listEntityInstances")
        dtos = [entity["jobSummaryDTO"] for entity in top["entity"]]  # an array even in v1
        assert [dto["@id"] for dto in dtos] == sorted(mine, reverse=True)[:2]
        assert {(dto["username"], dto["jobStatus"], dto["runStatus"]) for dto in dtos} == {
            ("reader", "SUSPENDED", "PAUSED")}  # fmt: skip

    def test_job_summary_ids_list_in_xml(self, app: Starlette) -> None:
        job_id = job_in(app, S.FINISHED, owner="reader")
        answer = request(app, "GET", f'{API}/v3/data/JobSummary?runId="{job_id}"', headers=basic("reader"))
        root = etree.fromstring(answer.content)
        assert (root.tag, root.get("responseType"), root.get("count")) == ("queryResponse", "listEntityIds", "1")
        [entity] = root.findall("entityId")
        assert (entity.text, entity.get("type")) == (str(job_id), "JobSummary")
        assert entity.get("url", "").endswith(f"/webacs/api/v3/data/JobSummary/{job_id}")

    def test_a_range_header_pages_and_is_answered_with_content_range(self, app: Starlette) -> None:
        mine = [job_in(app, S.FINISHED, owner="reader") for _ in range(3)]
        query = f"?runId=between({mine[0]},{mine[-1]})"
        answer = request(app, "GET", f"{API}/v3/data/JobSummary.json{query}",
                         headers={**basic("reader"), "Range": "instances=1-5"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-range"] == "instances 1-2/3"
        assert [e["$"] for e in answer.json()["queryResponse"]["entityId"]] == [str(i) for i in mine[1:]]
        bad = request(app, "GET", f"{API}/v3/data/JobSummary", headers={**basic("reader"), "Range": "bytes=0-3"})
        error_of(bad, 400)

    def test_one_job_summary_and_its_run_history(self, app: Starlette) -> None:
        job_id = job_in(app, S.CANCELLED, owner="reader")
        one = request(app, "GET", f"{API}/v2/data/JobSummary/{job_id}.json", headers=basic("reader")).json()
        assert one["queryResponse"]["@responseType"] == "getEntity"
        assert one["queryResponse"]["entity"][0]["jobSummaryDTO"]["resultStatus"] == "CANCELLED"
        answer = request(app, "GET", f"{API}/v2/op/jobService/runhistory.json?jobId={job_id}", headers=basic("reader"))
        [job] = answer.json()["mgmtResponse"]["job"]
        [run] = job["runInstances"]["runInstance"]
        assert (job["jobId"], run["runId"], run["runStatus"]) == (job_id, job_id, "CANCELLED")
        assert [r["property"] for r in run["results"]["result"]] == ["submit", "cancel"]

    def test_another_users_job_is_not_found(self, app: Starlette) -> None:
        theirs = job_in(app, S.SUBMITTED, owner="other")
        answer = request(app, "GET", f"{API}/v3/op/jobService/runhistory?jobId={theirs}", headers=basic("reader"))
        error_of(answer, 404)


def test_openapi_document_is_valid_and_describes_every_cisco_operation(app: Starlette) -> None:
    document = request(app, "GET", "/openapi.json").json()
    validate(document)
    paths = document["paths"]
    for op in ("cancelrunning", "cancel", "suspend", "resume"):
        for suffix in ("", ".json"):
            assert {"put", "post"} <= set(paths[f"{API}/{{version}}/op/jobService/{op}{suffix}"])
    assert "get" in paths[f"{API}/{{version}}/data/JobSummary.json"]


def test_index_banner_and_metrics_name_the_cisco_dialect(app: Starlette) -> None:
    assert f"{API}/v3/data/JobSummary" in request(app, "GET", "/").text
    text = banner(app.state.components.settings, registry())
    assert "cisco" in text
    assert f"{API}/v3/op/jobService/cancelrunning" in text
    request(app, "GET", f"{API}/v3/data/JobSummary", headers=basic("reader"))
    assert 'dialect="cisco"' in request(app, "GET", "/metrics").text
