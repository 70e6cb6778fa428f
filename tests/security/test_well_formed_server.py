"""Issue 19, finding 4, against a real `jobgate serve`: a control character (U+0001, NUL) in a job's query or
name, sent over HTTP GET/POST, broke GetJobs for its owner and every admin on every binding (500 from HTTP
GET/POST, an empty envelope in Spyne's prefixes from SOAP); `SELECT char(1)` as a quick job answered 500 while
recorded Finished; an unexpected error carried no request id and left nothing in the log but the access line.

Now every answer is well-formed XML with no character XML 1.0 cannot carry (U+FFFD instead), in the binding's
own shape, with an X-Request-Id; an unexpected error (here: a job row whose params an operator's tool broke)
is the generic server error quoting that id, and the server log has the traceback under it.
"""

import re
import sqlite3
from collections.abc import Iterator
from typing import Final

import httpx
import pytest
from lxml import etree

from support.casjobs import TNS
from support.kits.casjobs_wire import Binding, User, World, assert_denied, call, open_world, result_text
from support.wait import wait_until

pytestmark = pytest.mark.e2e

ALICE: Final = User("alice", "alice-Wf-4", 4401)
ROOT: Final = User("root", "root-Wf-4", 4402, ("admin",))
MALLORY: Final = User("mallory", "mallory-Wf-4", 4403)  # owns the job whose row is broken
STRICT: Final = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
# what XML 1.0 cannot carry: controls other than tab, newline, return; surrogates; U+FFFE/FFFF
NOT_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# what the attacker submitted over the HTTP bindings, and what GetJobs must show for it
HOSTILE: Final = {
    Binding.GET: ("SELECT 1 AS a -- \x01 get", "get\x00name", "SELECT 1 AS a -- \ufffd get", "get\ufffdname"),
    Binding.POST: ("SELECT 2 AS b -- \x00 post", "post\x1fname", "SELECT 2 AS b -- \ufffd post", "post\ufffdname"),
}
INTERNAL: Final = "An internal error occurred; quote request id {}."


@pytest.fixture(scope="module")
def world(module_jobgate_server) -> World:
    return open_world(module_jobgate_server, [ALICE, ROOT, MALLORY])


@pytest.fixture(scope="module")
def http(world: World) -> Iterator[httpx.Client]:
    with world.server.client() as client:
        yield client


@pytest.fixture(scope="module")
def hostile_jobs(http: httpx.Client) -> dict[Binding, int]:
    """One batch job per HTTP binding whose query and name hold control characters (the server runs no runners)."""
    ids = {}
    for binding, (query, name, _, _) in HOSTILE.items():
        params = {**ALICE.creds("SubmitJob"), "qry": query, "context": "MyDB", "taskname": name, "estimate": 1}
        ids[binding] = int(result_text(call(http, binding, "SubmitJob", params), binding, "SubmitJob"))
    return ids


@pytest.fixture(scope="module")
def broken_job(world: World, http: httpx.Client) -> int:
    """Mallory's job, its params then made unreadable behind the server's back: reading it is an unexpected error."""
    params = {**MALLORY.creds("SubmitJob"), "qry": "SELECT 3", "context": "MyDB", "taskname": "broken", "estimate": 1}
    job = int(result_text(call(http, Binding.GET, "SubmitJob", params), Binding.GET, "SubmitJob"))
    path = world.server.env["JOBGATE_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE jobs SET params = '{not json' WHERE id = ?", (job,))
    db.close()
    return job


def well_formed(answer: httpx.Response, binding: Binding, op: str) -> etree._Element:
    """The answer parsed strictly, checked for stray characters, a request id and the binding's own shape; the
    element that holds the result (`<OpResult>` in SOAP, the document element in HTTP GET/POST)."""
    request_id = answer.headers.get("x-request-id")
    assert request_id, f"no X-Request-Id on HTTP {answer.status_code}"
    assert answer.status_code == 200, f"HTTP {answer.status_code} (request id {request_id}): {answer.text[:500]!r}"
    assert not NOT_XML.search(answer.content.decode("utf-8")), f"a character XML cannot carry: {answer.text[:500]!r}"
    root = etree.fromstring(answer.content, STRICT)  # well-formed, or this raises
    if not binding.is_soap:
        assert answer.headers["content-type"].startswith("text/xml"), answer.headers["content-type"]
        assert root.nsmap.get(None) == TNS, root.tag
        return root
    assert answer.headers["content-type"].startswith(binding.content_type.partition(";")[0])
    assert root.tag == f"{{{binding.envelope_ns}}}Envelope", root.tag
    found = root.find(f"{{{binding.envelope_ns}}}Body/{{{TNS}}}{op}Response/{{{TNS}}}{op}Result")
    assert found is not None, f"no {op}Result in {answer.text[:500]!r}"
    return found


def jobs_in(result: etree._Element) -> dict[int, dict[str, str]]:
    """JobID → {field: text} of the CJJob elements in a GetJobs result."""
    return {
        int(job.findtext(f"{{{TNS}}}JobID") or "0"): {etree.QName(e).localname: e.text or "" for e in job}
        for job in result.iter(f"{{{TNS}}}CJJob")
    }


@pytest.mark.parametrize("who", [ALICE, ROOT], ids=["owner", "admin"])
@pytest.mark.parametrize("binding", list(Binding))
def test_getjobs_lists_jobs_whose_query_and_name_hold_control_characters(
    http: httpx.Client, hostile_jobs: dict[Binding, int], binding: Binding, who: User
) -> None:
    answer = call(http, binding, "GetJobs", {**who.creds("GetJobs"), "conditions": "", "includeSystem": "true"})

    listed = jobs_in(well_formed(answer, binding, "GetJobs"))
    for sent_over, job in hostile_jobs.items():
        _, _, query, name = HOSTILE[sent_over]
        assert job in listed, f"job {job} (sent over {sent_over}) missing from {sorted(listed)}"
        assert (listed[job]["Query"], listed[job]["TaskName"]) == (query, name)


@pytest.mark.parametrize("binding", list(Binding))
def test_a_quick_job_answering_a_control_character_is_answered_well_formed_and_recorded_finished(
    http: httpx.Client, binding: Binding
) -> None:
    taskname = f"char1-{binding}"
    params = {**ALICE.creds("ExecuteQuickJob"), "qry": "SELECT char(1) AS c", "context": "MyDB",
              "taskname": taskname, "isSystem": "false"}  # fmt: skip
    answer = call(http, binding, "ExecuteQuickJob", params)

    assert well_formed(answer, binding, "ExecuteQuickJob").text == '[c]:String\n"\ufffd"\n'
    conditions = f"TaskName : {taskname}"
    listed = call(http, Binding.GET, "GetJobs", {**ALICE.creds("GetJobs"), "conditions": conditions,
                                                 "includeSystem": "true"})  # fmt: skip
    [job] = jobs_in(well_formed(listed, Binding.GET, "GetJobs")).values()
    assert (job["Status"], job["Rows"], job["Type"]) == ("5", "1", "QUICK")  # Finished, and it was answered


@pytest.mark.parametrize("binding", list(Binding))
def test_an_unexpected_error_answers_in_the_bindings_shape_with_the_request_id_it_is_logged_under(
    world: World, http: httpx.Client, broken_job: int, binding: Binding
) -> None:
    answer = call(http, binding, "GetJobs", {**MALLORY.creds("GetJobs"), "conditions": "", "includeSystem": "true"})

    request_id = answer.headers.get("x-request-id", "")
    assert re.fullmatch(r"[0-9a-f]{16}", request_id), f"request id {request_id!r} on {answer.text[:300]!r}"
    assert_denied(answer, binding, INTERNAL.format(request_id))  # a Server/Receiver fault, or ASMX's text/plain
    for leak in ("Traceback", "JSONDecodeError", "not json", "sqlalchemy", "spyne", "soap11env", "File "):
        assert leak not in answer.text, f"the answer shows {leak!r}: {answer.text[:500]!r}"

    def logged() -> list[str]:
        return [line for line in world.server.log_text().splitlines()
                if f"request id {request_id}" in line and "level='error'" in line]  # fmt: skip

    [line] = wait_until(logged, 5.0, message=f"an error line in the server log for request id {request_id}")
    assert "Traceback (most recent call last)" in line, line[:500]
    assert "JSONDecodeError" in line, line[-500:]
