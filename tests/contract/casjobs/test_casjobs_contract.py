"""jobs.asmx against its samples: seed 001's CancelJob, and GetJobStatus, SubmitJob, GetJobs and ExecuteQuickJob
in the shapes casjobs.md documents, each over SOAP 1.1, SOAP 1.2, HTTP GET and HTTP POST.

Each request file is sent as written, with only its placeholders filled (README.md beside this file), and
each answer is compared by structure with the response file (support.xmlcompare).
"""

import re
from collections.abc import Callable, Iterator, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode
from xml.sax.saxutils import escape

import httpx
import pytest
from lxml import etree

from support.casjobs import (
    CANCELING_OR_CANCELLED,
    ENDLESS_QUERY,
    JOBS_PATH,
    QUICK_CSV,
    QUICK_QUERY,
    STARTED,
    TNS,
    CasUser,
    add_users,
    cancel,
    cancel_events,
    endless_job,
    jobgate_json,
    post,
    result_of,
    show,
    start_endless_job,
    status,
)
from support.server import JobgateServer
from support.xmlcompare import assert_same_structure, to_element

HERE: Final = Path(__file__).parent
SEED_PREFIX: Final = "/gcasjobs/services/jobs.asmx"  # MAST's deployment in the samples; ours differs in the prefix only
NEVER_SET: Final = "0001-01-01T00:00:00"  # casjobs.md: an unset CJJob time is DateTime.MinValue


class Binding(StrEnum):
    SOAP11 = "soap11"
    SOAP12 = "soap12"
    HTTP_GET = "httpget"
    HTTP_POST = "httppost"


BINDINGS: Final = list(Binding)
SOAP_CONTENT_TYPES: Final = {  # seed 001: the Content-Type of the sample request and of its response
    Binding.SOAP11: "text/xml; charset=utf-8",
    Binding.SOAP12: "application/soap+xml; charset=utf-8",
}


# -- sending a sample ---------------------------------------------------------------------------------------
def fill_xml(text: str, values: Mapping[str, Any], *, every: bool) -> str:
    """Replace the text of the leaf elements named in `values`; the rest of the file stays byte for byte."""
    for name, value in values.items():
        pattern = re.compile(rf"(<{name}(?:\s[^>]*)?>)[^<]*(</{name}>)")
        text, count = pattern.subn(lambda m, v=value: m.group(1) + escape(str(v)) + m.group(2), text)
        assert count == 1 or (count == 0 and not every), f"placeholder <{name}> found {count} times"
    return text


def fill_form(query: str, values: Mapping[str, Any]) -> str:
    """The sample's name=value pairs in their order, with the values replaced."""
    pairs = parse_qsl(query.strip(), keep_blank_values=True)
    assert sorted(name for name, _ in pairs) == sorted(values), f"the sample's parameters are {pairs}"
    return urlencode([(name, str(values[name])) for name, _ in pairs])


def send(http: httpx.Client, op: str, binding: Binding, values: Mapping[str, Any]) -> httpx.Response:
    """Send `<op>/<binding>.request.*` with the seed's headers (Host and Content-Length are httpx's)."""
    folder = HERE / op
    if binding in SOAP_CONTENT_TYPES:
        body = fill_xml((folder / f"{binding}.request.xml").read_text(), values, every=True)
        headers = {"Content-Type": SOAP_CONTENT_TYPES[binding]}
        if binding is Binding.SOAP11:
            headers["SOAPAction"] = f'"{TNS}/{op}"'
        return http.post(JOBS_PATH, content=body.encode(), headers=headers)
    if binding is Binding.HTTP_GET:
        method, target, _version = (folder / "httpget.request.txt").read_text().split()
        path, _, query = target.partition("?")
        assert method == "GET", target
        assert path == f"{SEED_PREFIX}/{op}", target
        return http.get(f"{JOBS_PATH}/{op}?{fill_form(query, values)}")
    body = fill_form((folder / "httppost.request.txt").read_text(), values)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return http.post(f"{JOBS_PATH}/{op}", content=body.encode(), headers=headers)


def expected_answer(op: str, binding: Binding, values: Mapping[str, Any], omit: tuple[str, ...] = ()) -> str | None:
    """The response file with its known values filled and `omit`ted elements removed; None: no body."""
    name = f"{binding}.response.xml" if binding in SOAP_CONTENT_TYPES else "http.response.xml"
    path = HERE / op / name
    if not path.exists():
        return None
    text = fill_xml(path.read_text(), values, every=False)
    for element in omit:
        text = re.sub(rf"\s*<{element}>[^<]*</{element}>", "", text)
    return text


def check_answer(answer: httpx.Response, op: str, binding: Binding, values: Mapping[str, Any], **kw: Any) -> None:
    assert answer.status_code == 200, answer.text
    expected = expected_answer(op, binding, values, **kw)
    if binding in SOAP_CONTENT_TYPES:
        assert answer.headers["content-type"] == SOAP_CONTENT_TYPES[binding]
    if expected is None:
        assert answer.content == b""
        return
    if binding not in SOAP_CONTENT_TYPES:
        assert answer.headers["content-type"] == "text/xml; charset=utf-8"
    assert_same_structure(answer.content, expected)


def result_text(answer: httpx.Response, op: str) -> str:
    """The text of `<OpResult>` (SOAP) or of the HTTP binding's root element."""
    root = to_element(answer.content)
    found = root if root.tag != f"{{{etree.QName(root).namespace}}}Envelope" else root.find(f".//{{{TNS}}}{op}Result")
    assert found is not None, answer.text
    assert found.text is not None, answer.text
    return str(found.text)


def quick_job_id(http: httpx.Client, user: CasUser, taskname: str) -> int:
    """Run a quick job and find its id (ExecuteQuickJob answers the rows only) with GetJobs."""
    form = {"qry": QUICK_QUERY, "context": "MyDB", "taskname": taskname, "isSystem": "false"}
    assert result_of(post(http, "ExecuteQuickJob", **user.login(), **form)) == QUICK_CSV
    conditions = f"Type : QUICK; TaskName : {taskname}"
    found = post(http, "GetJobs", owner_wsid=user.wsid, owner_pw=user.password, conditions=conditions,
                 includeSystem="false")  # fmt: skip
    assert found.status_code == 200, found.text
    [job_id] = [int(e.text) for e in to_element(found.content).iter(f"{{{TNS}}}JobID")]
    return job_id


# -- one server for the module ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=3)


@pytest.fixture(scope="module")
def http(server: JobgateServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def alice(server: JobgateServer) -> CasUser:
    return add_users(server, "alice")["alice"]


@pytest.fixture(scope="module")
def running_job(http: httpx.Client, alice: CasUser) -> Iterator[int]:
    """One endless job of alice's, Executing while the read-only samples run."""
    job_id = start_endless_job(http, alice)
    yield job_id
    cancel(http, alice, job_id)


# -- the samples --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("binding", BINDINGS)
class TestCancelJob:
    def test_cancel_of_an_executing_job_answers_as_the_seed_and_leaves_it_canceling(
        self, binding: Binding, server: JobgateServer, http: httpx.Client, alice: CasUser
    ) -> None:
        with endless_job(http, alice) as job_id:
            answer = send(http, "CancelJob", binding, {"wsId": alice.wsid, "pw": alice.password, "jobId": job_id})

            check_answer(answer, "CancelJob", binding, {})  # GET and POST: 200 with an empty body
            assert status(http, alice, job_id) in CANCELING_OR_CANCELLED  # seed 001: returns once Canceling
        shown = show(server, job_id)
        assert shown["state"] in ("Canceling", "Cancelled")
        assert [(e["actor"], e["protocol"], e["from_state"], e["to_state"]) for e in cancel_events(shown)] == [
            ("alice", "casjobs", "Executing", "Canceling")
        ]

    def test_cancel_of_an_unknown_job_answers_as_the_seed_and_does_nothing(
        self, binding: Binding, server: JobgateServer, http: httpx.Client, alice: CasUser
    ) -> None:
        before = jobgate_json(server, "job", "list")
        unknown = max((job["id"] for job in before), default=0) + 1000

        answer = send(http, "CancelJob", binding, {"wsId": alice.wsid, "pw": alice.password, "jobId": unknown})

        check_answer(answer, "CancelJob", binding, {})  # seed 001: "does nothing and returns nothing"
        assert jobgate_json(server, "job", "list") == before

    def test_cancel_of_a_quick_job_answers_as_the_seed_and_changes_nothing(
        self, binding: Binding, server: JobgateServer, http: httpx.Client, alice: CasUser
    ) -> None:
        quick = quick_job_id(http, alice, f"quick-{binding}")
        before = show(server, quick)

        answer = send(http, "CancelJob", binding, {"wsId": alice.wsid, "pw": alice.password, "jobId": quick})

        check_answer(answer, "CancelJob", binding, {})  # seed 001: "Has no effect on quick jobs."
        assert show(server, quick) == before


@pytest.mark.parametrize("binding", BINDINGS)
class TestGetJobStatus:
    def test_status_of_an_executing_job_is_1(
        self, binding: Binding, http: httpx.Client, alice: CasUser, running_job: int
    ) -> None:
        answer = send(http, "GetJobStatus", binding, {"wsId": alice.wsid, "pw": alice.password, "jobId": running_job})

        check_answer(answer, "GetJobStatus", binding, {"GetJobStatusResult": STARTED, "int": STARTED})


@pytest.mark.parametrize("binding", BINDINGS)
class TestSubmitJob:
    def test_submit_answers_the_new_jobs_id_and_stores_the_query_for_its_owner(
        self, binding: Binding, server: JobgateServer, http: httpx.Client, alice: CasUser
    ) -> None:
        values = {"wsid": alice.wsid, "pw": alice.password, "qry": "SELECT 2 AS two", "context": "MyDB",
                  "taskname": f"contract-{binding}", "estimate": 1}  # fmt: skip

        answer = send(http, "SubmitJob", binding, values)

        check_answer(answer, "SubmitJob", binding, {})
        shown = show(server, int(result_text(answer, "SubmitJob")))
        assert (shown["owner"], shown["task"], shown["name"], shown["params"]) == (
            "alice", "sql", f"contract-{binding}", {"query": "SELECT 2 AS two", "context": "MyDB"},
        )  # fmt: skip
        first = shown["history"][0]
        assert (first["stage"], first["to_state"], first["actor"], first["protocol"]) == (
            "submit", "Submitted", "alice", "casjobs",
        )  # fmt: skip


@pytest.mark.parametrize("binding", BINDINGS)
class TestGetJobs:
    def test_jobs_by_id_lists_that_job_with_null_strings_omitted(
        self, binding: Binding, http: httpx.Client, alice: CasUser, running_job: int
    ) -> None:
        values = {"owner_wsid": alice.wsid, "owner_pw": alice.password, "conditions": f"JobID : {running_job}",
                  "includeSystem": "false"}  # fmt: skip

        answer = send(http, "GetJobs", binding, values)

        known = {"JobID": running_job, "Rows": 0, "WebServicesID": alice.wsid, "TimeEnd": NEVER_SET,
                 "Status": STARTED, "Queue": 500, "TaskName": "test", "Query": ENDLESS_QUERY, "Context": "MyDB",
                 "Type": "QUERY"}  # fmt: skip
        # casjobs.md, client rule 6: a string member with no value is left out, never written empty
        check_answer(answer, "GetJobs", binding, known, omit=("OutputLoc", "Error"))


@pytest.mark.parametrize("binding", BINDINGS)
class TestExecuteQuickJob:
    def test_quick_job_answers_csv_with_a_header_line_and_a_final_newline(
        self, binding: Binding, http: httpx.Client, alice: CasUser
    ) -> None:
        values = {"wsid": alice.wsid, "pw": alice.password, "qry": QUICK_QUERY, "context": "MyDB",
                  "taskname": "quick", "isSystem": "false"}  # fmt: skip

        answer = send(http, "ExecuteQuickJob", binding, values)

        check_answer(answer, "ExecuteQuickJob", binding, {"ExecuteQuickJobResult": QUICK_CSV, "string": QUICK_CSV})
        assert result_text(answer, "ExecuteQuickJob") == QUICK_CSV  # line breaks matter to the clients
