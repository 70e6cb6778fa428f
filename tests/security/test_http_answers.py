"""Issue 19, findings 5 and 7 (the parts the dialects own): HEAD never runs an operation, every answer says
nosniff, and a GetJobs conditions string cannot buy seconds of CPU."""

import time
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette

from jobgate.domain.model import Actor, Channel
from jobgate.domain.states import JobState
from support.kits.base import app_in_process, request
from support.kits.casjobs import add_user, submit_sleep

JOBS = "/CasJobs/services/jobs.asmx"
PASSWORD = "alice-Pa55"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    with app_in_process(tmp_path_factory.mktemp("answers")) as built:
        add_user(built, "alice", PASSWORD, 4101)
        yield built


def state_of(app: Starlette, job_id: int) -> JobState:
    return app.state.components.jobs.get(Actor("alice", Channel.CLI), job_id).state


class TestHead:
    @pytest.mark.parametrize("op", ["CancelJob", "canceljob", "GetJobStatus"])
    def test_head_on_an_operation_is_refused_and_runs_nothing(self, app: Starlette, op: str) -> None:
        user = app.state.components.identity.user("alice")
        job = submit_sleep(app, user)
        answer = request(app, "HEAD", f"{JOBS}/{op}?wsId=4101&pw={PASSWORD}&jobId={job}")

        assert answer.status_code == 405
        assert "GET" in answer.headers["allow"]
        assert state_of(app, job) is JobState.SUBMITTED
        assert [e.stage for e in app.state.components.jobs.history(Actor("alice", Channel.CLI), job)[1]] == ["submit"]

    def test_head_still_reads_the_pages_and_the_wsdl(self, app: Starlette) -> None:
        for url in (JOBS, f"{JOBS}?WSDL", f"{JOBS}?op=CancelJob", "/", "/healthz"):
            answer = request(app, "HEAD", url)
            assert answer.status_code == 200, url
            assert answer.content == b""

    def test_the_same_get_runs_the_operation(self, app: Starlette) -> None:  # the refusal above can fail
        user = app.state.components.identity.user("alice")
        job = submit_sleep(app, user)
        assert request(app, "GET", f"{JOBS}/CancelJob?wsId=4101&pw={PASSWORD}&jobId={job}").status_code == 200
        assert state_of(app, job) is JobState.CANCELLED


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/"),
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("GET", "/no/such/path"),
        ("GET", f"{JOBS}/<script>alert(1)</script>"),  # the unknown-operation text echoes the path
        ("GET", f"{JOBS}?WSDL"),
        ("POST", JOBS),
        ("GET", "/webacs/api/v3/data/JobSummary"),
        ("GET", "/arcgis/rest/services/x/GPServer/t/jobs/j0?f=json"),
        ("GET", "/transws"),
        ("GET", "/CommandWebService.asmx"),
    ],
)
def test_every_answer_tells_browsers_not_to_sniff(app: Starlette, method: str, url: str) -> None:
    answer = request(app, method, url)
    assert answer.headers.get("x-content-type-options") == "nosniff", (answer.status_code, answer.text[:200])


class TestConditions:
    def _get_jobs(self, app: Starlette, conditions: str) -> tuple[int, str, float]:
        started = time.perf_counter()
        answer = request(
            app,
            "POST",
            f"{JOBS}/GetJobs",
            content=f"owner_wsid=4101&owner_pw={PASSWORD}&includeSystem=true&conditions={conditions}".encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        return answer.status_code, answer.text, time.perf_counter() - started

    def test_a_megabyte_of_alternatives_is_refused_before_any_job_is_compared(self, app: Starlette) -> None:
        huge = "JobID : " + "|".join(str(n) for n in range(300_000))
        status, text, _elapsed = self._get_jobs(app, huge)
        assert status == 500
        assert "longer than 4096 characters" in text

    def test_too_many_alternatives_in_a_short_string_are_refused(self, app: Starlette) -> None:
        status, text, _elapsed = self._get_jobs(app, "Status : " + "|".join("1" for _ in range(300)))
        assert status == 500
        assert "more than 256 alternatives" in text

    def test_an_ordinary_filter_still_works(self, app: Starlette) -> None:
        status, text, _elapsed = self._get_jobs(app, "Status : 0|1|2 ; JobID : 1,100")
        assert status == 200, text
        assert "ArrayOfCJJob" in text


def test_the_conditions_cap_is_what_casjobs_md_calls_a_filter() -> None:
    """A filter a person writes (every key, ranges, a few alternatives) fits well inside the caps."""
    from jobgate.dialects.casjobs.wire import parse_conditions

    keys = "JobID : 1,9|12 ; Status : 0|1|5 ; TimeSubmit : 2024-01-01,2024-12-31 ; TaskName : a|b ; Queue : 60"
    assert len(parse_conditions(keys)) == 5
