"""CasJobs extracts and uploads against a real `jobgate serve`: the PyPI `casjobs` client, unmodified, over HTTP
GET and POST (SubmitExtractJob, then the file from OutputLoc with a plain GET), UploadData over SOAP 1.1 (zeep)
and HTTP POST, the errors of both, and the output URL: absolute, on the address the client used (or
JOBGATE_PUBLIC_URL), and a 404 for anything but a finished extract's own file."""

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import zeep
import zeep.exceptions
from casjobs import CasJobs
from lxml import etree
from starlette.applications import Starlette

from jobgate.app import create_app
from support.casjobs import (
    FAILED,
    FINISHED,
    JOBS_PATH,
    READY,
    CasUser,
    add_users,
    endless_job,
    post,
    result_of,
    show,
    wait_for_status,
)
from support.factories import settings_for
from support.server import JobgateServer
from support.wait import wait_until

pytestmark = pytest.mark.e2e

VO: Final = "{http://www.ivoa.net/xml/VOTable/v1.3}"
T1_QUERY: Final = "SELECT 1 AS a, 'x' AS b INTO mydb.t1"
T1_CSV: Final = b"a,b\r\n1,x\r\n"
CLIENT_USERS: Final = {"GET": "carol", "POST": "dave"}  # one user per request type: each makes its own t1
OUTPUT_URL: Final = re.compile(r"(?P<base>.+)/CasJobs/output/(?P<key>[0-9a-f]{32})\.(?P<ext>csv|xml)")
SERVER_PREFIX: Final = "Server was unable to process request. ---> "
POLL_S: Final = 0.05  # monitor()'s pause between status calls where the test calls it itself
PUBLIC_URL: Final = "https://jobs.example.org"


@pytest.fixture(scope="module")
def server(module_jobgate_server: Any) -> JobgateServer:
    server: JobgateServer = module_jobgate_server(JOBGATE_RUNNERS=2)
    return server


@pytest.fixture(scope="module")
def users(server: JobgateServer) -> dict[str, CasUser]:
    return add_users(server, "alice", "bob", "carol", "dave")


@pytest.fixture(scope="module")
def http(server: JobgateServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def alice(http: httpx.Client, users: dict[str, CasUser]) -> CasUser:
    """Alice, whose MyDB has table t1 (a 1, b 'x'), loaded with UploadData."""
    answer = post(http, "UploadData", **users["alice"].login(), tableName="t1", data="a,b\n1,x\n", tableExists=False)
    assert answer.status_code == 200, answer.text
    return users["alice"]


@pytest.fixture(scope="module", params=["GET", "POST"])
def client(request: pytest.FixtureRequest, server: JobgateServer, users: dict[str, CasUser]) -> CasJobs:
    """casjobs.CasJobs over HTTP GET or POST, as its README shows it, for a user whose MyDB has table t1."""
    user = users[CLIENT_USERS[request.param]]
    cj = CasJobs(userid=user.wsid, password=user.password, base_url=server.url + JOBS_PATH,
                 request_type=request.param, context="MyDB")  # fmt: skip
    job_id = cj.submit(T1_QUERY, task_name="t1")
    assert cj.monitor(job_id, timeout=POLL_S) == (FINISHED, "finished")
    return cj


def extract_job(cj: CasJobs, table: str, kind: str) -> tuple[int, dict[str, str]]:
    """request_output, then monitor to the end; the job id and its CJJob as the client reads it."""
    job_id = cj.request_output(table, kind)
    cj.monitor(job_id, timeout=POLL_S)
    [info] = cj.job_info(jobid=job_id)
    return job_id, info


def votable_cells(path: Path) -> tuple[list[str | None], list[list[str | None]]]:
    root = etree.parse(str(path)).getroot()
    assert (root.tag, root.get("version")) == (f"{VO}VOTABLE", "1.3")
    fields = [field.get("name") for field in root.iter(f"{VO}FIELD")]
    return fields, [[td.text for td in tr.iter(f"{VO}TD")] for tr in root.iter(f"{VO}TR")]


class TestExtractWithTheCasJobsClient:
    def test_request_and_get_output_writes_the_table_as_csv(self, client: CasJobs, tmp_path: Path) -> None:
        target = tmp_path / "t1.csv"

        client.request_and_get_output("t1", "CSV", str(target))

        assert target.read_bytes() == T1_CSV

    def test_request_and_get_output_writes_the_table_as_a_votable(self, client: CasJobs, tmp_path: Path) -> None:
        target = tmp_path / "t1.xml"

        client.request_and_get_output("t1", "VOTable", str(target))

        assert votable_cells(target) == (["a", "b"], [["1", "x"]])

    def test_output_loc_is_an_absolute_url_on_the_server_the_client_used(
        self, client: CasJobs, server: JobgateServer, http: httpx.Client
    ) -> None:
        job_id, info = extract_job(client, "T1", "CSV")  # table names are case-insensitive, as in SQL Server

        found = OUTPUT_URL.fullmatch(info["OutputLoc"])
        assert found is not None, info["OutputLoc"]
        assert (found["base"], found["ext"]) == (server.url, "csv")
        assert found["key"] == show(server, job_id)["key"]
        assert {k: info[k] for k in ("Status", "Rows", "Type")} == {"Status": "5", "Rows": "1", "Type": "EXTRACT"}
        answer = http.get(info["OutputLoc"])
        assert (answer.status_code, answer.headers["content-type"]) == (200, "text/csv; charset=utf-8")
        assert answer.content == T1_CSV

    def test_an_unknown_table_ends_the_job_failed_with_the_reason(self, client: CasJobs) -> None:
        job_id = client.request_output("nope", "CSV")

        assert client.monitor(job_id, timeout=POLL_S) == (FAILED, "failed")
        [info] = client.job_info(jobid=job_id)
        assert info["Error"] == "There is no table named 'nope' in MyDB."
        assert "OutputLoc" not in info
        with pytest.raises(Exception, match=f"The status of job {job_id} is 4"):
            client.get_output(job_id, "unused")

    @pytest.mark.parametrize("kind", ["FITS", "DataSet"])
    def test_fits_and_dataset_are_refused_at_submit(self, client: CasJobs, kind: str) -> None:
        before = len(client.job_info())

        with pytest.raises(Exception, match=f"Extract type {kind} is not supported; use CSV or VOTable."):
            client.request_output("t1", kind)

        assert len(client.job_info()) == before


def output_loc(http: httpx.Client, user: CasUser, job_id: int) -> str:
    answer = post(http, "GetJobs", owner_wsid=user.wsid, owner_pw=user.password, conditions=f"JobID : {job_id}",
                  includeSystem=False)  # fmt: skip
    found = re.search(r"<OutputLoc>([^<]+)</OutputLoc>", answer.text)
    assert found is not None, answer.text
    return found.group(1)


class TestExtractOverTheWire:
    def test_a_votable_is_served_as_application_x_votable_xml_and_the_type_matched_in_any_case(
        self, http: httpx.Client, alice: CasUser
    ) -> None:
        job_id = int(result_of(post(http, "SubmitExtractJob", **alice.login(), tableName="t1", type="votable")))
        wait_for_status(http, alice, job_id, {FINISHED})

        answer = http.get(output_loc(http, alice, job_id))

        assert (answer.status_code, answer.headers["content-type"]) == (200, "application/x-votable+xml")
        root = etree.fromstring(answer.content)
        assert [td.text for td in root.iter(f"{VO}TD")] == ["1", "x"]

    def test_an_unknown_type_is_refused(self, http: httpx.Client, alice: CasUser) -> None:
        refused = post(http, "SubmitExtractJob", **alice.login(), tableName="t1", type="Excel")

        assert refused.status_code == 500
        assert refused.text.startswith("System.Exception: Unknown extract type 'Excel'; use CSV or VOTable. --->")

    def test_job_types_list_extract_and_upload(self, http: httpx.Client, alice: CasUser) -> None:
        answer = post(http, "GetJobTypes", **alice.login())

        assert re.findall(r"<Type>(\w+)</Type>", answer.text) == ["QUERY", "QUICK", "EXTRACT", "UPLOAD"]


class TestOutputUrl:
    def test_anything_but_a_finished_extract_of_that_key_is_404_without_content(
        self, server: JobgateServer, http: httpx.Client, alice: CasUser, users: dict[str, CasUser]
    ) -> None:
        bob = users["bob"]
        query_id = int(result_of(post(http, "SubmitJob", **alice.login(), qry="SELECT 1 AS q", context="MyDB",
                                      taskname="q", estimate=1)))  # fmt: skip
        wait_for_status(http, alice, query_id, {FINISHED})
        done_id = int(result_of(post(http, "SubmitExtractJob", **alice.login(), tableName="t1", type="CSV")))
        wait_for_status(http, alice, done_id, {FINISHED})
        done_key = show(server, done_id)["key"]
        with endless_job(http, alice), endless_job(http, alice):  # both runners busy: bob's extract waits
            waiting_id = int(result_of(post(http, "SubmitExtractJob", **bob.login(), tableName="t1", type="CSV")))
            assert wait_for_status(http, bob, waiting_id, {READY}) == READY
            paths = [
                "/CasJobs/output/..%2f..%2f..%2f..%2fetc%2fpasswd",
                "/CasJobs/output/..%2F..%2Fetc%2Fpasswd",
                "/CasJobs/output/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                f"/CasJobs/output/{show(server, query_id)['key']}.csv",  # a finished job that is no extract
                f"/CasJobs/output/{show(server, waiting_id)['key']}.csv",  # another user's unfinished extract
                f"/CasJobs/output/{done_key}.xml",  # the right key, another file
                f"/CasJobs/output/{done_key.upper()}.csv",
                f"/CasJobs/output/{done_key}.csv.part",
                f"/CasJobs/output/{'0' * 32}.csv",
            ]
            answers = {path: http.get(path) for path in paths}

        assert {path: a.status_code for path, a in answers.items()} == dict.fromkeys(paths, 404)
        assert all(b"root:" not in a.content and b"a,b" not in a.content for a in answers.values())
        assert http.get(f"/CasJobs/output/{done_key}.csv").content == T1_CSV


class TestUploadData:
    def test_zeep_creates_a_table_http_post_appends_and_quick_sees_the_rows(
        self, server: JobgateServer, http: httpx.Client, users: dict[str, CasUser]
    ) -> None:
        bob = users["bob"]
        soap = zeep.Client(f"{server.url}{JOBS_PATH}?WSDL").bind("Jobs", "JobsSoap")
        cj = CasJobs(userid=bob.wsid, password=bob.password, base_url=server.url + JOBS_PATH, request_type="POST")

        created = soap.UploadData(bob.wsid, bob.password, "t2", 'id,name,ra\n1,one,0.5\n2,"t, w",\n', False)
        appended = post(http, "UploadData", **bob.login(), tableName="t2", data="id,name,ra\r\n3,three,1e2\r\n",
                        tableExists=True)  # fmt: skip

        assert created is None
        assert (appended.status_code, appended.content) == (200, b"")
        rows = cj.quick("SELECT * FROM t2", context="MYDB")
        assert rows == '[id]:BigInt,[name]:String,[ra]:Float\n1,"one",0.5\n2,"t, w",null\n3,"three",100.0\n'
        uploads = cj.job_info(type="UPLOAD")
        assert [(j["Status"], j["Rows"], j["OutputLoc"]) for j in uploads] == [("5", "2", "MyDB.t2"),
                                                                              ("5", "1", "MyDB.t2")]  # fmt: skip

    @pytest.mark.parametrize(
        ("table", "data", "exists", "message"),
        [
            ("t1", "a\n1\n", "False", "There is already an object named 't1' in MyDB."),
            ("missing", "a\n1\n", "True", "There is no table named 'missing' in MyDB."),
            ("t3", "a,b\n1,2\n3\n", "False", "Line 3 has 1 values; the header names 2 columns."),
            ("t3", "", "False", "The data is empty."),
            ("", "a\n1\n", "False", "The table name is empty."),
        ],
    )
    def test_errors_are_the_operations_exception_over_http_post(
        self, http: httpx.Client, alice: CasUser, table: str, data: str, exists: str, message: str
    ) -> None:
        answer = post(http, "UploadData", **alice.login(), tableName=table, data=data, tableExists=exists)

        assert (answer.status_code, answer.headers["content-type"]) == (500, "text/plain; charset=utf-8")
        assert answer.text.startswith(f"System.Exception: {message} --->")

    def test_an_error_is_a_server_fault_over_soap(self, server: JobgateServer, alice: CasUser) -> None:
        soap = zeep.Client(f"{server.url}{JOBS_PATH}?WSDL").bind("Jobs", "JobsSoap")

        with pytest.raises(zeep.exceptions.Fault) as fault:
            soap.UploadData(alice.wsid, alice.password, "t1", "a\n1\n", False)

        code, text = str(fault.value.code).rpartition(":")[2], str(fault.value.message)
        assert (code, text) == ("Server", SERVER_PREFIX + "There is already an object named 't1' in MyDB.")


# -- JOBGATE_PUBLIC_URL: the app in this process, behind a pretend proxy -----------------------------------------
class InProcess:
    """The whole app (one runner) in this process, called through httpx's ASGI transport."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=("203.0.113.9", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://10.0.0.5:8080") as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(send())


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcess, CasUser]]:
    where = tmp_path_factory.mktemp("public-url")
    settings = settings_for(f"sqlite:///{where / 'jobgate.db'}", where / "data", runners=1, public_url=PUBLIC_URL)
    app = create_app(settings)
    parts = app.state.components
    parts.pool.start()
    try:
        parts.identity.add_user("dora", "dora-Pa55", numbered={"wsid": 7})
        yield InProcess(app), CasUser("dora", "dora-Pa55", 7)
    finally:
        parts.pool.stop()
        parts.engine.dispose()


def test_the_output_url_names_jobgate_public_url(public: tuple[InProcess, CasUser]) -> None:
    app, dora = public
    login = dora.login()
    uploaded = app.request("POST", f"{JOBS_PATH}/UploadData", data={**login, "tableName": "t9", "data": "v\n7\n",
                                                                     "tableExists": "false"})  # fmt: skip
    assert uploaded.status_code == 200, uploaded.text
    extract = {**login, "tableName": "t9", "type": "CSV"}
    job_id = int(result_of(app.request("POST", f"{JOBS_PATH}/SubmitExtractJob", data=extract)))
    conditions = {"owner_wsid": dora.wsid, "owner_pw": dora.password, "conditions": f"JobID : {job_id}; Status : 5",
                  "includeSystem": "false"}  # fmt: skip

    def output_loc() -> str | None:
        answer = app.request("POST", f"{JOBS_PATH}/GetJobs", data=conditions)
        found = re.search(r"<OutputLoc>([^<]+)</OutputLoc>", answer.text)
        return found.group(1) if found else None

    location = wait_until(output_loc, 10.0, POLL_S, f"extract job {job_id} to finish")

    found = OUTPUT_URL.fullmatch(location)
    assert found is not None, location
    assert found["base"] == PUBLIC_URL
    download = app.request("GET", location.removeprefix(PUBLIC_URL))
    assert (download.status_code, download.text) == (200, "v\r\n7\r\n")
