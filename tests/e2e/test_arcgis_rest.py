"""ArcGIS from a script's point of view, against a real `jobgate serve`: tokens, submitJob, status, cancel,
the Administrator API's delete, the wait= extension, and refusals of bad input in ArcGIS's error shape."""

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest

from support import transws
from support.arcgis import (
    ROOT,
    SERVICE,
    ArcUser,
    add_users,
    admin_job_url,
    executing_job,
    finished_job,
    status,
    submit,
    task_url,
    token,
    wait_for_status,
)
from support.server import JobgateServer

INVALID_URL = {"error": {"code": 400, "message": "Invalid URL", "details": []}}


@pytest.fixture(scope="module")
def server(module_jobgate_server: Any) -> JobgateServer:
    started: JobgateServer = module_jobgate_server(JOBGATE_RUNNERS=3, JOBGATE_MAX_BODY_BYTES=65536)
    return started


@pytest.fixture(scope="module")
def http(server: JobgateServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def users(server: JobgateServer, http: httpx.Client) -> dict[str, ArcUser]:
    return add_users(server, http, "alice", "bob", "root", admins={"root"})


def cancel(http: httpx.Client, user: ArcUser, job_id: str) -> dict[str, Any]:
    answer = http.post(f"{task_url()}/jobs/{job_id}/cancel", data={"f": "json", "token": user.token})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def job_number(server: JobgateServer, job_id: str) -> int:
    """The job's integer id, from the CLI's list (the wire id is `j` + its key)."""
    [found] = [j["id"] for j in server.cli.json("job", "list", "--json") if f"j{j['key']}" == job_id]
    return int(found)


class TestGpJobs:
    def test_a_running_job_cancelled_by_its_owner_goes_cancelling_then_cancelled(
        self, http: httpx.Client, users: dict[str, ArcUser]
    ) -> None:
        job_id = executing_job(http, users["alice"])

        answer = cancel(http, users["alice"], job_id)

        assert answer["jobId"] == job_id
        assert answer["jobStatus"] in {"esriJobCancelling", "esriJobCancelled"}
        wait_for_status(http, users["alice"], job_id, {"esriJobCancelled"})
        messages = [m["description"] for m in status(http, users["alice"], job_id)["messages"]]
        assert messages == ["Submitted.", "Executing...", "Cancelling...", "Cancelled."]

    def test_a_succeeded_job_lists_its_results_and_inputs_and_serves_each(
        self, http: httpx.Client, users: dict[str, ArcUser]
    ) -> None:
        job_id = finished_job(http, users["alice"])
        params = {"f": "json", "token": users["alice"].token}

        body = status(http, users["alice"], job_id)
        result = http.get(f"{task_url()}/jobs/{job_id}/results/result", params=params).json()
        seconds = http.get(f"{task_url()}/jobs/{job_id}/inputs/seconds", params=params).json()
        unknown = http.get(f"{task_url()}/jobs/{job_id}/results/nothing", params=params).json()

        assert body["results"]["result"] == {"paramUrl": "results/result"}
        assert body["inputs"] == {"seconds": {"paramUrl": "inputs/seconds"}}
        assert result == {"paramName": "result", "dataType": "GPString", "value": "slept 0 s"}
        assert seconds == {"paramName": "seconds", "dataType": "GPString", "value": "0"}
        assert unknown == INVALID_URL

    def test_cancel_of_a_finished_job_is_refused_and_changes_nothing(
        self, http: httpx.Client, users: dict[str, ArcUser]
    ) -> None:
        job_id = finished_job(http, users["alice"])

        answer = cancel(http, users["alice"], job_id)

        assert answer == {"error": {"code": 400, "message": "Invalid or missing input parameters.", "details": []}}
        assert status(http, users["alice"], job_id)["jobStatus"] == "esriJobSucceeded"

    def test_another_user_s_job_does_not_exist_for_the_caller_but_does_for_an_admin(
        self, http: httpx.Client, users: dict[str, ArcUser]
    ) -> None:
        job_id = executing_job(http, users["alice"])

        assert status(http, users["bob"], job_id) == INVALID_URL
        assert cancel(http, users["bob"], job_id) == INVALID_URL
        assert status(http, users["alice"], job_id)["jobStatus"] == "esriJobExecuting"
        assert status(http, users["root"], job_id)["jobStatus"] == "esriJobExecuting"
        assert cancel(http, users["root"], job_id)["jobStatus"] in {"esriJobCancelling", "esriJobCancelled"}

    def test_a_job_is_found_only_under_its_own_service_and_task(
        self, http: httpx.Client, users: dict[str, ArcUser]
    ) -> None:
        job_id = finished_job(http, users["alice"])

        assert status(http, users["alice"], job_id, service="elsewhere") == INVALID_URL
        wrong_task = http.get(f"{task_url('sql')}/jobs/{job_id}", params={"f": "json", "token": users["alice"].token})
        assert wrong_task.json() == INVALID_URL

    def test_an_unknown_task_is_refused(self, http: httpx.Client, users: dict[str, ArcUser]) -> None:
        answer = http.post(f"{task_url('nosuch')}/submitJob", data={"f": "json", "token": users["alice"].token})

        assert answer.json() == {
            "error": {"code": 400, "message": "Unable to complete operation.", "details": ["Task 'nosuch' not found."]}
        }

    def test_a_job_cancelled_elsewhere_shows_cancelled(
        self, server: JobgateServer, http: httpx.Client, users: dict[str, ArcUser]
    ) -> None:
        job_id = executing_job(http, users["alice"])

        server.cli.run("job", "cancel", job_number(server, job_id))

        wait_for_status(http, users["alice"], job_id, {"esriJobCancelled"})

    def test_a_job_cancelled_through_casjobs_shows_cancelled(
        self, server: JobgateServer, http: httpx.Client, users: dict[str, ArcUser]
    ) -> None:
        wsid = server.cli.add_user("dave", "dave-Pa55")
        dave = ArcUser("dave", "dave-Pa55", token(http, "dave", "dave-Pa55"))
        job_id = executing_job(http, dave)

        form = {"wsId": wsid, "pw": "dave-Pa55", "jobId": job_number(server, job_id)}
        assert http.post("/CasJobs/services/jobs.asmx/CancelJob", data=form).status_code == 200

        wait_for_status(http, dave, job_id, {"esriJobCancelled"})

    def test_a_job_cancelled_through_trans_ws_shows_cancelled(
        self, http: httpx.Client, users: dict[str, ArcUser]
    ) -> None:
        job_id = executing_job(http, users["alice"])
        ticket = transws.Ticket(jobId=job_id.removeprefix("j"), projectId=SERVICE, userId="alice")
        alice = transws.User("alice", users["alice"].password)

        answer = transws.call(http, transws.Version.SOAP11, alice, "cancelJobRequest", ticket)

        assert transws.control_answer(answer, "cancelJobResponse")[0] in ("1", "true")  # xsd:boolean
        wait_for_status(http, users["alice"], job_id, {"esriJobCancelled"})


class TestAdminDelete:
    def test_delete_of_a_running_job_stops_it_hides_it_and_keeps_its_history(
        self, server: JobgateServer, http: httpx.Client, users: dict[str, ArcUser]
    ) -> None:
        job_id = executing_job(http, users["alice"])
        number = job_number(server, job_id)
        admin = users["root"]

        answer = http.post(f"{admin_job_url(job_id)}/delete", data={"f": "json", "token": admin.token})

        assert answer.json() == {"status": "success"}
        assert status(http, users["alice"], job_id) == INVALID_URL
        gone = http.get(admin_job_url(job_id), params={"f": "json", "token": admin.token}).json()
        assert gone == {"status": "error", "messages": [f"Job '{job_id}' not found."], "code": 404}
        # the job is hidden from every view, the CLI's too; its row and history stay in the store
        with closing(sqlite3.connect(server.env["JOBGATE_DATABASE_URL"].removeprefix("sqlite:///"))) as db:
            [(state, deleted)] = db.execute("SELECT state, deleted FROM jobs WHERE id = ?", (number,)).fetchall()
            events = db.execute("SELECT stage, to_state, protocol FROM job_events WHERE job_id = ? ORDER BY seq",
                                (number,)).fetchall()  # fmt: skip
        assert (state, deleted) == ("Cancelled", 1)
        assert events[-1] == ("delete", "Cancelled", "arcgis")
        assert ("cancel", "Canceling", "arcgis") in events

    def test_delete_of_an_unknown_job_is_refused(self, http: httpx.Client, users: dict[str, ArcUser]) -> None:
        job_id = f"j{'0' * 32}"
        answer = http.post(f"{admin_job_url(job_id)}/delete", data={"f": "json", "token": users["root"].token})

        assert answer.json() == {"status": "error", "messages": [f"Unable to delete job :[{job_id}]"], "code": 400}


class TestAdminQuery:
    def query(self, http: httpx.Client, admin: ArcUser, service: str, **params: Any) -> dict[str, Any]:
        url = f"{ROOT}/admin/services/{service}.GPServer/jobs/query"
        found: dict[str, Any] = http.get(url, params={"f": "json", "token": admin.token, **params}).json()
        return found

    def test_the_jobs_of_a_service_come_newest_first_a_page_at_a_time(
        self, http: httpx.Client, users: dict[str, ArcUser]
    ) -> None:
        made = [finished_job(http, users["alice"], "queried") for _ in range(3)]
        bob_s = finished_job(http, users["bob"], "queried")

        everything = self.query(http, users["root"], "queried", startTime=0)
        first = self.query(http, users["root"], "queried", startTime=0, number=2)
        second = self.query(http, users["root"], "queried", startTime=0, number=2, start=3)
        alice_s = self.query(http, users["root"], "queried", startTime=0, userName="alice")

        assert [j["jobID"] for j in everything["jobs"]] == [bob_s, *reversed(made)]
        assert (first["total"], first["num"], first["start"], first["nextStart"]) == (4, 2, 1, 3)
        assert (second["num"], second["nextStart"]) == (2, -1)
        assert {j["jobID"] for j in alice_s["jobs"]} == set(made)
        assert {j["status"] for j in everything["jobs"]} == {"esriJobSucceeded"}

    def test_filters_by_status_and_time(self, http: httpx.Client, users: dict[str, ArcUser]) -> None:
        running = executing_job(http, users["alice"], "filtered")
        finished_job(http, users["alice"], "filtered")

        executing = self.query(http, users["root"], "filtered", startTime=0, jobStatus="esriJobExecuting")
        future = self.query(http, users["root"], "filtered", startTime=4_000_000_000_000)

        assert [j["jobID"] for j in executing["jobs"]] == [running]
        assert future["total"] == 0
        http.post(f"{admin_job_url(running, 'filtered')}/cancel", data={"f": "json", "token": users["root"].token})

    def test_start_time_is_required_and_the_api_is_for_admins(
        self, http: httpx.Client, users: dict[str, ArcUser]
    ) -> None:
        assert self.query(http, users["root"], "demo")["code"] == 400
        assert self.query(http, users["alice"], "demo", startTime=0)["code"] == 403


class TestWait:
    """The wait= extension answers when the state changes, or when the time is up; never sleep here."""

    def test_a_waiting_status_call_answers_as_soon_as_the_job_is_cancelled(
        self, server: JobgateServer, http: httpx.Client, users: dict[str, ArcUser]
    ) -> None:
        job_id = executing_job(http, users["alice"])
        answered: list[tuple[float, dict[str, Any]]] = []

        def wait() -> None:
            with httpx.Client(base_url=server.url, timeout=70) as own:
                started = time.monotonic()
                body = status(own, users["alice"], job_id, wait=50)
                answered.append((time.monotonic() - started, body))

        waiter = threading.Thread(target=wait)
        waiter.start()
        cancel(http, users["alice"], job_id)
        waiter.join(30)

        [(elapsed, body)] = answered
        assert body["jobStatus"] in {"esriJobCancelling", "esriJobCancelled"}
        assert elapsed < 20  # far short of the 50 s asked for

    def test_a_change_made_by_another_process_wakes_the_waiter(
        self, server: JobgateServer, http: httpx.Client, users: dict[str, ArcUser]
    ) -> None:
        job_id = executing_job(http, users["alice"])
        answered: list[dict[str, Any]] = []

        def wait() -> None:
            with httpx.Client(base_url=server.url, timeout=70) as own:
                answered.append(status(own, users["alice"], job_id, wait=50))

        waiter = threading.Thread(target=wait)
        waiter.start()
        server.cli.run("job", "cancel", job_number(server, job_id))  # the CLI's own process: the re-read hears it
        waiter.join(30)

        assert answered
        assert answered[0]["jobStatus"] in {"esriJobCancelling", "esriJobCancelled"}

    def test_without_a_change_the_call_answers_when_the_time_is_up(
        self, http: httpx.Client, users: dict[str, ArcUser]
    ) -> None:
        job_id = executing_job(http, users["alice"])

        started = time.monotonic()
        body = status(http, users["alice"], job_id, wait=0.5)

        assert time.monotonic() - started >= 0.5
        assert body["jobStatus"] == "esriJobExecuting"
        cancel(http, users["alice"], job_id)

    def test_a_finished_job_answers_at_once(self, http: httpx.Client, users: dict[str, ArcUser]) -> None:
        job_id = finished_job(http, users["alice"])

        started = time.monotonic()
        assert status(http, users["alice"], job_id, wait=50)["jobStatus"] == "esriJobSucceeded"
        assert time.monotonic() - started < 5

    @pytest.mark.parametrize("wait", ["61", "-1", "soon", "nan"])
    def test_a_wait_outside_0_to_60_seconds_is_refused(
        self, http: httpx.Client, users: dict[str, ArcUser], wait: str
    ) -> None:
        job_id = finished_job(http, users["alice"])

        body = status(http, users["alice"], job_id, wait=wait)

        assert body["error"]["code"] == 400


class TestBadInput:
    def test_a_body_over_the_cap_is_413_before_parsing(self, http: httpx.Client, users: dict[str, ArcUser]) -> None:
        big = {"seconds": "1", "pad": "x" * 70_000}
        answer = http.post(f"{task_url()}/submitJob?f=json", data=big)
        page = http.post(f"{task_url()}/submitJob", data={"f": "json", **big})  # the body's f is never read

        assert answer.status_code == 413
        assert answer.json()["error"]["code"] == 413
        assert page.status_code == 413

    def test_a_body_that_is_not_utf8_form_data_is_refused(self, http: httpx.Client, users: dict[str, ArcUser]) -> None:
        answer = http.post(f"{task_url()}/submitJob?f=json", content=b"seconds=%ff%fe&token=x",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip

        assert answer.json()["error"]["code"] == 400

    def test_a_json_input_nested_too_deep_is_refused_and_no_job_is_made(
        self, server: JobgateServer, http: httpx.Client, users: dict[str, ArcUser]
    ) -> None:
        before = len(server.cli.json("job", "list", "--json"))
        deep = "[" * 40 + "]" * 40

        answer = http.post(f"{task_url()}/submitJob", data={"f": "json", "token": users["alice"].token, "x": deep})

        assert answer.json()["error"]["code"] == 400
        assert len(server.cli.json("job", "list", "--json")) == before

    def test_an_unknown_format_is_refused_in_json(self, http: httpx.Client, users: dict[str, ArcUser]) -> None:
        answer = http.get(f"{task_url()}/jobs/j{'0' * 32}", params={"f": "xml"})

        assert answer.json()["error"]["code"] == 400

    def test_an_unknown_path_under_arcgis_is_an_invalid_url(self, http: httpx.Client) -> None:
        answer = http.get(f"{ROOT}/rest/services/x/MapServer", params={"f": "json"})

        assert answer.json() == INVALID_URL

    def test_generate_token_refuses_get(self, http: httpx.Client) -> None:
        answer = http.get(f"{ROOT}/tokens/generateToken", params={"username": "alice", "password": "alice-Pa55"})

        assert answer.status_code == 405  # f=html (the default): the page carries the status
        assert "Method not supported." in answer.text

    def test_a_submitted_input_reaches_the_task(self, http: httpx.Client, users: dict[str, ArcUser]) -> None:
        job_id = submit(http, users["alice"], seconds=0.1)

        wait_for_status(http, users["alice"], job_id, {"esriJobSucceeded"})


def test_the_server_log_shows_no_token_and_no_password(server: JobgateServer, users: dict[str, ArcUser]) -> None:
    log = server.log_text()

    assert "arcgis" in log  # the access log did record the module's calls
    for user in users.values():
        assert user.token not in log
        assert user.password not in log
