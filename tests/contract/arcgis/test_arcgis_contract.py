"""The ArcGIS dialect against its samples: seed 004's admin cancel POST (f=pjson) on a running job and on a
finished one, the f=html|json|pjson encodings, and the token refusals of arcgis.md, on a real server.

The seed's request is sent as written (README.md beside this file), with only its context, service and job id
made real and the token added to the body; answers are compared with the sample files as parsed JSON.
"""

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from lxml import html

from jobgate.services import TokenPolicy, TokenService
from jobgate.store import SqlUnitOfWorkFactory, make_engine
from support.arcgis import (
    ROOT,
    ArcUser,
    add_users,
    admin_job_url,
    executing_job,
    finished_job,
    status,
    submit,
    task_url,
    wait_for_status,
)
from support.fakes import FakeClock
from support.server import JobgateServer

HERE: Final = Path(__file__).parent
SEED_SERVICE: Final = "RasterUtilities"  # seed 004's service name; our jobs are submitted into it
SEED_JOB: Final = "j290c2d4e60364xx2a0c735fb9b68428a"


def expired_token(database_url: str, name: str) -> str:
    """A token for `name` issued by the store's own code two hours ago for one hour."""
    engine = make_engine(database_url)
    try:
        clock = FakeClock(datetime.now(UTC) - timedelta(hours=2))
        issued = TokenService(SqlUnitOfWorkFactory(engine), clock, {}, TokenPolicy()).issue(name, "arcgis", 3600)
    finally:
        engine.dispose()
    return issued.token


def sample(name: str, **values: str) -> Any:
    text = (HERE / name).read_text()
    for key, value in values.items():
        text = text.replace(f"<{key}>", value)
    return json.loads(text)


def seed_request(job_id: str) -> tuple[str, str, dict[str, str], str]:
    """Method, path, headers and body of seed 004's request, for our server and job."""
    head, _, body = (HERE / "admin_cancel" / "request.txt").read_text().partition("\n\n")
    request_line, *header_lines = head.splitlines()
    method, target, _ = request_line.split()
    path = target.replace("/<context>", ROOT).replace(SEED_JOB, job_id)
    headers = dict(line.split(": ", 1) for line in header_lines)
    kept = {k: v for k, v in headers.items() if k not in ("Host", "Content-Length")}  # httpx sets these
    return method, path, kept, body.strip()


def send_seed(http: httpx.Client, job_id: str, token: str) -> httpx.Response:
    method, path, headers, body = seed_request(job_id)
    return http.request(method, path, headers=headers, content=f"{body}&token={token}".encode())


@pytest.fixture(scope="module")
def server(module_jobgate_server: Any) -> JobgateServer:
    started: JobgateServer = module_jobgate_server(JOBGATE_RUNNERS=3)
    return started


@pytest.fixture(scope="module")
def http(server: JobgateServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def users(server: JobgateServer, http: httpx.Client) -> dict[str, ArcUser]:
    return add_users(server, http, "alice", "bob", "root", admins={"root"})


@pytest.fixture(scope="module")
def admin_token(http: httpx.Client) -> str:
    answer = http.post(f"{ROOT}/admin/generateToken", data={"username": "root", "password": "root-Pa55", "f": "json"})
    body = answer.json()
    assert isinstance(body["expires"], str), body  # [ADM]: the admin API's expiry is a string
    token: str = body["token"]
    return token


class TestSeedAdminCancel:
    def test_the_seed_post_on_a_running_job_succeeds_and_the_job_stops(
        self, http: httpx.Client, users: dict[str, ArcUser], admin_token: str
    ) -> None:
        job_id = executing_job(http, users["alice"], SEED_SERVICE)

        answer = send_seed(http, job_id, admin_token)

        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/plain;charset=UTF-8"
        assert answer.json() == sample("admin_cancel/success.response.json")
        assert "\n" in answer.text  # f=pjson: indented
        wait_for_status(http, users["alice"], job_id, {"esriJobCancelled"}, service=SEED_SERVICE)

    def test_the_seed_post_on_a_finished_job_answers_the_seed_error_and_changes_nothing(
        self, http: httpx.Client, users: dict[str, ArcUser], admin_token: str
    ) -> None:
        job_id = finished_job(http, users["alice"], SEED_SERVICE)

        answer = send_seed(http, job_id, admin_token)

        assert answer.status_code == 200  # arcgis.md: ArcGIS answers errors with HTTP 200
        assert answer.json() == sample("admin_cancel/error.response.json", jobID=job_id)
        assert status(http, users["alice"], job_id, SEED_SERVICE)["jobStatus"] == "esriJobSucceeded"

    def test_the_seed_post_on_a_queued_job_cancels_it(
        self, http: httpx.Client, users: dict[str, ArcUser], admin_token: str
    ) -> None:
        blockers = [executing_job(http, users["bob"], SEED_SERVICE) for _ in range(3)]  # every runner busy
        job_id = submit(http, users["alice"], 60, SEED_SERVICE)

        answer = send_seed(http, job_id, admin_token)

        assert answer.json() == sample("admin_cancel/success.response.json")
        assert status(http, users["alice"], job_id, SEED_SERVICE)["jobStatus"] == "esriJobCancelled"
        for blocker in blockers:
            assert send_seed(http, blocker, admin_token).json() == {"status": "success"}

    def test_the_token_in_the_query_string_does_not_count_for_an_admin_post(
        self, http: httpx.Client, users: dict[str, ArcUser], admin_token: str
    ) -> None:
        job_id = finished_job(http, users["alice"], SEED_SERVICE)
        method, path, headers, body = seed_request(job_id)

        answer = http.request(method, path, params={"token": admin_token}, headers=headers, content=body.encode())

        assert answer.json() == sample("tokens/admin-missing.json")


class TestFormats:
    def test_json_is_compact_and_pjson_indented_with_the_same_content(
        self, http: httpx.Client, users: dict[str, ArcUser], admin_token: str
    ) -> None:
        job_id = finished_job(http, users["alice"])
        url = admin_job_url(job_id)

        compact = http.get(url, params={"f": "json", "token": admin_token})
        pretty = http.get(url, params={"f": "pjson", "token": admin_token})

        assert "\n" not in compact.text
        assert pretty.text.startswith('{\n  "')
        assert compact.json() == pretty.json()
        body = compact.json()
        assert set(body) == {"jobID", "submittedTime", "endTime", "status", "username", "machinename", "url"}
        assert (body["jobID"], body["status"], body["username"]) == (job_id, "esriJobSucceeded", "alice")
        assert body["endTime"] >= body["submittedTime"] > 0
        assert body["url"].endswith(f"{task_url()}/jobs/{job_id}")

    def test_html_is_the_default_and_a_readable_page_of_the_same_data(
        self, http: httpx.Client, users: dict[str, ArcUser], admin_token: str
    ) -> None:
        job_id = finished_job(http, users["alice"])

        page = http.get(admin_job_url(job_id), params={"token": admin_token})

        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        cells = {row.findtext("th"): row.findtext("td") for row in html.fromstring(page.content).iter("tr")}
        assert cells["jobID"] == job_id
        assert cells["status"] == "esriJobSucceeded"

    def test_a_refusal_as_html_carries_its_http_status(self, http: httpx.Client) -> None:
        page = http.get(f"{task_url()}/jobs/j{'0' * 32}", params={"f": "html"})

        assert page.status_code == 401
        assert "Token Required" in page.text

    def test_gp_status_names_the_states_and_lists_the_messages(
        self, http: httpx.Client, users: dict[str, ArcUser]
    ) -> None:
        job_id = finished_job(http, users["alice"])

        body = status(http, users["alice"], job_id)

        assert body["jobId"] == job_id
        assert body["jobStatus"] == "esriJobSucceeded"
        assert [m["description"] for m in body["messages"]] == ["Submitted.", "Executing...", "Succeeded."]
        assert {m["type"] for m in body["messages"]} == {"esriJobMessageTypeInformative"}


class TestTokens:
    def test_a_call_without_a_token_answers_499(self, http: httpx.Client, users: dict[str, ArcUser]) -> None:
        job_id = finished_job(http, users["alice"])

        rest = http.get(f"{task_url()}/jobs/{job_id}", params={"f": "json"})
        admin = http.post(f"{admin_job_url(job_id)}/cancel", data={"f": "json"})

        assert (rest.status_code, rest.json()) == (200, sample("tokens/rest-missing.json"))
        assert (admin.status_code, admin.json()) == (200, sample("tokens/admin-missing.json"))

    def test_an_invalid_token_answers_498(self, http: httpx.Client, users: dict[str, ArcUser]) -> None:
        job_id = finished_job(http, users["alice"])

        rest = http.get(f"{task_url()}/jobs/{job_id}", params={"f": "json", "token": "not-a-token"})
        admin = http.post(f"{admin_job_url(job_id)}/cancel", data={"f": "json", "token": "not-a-token"})

        assert rest.json() == sample("tokens/rest-invalid.json")
        assert admin.json() == sample("tokens/admin-invalid.json")

    def test_an_expired_token_answers_498_and_the_admin_api_says_so(
        self, server: JobgateServer, http: httpx.Client, users: dict[str, ArcUser]
    ) -> None:
        job_id = finished_job(http, users["alice"])
        expired = expired_token(server.env["JOBGATE_DATABASE_URL"], "root")

        rest = http.get(f"{task_url()}/jobs/{job_id}", params={"f": "json", "token": expired})
        admin = http.post(f"{admin_job_url(job_id)}/cancel", data={"f": "json", "token": expired})

        assert rest.json() == sample("tokens/rest-invalid.json")  # arcgis.md: REST, expired = invalid
        assert admin.json() == sample("tokens/admin-expired.json")

    def test_a_wrong_password_gets_no_token(self, http: httpx.Client, users: dict[str, ArcUser]) -> None:
        answer = http.post(f"{ROOT}/tokens/generateToken", data={"username": "alice", "password": "x", "f": "json"})

        assert answer.json() == sample("tokens/rest-bad-login.json")

    def test_a_token_says_when_it_expires(self, http: httpx.Client, users: dict[str, ArcUser]) -> None:
        form = {"username": "alice", "password": "alice-Pa55", "expiration": "5", "f": "json"}

        body = http.post(f"{ROOT}/tokens/generateToken", data=form).json()

        assert isinstance(body["expires"], int)  # [GP]: the REST API's expiry is a number of ms
        assert body["ssl"] is False
        assert re.fullmatch("[0-9a-f]{32}", body["token"])  # the token service: 128 random bits

    def test_the_admin_api_refuses_a_user_outside_group_admin(
        self, http: httpx.Client, users: dict[str, ArcUser]
    ) -> None:
        job_id = executing_job(http, users["alice"])

        answer = http.post(f"{admin_job_url(job_id)}/cancel", data={"f": "json", "token": users["alice"].token})

        assert answer.json() == sample("tokens/admin-forbidden.json")
        assert status(http, users["alice"], job_id)["jobStatus"] == "esriJobExecuting"
        http.post(f"{task_url()}/jobs/{job_id}/cancel", data={"f": "json", "token": users["alice"].token})
