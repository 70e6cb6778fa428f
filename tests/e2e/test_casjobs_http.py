"""jobs.asmx over plain HTTP against a real `jobgate serve`: the HTTP GET/POST bindings as ASP.NET binds them
(names in any case, extra names ignored, .NET conversions, text/plain errors), the path in any case, the
human pages (operation list, `?op=` test form, index), and casusers.asmx GetWebServiceId."""

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import html
from starlette.applications import Starlette

from jobgate.dialects import casjobs
from jobgate.dialects.common import DialectOptions
from support.casjobs import (
    JOBS_PATH,
    QUICK_CSV,
    QUICK_QUERY,
    STARTED,
    CasUser,
    add_users,
    cancel,
    result_of,
    show,
    start_endless_job,
)
from support.factories import components, settings_for
from support.server import JobgateServer

OPERATIONS = ["CancelJob", "ExecuteQuickJob", "GetJobStatus", "GetJobTypes", "GetJobs", "GetQueues", "SubmitJob"]
LIST_LINK = "Click here for a complete list of operations."
INVOKE_TEXT = "To test the operation using the HTTP POST protocol, click the 'Invoke' button."
LOCAL_ONLY_TEXT = "The test form is only available for requests from the local machine."


@pytest.fixture(scope="module")
def server(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=2)


@pytest.fixture(scope="module")
def alice(server: JobgateServer) -> CasUser:
    return add_users(server, "alice")["alice"]


@pytest.fixture(scope="module")
def http(server: JobgateServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def running_job(http: httpx.Client, alice: CasUser) -> Iterator[int]:
    job_id = start_endless_job(http, alice)
    yield job_id
    cancel(http, alice, job_id)


def get_status(http: httpx.Client, path: str = f"{JOBS_PATH}/GetJobStatus", **params: Any) -> httpx.Response:
    return http.get(path, params=params)


def quick_job(http: httpx.Client, user: CasUser, is_system: str) -> httpx.Response:
    form = {"qry": QUICK_QUERY, "context": "MyDB", "taskname": "quick", "isSystem": is_system}
    return http.post(f"{JOBS_PATH}/ExecuteQuickJob", data={**user.login(), **form})


def assert_asmx_error(answer: httpx.Response, message: str) -> None:
    """ASMX answers every HTTP GET/POST error with 500 and the exception text as text/plain."""
    assert answer.status_code == 500, answer.text
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert message in answer.text
    assert "<" not in answer.text, "HTML or XML in an error body"


class TestParameterBinding:
    @pytest.mark.parametrize(
        "names", [("wsId", "pw", "jobId"), ("wsid", "pw", "jobid"), ("WSID", "PW", "JOBID"), ("WsId", "Pw", "JobID")]
    )
    def test_parameter_names_match_in_any_case(
        self, http: httpx.Client, alice: CasUser, running_job: int, names: tuple[str, str, str]
    ) -> None:
        wsid, pw, job = names

        answer = get_status(http, **{wsid: alice.wsid, pw: alice.password, job: running_job})

        assert result_of(answer) == str(STARTED)

    def test_extra_parameters_are_ignored(self, http: httpx.Client, alice: CasUser, running_job: int) -> None:
        answer = get_status(
            http, wsid=alice.wsid, pw=alice.password, jobid=running_job, owner_wsid=999, format="json", x=""
        )

        assert result_of(answer) == str(STARTED)

    @pytest.mark.parametrize("value", ["True", "False", "true", "1", "0", "FALSE"])
    def test_booleans_are_read_as_dotnet_reads_them(self, http: httpx.Client, alice: CasUser, value: str) -> None:
        answer = quick_job(http, alice, is_system=value)

        assert result_of(answer) == QUICK_CSV

    def test_a_boolean_spelled_yes_is_refused(self, http: httpx.Client, alice: CasUser) -> None:
        answer = quick_job(http, alice, is_system="yes")

        assert_asmx_error(answer, "Cannot convert yes to System.Boolean.")

    @pytest.mark.parametrize("missing", ["wsId", "pw", "jobId"])
    def test_a_missing_parameter_is_named_in_a_500(
        self, http: httpx.Client, alice: CasUser, running_job: int, missing: str
    ) -> None:
        params = {"wsId": alice.wsid, "pw": alice.password, "jobId": running_job}
        del params[missing]

        assert_asmx_error(get_status(http, **params), f"Missing parameter: {missing}.")

    def test_a_job_id_that_is_not_a_number_is_a_500(self, http: httpx.Client, alice: CasUser) -> None:
        answer = get_status(http, wsid=alice.wsid, pw=alice.password, jobid="abc")

        assert_asmx_error(answer, "Cannot convert abc to System.Int64.")

    def test_a_job_id_that_looks_like_sql_is_a_500_and_changes_nothing(
        self, server: JobgateServer, http: httpx.Client, alice: CasUser, running_job: int
    ) -> None:
        before = show(server, running_job)

        answer = http.get(
            f"{JOBS_PATH}/CancelJob",
            params={"wsid": alice.wsid, "pw": alice.password, "jobid": f"{running_job};DROP TABLE jobs"},
        )

        assert_asmx_error(answer, f"Cannot convert {running_job};DROP TABLE jobs to System.Int64.")
        assert show(server, running_job) == before

    @pytest.mark.parametrize(
        "path", ["/casjobs/SERVICES/Jobs.asmx/GetJobStatus", "/CASJOBS/services/JOBS.ASMX/getjobstatus"]
    )
    def test_the_path_matches_in_any_case(
        self, http: httpx.Client, alice: CasUser, running_job: int, path: str
    ) -> None:
        answer = get_status(http, path, wsid=alice.wsid, pw=alice.password, jobid=running_job)

        assert result_of(answer) == str(STARTED)

    def test_an_unknown_operation_is_a_500_naming_the_url(self, http: httpx.Client, alice: CasUser) -> None:
        answer = http.get(f"{JOBS_PATH}/DropAllJobs", params={"wsid": alice.wsid, "pw": alice.password})

        assert_asmx_error(answer, "Request format is unrecognized for URL unexpectedly ending in '/DropAllJobs'.")


# -- pages ------------------------------------------------------------------------------------------------------
def page(answer: httpx.Response) -> Any:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    return html.document_fromstring(answer.content)


def text_of(document: Any) -> str:
    return " ".join(document.text_content().split())


class TestPages:
    def test_the_operation_list_links_every_operation_and_the_wsdl(self, http: httpx.Client) -> None:
        document = page(http.get(JOBS_PATH))

        links = {a.text_content(): a.get("href") for a in document.iter("a")}
        assert {op: links.get(op) for op in OPERATIONS} == {op: f"{JOBS_PATH}?op={op}" for op in OPERATIONS}
        assert f"{JOBS_PATH}?WSDL" in links.values()

    def test_the_cancel_job_page_has_the_seeds_texts_and_a_form_posting_to_the_operation(
        self, http: httpx.Client
    ) -> None:
        document = page(http.get(JOBS_PATH, params={"op": "CancelJob"}))

        assert LIST_LINK in text_of(document)
        assert INVOKE_TEXT in text_of(document)
        [form] = document.forms
        assert (form.get("method").upper(), form.get("action")) == ("POST", f"{JOBS_PATH}/CancelJob")
        assert [i.get("name") for i in form.inputs if i.get("type") == "text"] == ["wsId", "pw", "jobId"]

    def test_the_op_parameter_matches_in_any_case(self, http: httpx.Client) -> None:
        document = page(http.get(JOBS_PATH, params={"OP": "canceljob"}))

        assert [form.get("action") for form in document.forms] == [f"{JOBS_PATH}/CancelJob"]

    def test_the_index_links_the_wsdl_and_the_test_page(self, http: httpx.Client) -> None:
        document = page(http.get("/"))

        hrefs = {a.get("href") for a in document.iter("a")}
        assert {f"{JOBS_PATH}?WSDL", f"{JOBS_PATH}?op=CancelJob"} <= hrefs

    def test_with_test_forms_off_the_page_has_no_form(
        self, module_jobgate_server: Callable[..., JobgateServer]
    ) -> None:
        quiet = module_jobgate_server(JOBGATE_TEST_FORMS="off", JOBGATE_RUNNERS=0)

        with quiet.client() as client:
            document = page(client.get(JOBS_PATH, params={"op": "CancelJob"}))

        assert document.forms == []
        assert INVOKE_TEXT not in text_of(document)
        assert LIST_LINK in text_of(document)


@pytest.fixture(scope="module")
def local_forms_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    """The CasJobs routes with JOBGATE_TEST_FORMS=local, on a service layer of their own (pages never use it)."""
    where: Path = tmp_path_factory.mktemp("local-forms")
    with components(settings_for(f"sqlite:///{where / 'jobgate.db'}", where)) as parts:
        yield Starlette(routes=casjobs.DIALECT.mount(parts.services, DialectOptions(test_forms="local")).routes)


class TestLocalTestForms:
    """JOBGATE_TEST_FORMS=local shows the form to loopback clients only, whatever X-Forwarded-For says. A
    remote client cannot be made on 127.0.0.1, so these call the dialect's ASGI routes in this process."""

    @staticmethod
    def operation_page(app: Starlette, client: tuple[str, int], headers: list[tuple[bytes, bytes]]) -> str:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": JOBS_PATH, "raw_path": JOBS_PATH.encode(), "query_string": b"op=CancelJob", "root_path": "",
            "headers": [(b"host", b"jobgate.example"), *headers], "client": client, "server": ("192.0.2.1", 80),
        }  # fmt: skip
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        asyncio.run(app(scope, receive, send))
        assert sent[0]["status"] == 200
        return b"".join(m.get("body", b"") for m in sent[1:]).decode()

    @pytest.mark.parametrize("client", [("127.0.0.1", 50000), ("::1", 50000), ("127.8.9.10", 50000)])
    def test_a_loopback_client_gets_the_form(self, local_forms_app: Starlette, client: tuple[str, int]) -> None:
        text = self.operation_page(local_forms_app, client, [(b"x-forwarded-for", b"203.0.113.9")])

        assert INVOKE_TEXT in text
        assert LOCAL_ONLY_TEXT not in text

    @pytest.mark.parametrize("client", [("203.0.113.9", 50000), ("10.0.0.2", 50000), ("2001:db8::1", 50000)])
    def test_a_remote_client_is_told_the_form_is_local_only(
        self, local_forms_app: Starlette, client: tuple[str, int]
    ) -> None:
        text = self.operation_page(local_forms_app, client, [(b"x-forwarded-for", b"127.0.0.1")])

        assert LOCAL_ONLY_TEXT in text
        assert "<form" not in text


# -- casusers.asmx ---------------------------------------------------------------------------------------------
class TestGetWebServiceId:
    @pytest.mark.parametrize("path", ["/CasJobs/services/casusers.asmx", "/CasJobs/casusers.asmx"])
    def test_a_user_name_and_password_give_the_wsid_and_a_bad_password_gives_minus_one(
        self, http: httpx.Client, alice: CasUser, path: str
    ) -> None:
        good = http.post(f"{path}/GetWebServiceId", data={"userid": "alice", "password": alice.password})
        bad = http.post(f"{path}/GetWebServiceId", data={"userid": "alice", "password": "wrong"})
        nobody = http.post(f"{path}/GetWebServiceId", data={"userid": "nobody", "password": alice.password})

        assert [result_of(a) for a in (good, bad, nobody)] == [str(alice.wsid), "-1", "-1"]
        assert good.headers["content-type"] == "text/xml; charset=utf-8"
