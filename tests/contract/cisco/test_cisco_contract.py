"""op/jobService/cancelrunning against seed 003's samples, v1, v2 and v3, XML and JSON.

Each request file is sent as written with its ids (15, 25) replaced by real job ids; the answer is compared
with the response file by structure (XML: support.xmlcompare; JSON: keys in order, nesting, arrays versus
objects and value types), and its ids and messages are checked for what really happened. The seed's response
holds one failure and one success (v1, v2) or two of each (v3): a second case sends ids that give exactly
those counts, so the whole answer must have the seed's shape; the first case checks the same shape with the
lists the verbatim request really yields (cisco.md [REC] for empty lists).
"""

import copy
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from lxml import etree

from support.cisco import (
    PREFIX,
    VERSIONS,
    NbiUser,
    add_nbi_users,
    finished_job,
    operation,
    running_job,
    state,
    submit,
    verdicts,
    wait_for_state,
)
from support.server import JobgateServer
from support.xmlcompare import assert_same_structure

HERE: Final = Path(__file__).parent / "cancelrunning"
SEED_ORIGIN: Final = "https://localhost"
UNKNOWN: Final = 987_654_321
STOPPING: Final = "Run cancelled; the run is stopping"


@pytest.fixture(scope="module")
def server(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=4)


@pytest.fixture(scope="module")
def users(server: JobgateServer) -> dict[str, NbiUser]:
    return add_nbi_users(server, operator=("nbi-write", "nbi-read"), other=("nbi-write",))


@pytest.fixture
def http(server: JobgateServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


# -- sending a sample -----------------------------------------------------------------------------------------
def send_sample(http: httpx.Client, user: NbiUser, version: str, fmt: str, ids: list[int]) -> httpx.Response:
    """The request file as written, its ids replaced one for one; a list of another length replaces the whole
    list (XML: one <runId> line per id; JSON: the value of runId, an array unless there is one id)."""
    text = (HERE / f"{version}.request.{fmt}").read_text()
    seed_ids = re.findall(r"\b(15|25)\b", text)
    if len(ids) == len(seed_ids):
        numbers = iter(ids)
        text = re.sub(r"\b(15|25)\b", lambda _: str(next(numbers)), text)
    elif fmt == "xml":
        lines = "".join(f"<runId>{job_id}</runId>\n" for job_id in ids)
        text = re.sub(r"(<runIds>\n)(?:<runId>\d+</runId>\n)+", lambda m: m.group(1) + lines, text)
    else:
        payload = json.loads(text)
        payload["jobRunOperationPayload"]["runIds"]["runId"] = ids if len(ids) > 1 else ids[0]
        text = json.dumps(payload, indent=1)
    path = f"{PREFIX}/{version}/op/jobService/cancelrunning" + (".json" if fmt == "json" else "")
    media = "application/json" if fmt == "json" else "application/xml"
    return http.put(path, content=text.encode(), headers={"Content-Type": media}, auth=user.auth)


# -- the expected shapes ---------------------------------------------------------------------------------------
def xml_template(version: str, base: str, successes: int, failures: int) -> bytes:
    """The seed's XML response with its lists resized, its filler texts as placeholders, the real operation
    and our URLs."""
    root = etree.fromstring((HERE / f"{version}.response.xml").read_bytes())
    for name in ("requestUrl", "rootUrl"):
        root.set(name, root.get(name, "").replace(SEED_ORIGIN, base))
    for side, count in (("success", successes), ("failure", failures)):
        holder = root.find(f"operationResult/{side}")
        assert holder is not None
        item = copy.deepcopy(holder[0])
        holder[:] = [copy.deepcopy(item) for _ in range(count)]
    for element in root.iter("id"):
        element.text = "long"
    for element in [*root.iter("message"), *root.iter("status")]:
        element.text = "string"
    operation = root.find("operationResult/operation")
    assert operation is not None
    operation.text = "CANCELRUNNING"  # cisco.md: the seed's SUSPEND is generated filler
    return bytes(etree.tostring(root))


def json_shape(value: Any, path: str = "$") -> list[str]:
    """One line per value: its path and kind; objects list their keys in order."""
    if isinstance(value, dict):
        lines = [f"{path} {{{', '.join(value)}}}"]
        for key, item in value.items():
            lines += json_shape(item, f"{path}.{key}")
        return lines
    if isinstance(value, list):
        lines = [f"{path} [{len(value)}]"]
        for n, item in enumerate(value):
            lines += json_shape(item, f"{path}[{n}]")
        return lines
    return [f"{path} {type(value).__name__}"]


def json_template(version: str, successes: int, failures: int) -> Any:
    """The seed's JSON response with its lists resized as the version writes lists (v1: one element as
    itself, none left out; v2/v3: arrays)."""
    document = json.loads((HERE / f"{version}.response.json").read_text())
    results = document["mgmtResponse"]["operationResult"]
    result = results[0] if isinstance(results, list) else results
    for side, count in (("success", successes), ("failure", failures)):
        items = result[side][side]
        item = items[0] if isinstance(items, list) else items
        if version != "v1":
            result[side][side] = [item] * count
        elif count == 0:
            del result[side][side]
        else:
            result[side][side] = item if count == 1 else [item] * count
    return document


def check_shape(answer: httpx.Response, version: str, fmt: str, base: str, successes: int, failures: int) -> None:
    assert answer.status_code == 200, answer.text
    if fmt == "xml":
        assert answer.headers["content-type"] == "application/xml"
        assert_same_structure(answer.content, xml_template(version, base, successes, failures))
        return
    assert answer.headers["content-type"] == "application/json"
    actual = answer.json()
    assert json_shape(actual) == json_shape(json_template(version, successes, failures))
    top = actual["mgmtResponse"]
    suffix = ".json"
    assert top["@requestUrl"] == f"{base}{PREFIX}/{version}/op/jobService/cancelrunning{suffix}"
    assert top["@rootUrl"] == f"{base}{PREFIX}/{version}/op"
    assert top["@responseType"] == "operation"


CASES: Final = [(version, fmt) for version in VERSIONS for fmt in ("xml", "json")]


@pytest.mark.parametrize(("version", "fmt"), CASES)
def test_seed_request_sent_verbatim_cancels_the_real_runs(
    server: JobgateServer, users: dict[str, NbiUser], http: httpx.Client, version: str, fmt: str
) -> None:
    count = len(re.findall(r"\b(15|25)\b", (HERE / f"{version}.request.{fmt}").read_text()))
    ids = [running_job(server, "operator") for _ in range(count)]
    answer = send_sample(http, users["operator"], version, fmt, ids)
    check_shape(answer, version, fmt, server.url, successes=count, failures=0)
    found = verdicts(answer)
    assert (found.operation, found.message) == ("CANCELRUNNING", f"{count} succeeded, 0 failed")
    assert found.success == dict.fromkeys(ids, STOPPING)
    for job_id in ids:
        wait_for_state(server, job_id, "Cancelled")


@pytest.mark.parametrize(("version", "fmt"), CASES)
def test_answer_has_the_seed_shape_with_its_counts_of_success_and_failure(
    server: JobgateServer, users: dict[str, NbiUser], http: httpx.Client, version: str, fmt: str
) -> None:
    pairs = 2 if version == "v3" else 1  # the seed's v3 answer lists two of each
    running = [running_job(server, "operator") for _ in range(pairs)]
    theirs = finished_job(server, "other")
    refused = [UNKNOWN, theirs][:pairs]
    answer = send_sample(http, users["operator"], version, fmt, [*running, *refused])
    check_shape(answer, version, fmt, server.url, successes=pairs, failures=pairs)
    found = verdicts(answer)
    assert found.message == f"{pairs} succeeded, {pairs} failed"
    assert found.success == dict.fromkeys(running, STOPPING)
    assert found.failure == dict.fromkeys(refused, "Run not found")  # another user's run is not shown to exist
    assert state(server, theirs) == "Finished"
    for job_id in running:
        wait_for_state(server, job_id, "Cancelled")


# -- cancel, suspend, resume: jobOperationPayload (cisco.md), answered in the seed's mgmtResponse shape --------
JOB_OPS: Final = HERE.parent / "jobOperation"
JOB_CASES: Final = [(op, version, fmt) for op in ("cancel", "suspend", "resume") for version, fmt in CASES]
HELD: Final = "held"  # a task no runner serves: its jobs stay Submitted until someone acts on them


@pytest.mark.parametrize(("op", "version", "fmt"), JOB_CASES)
def test_job_operation_samples_answer_in_the_seed_shape(
    server: JobgateServer, users: dict[str, NbiUser], http: httpx.Client, op: str, version: str, fmt: str
) -> None:
    job_id = submit_held(server)
    if op == "resume":
        assert verdicts(operation(http, users["operator"], "v3", "suspend", [job_id], as_json=True)).success
    text = (JOB_OPS / f"{version}.request.{fmt}").read_text().replace("15", str(job_id))
    path = f"{PREFIX}/{version}/op/jobService/{op}" + (".json" if fmt == "json" else "")
    media = "application/json" if fmt == "json" else "application/xml"
    answer = http.put(path, content=text.encode(), headers={"Content-Type": media}, auth=users["operator"].auth)
    assert answer.status_code == 200, answer.text
    if fmt == "xml":
        template = etree.fromstring(xml_template(version, server.url, 1, 0))
        operation_element = template.find("operationResult/operation")
        assert operation_element is not None
        operation_element.text = op.upper()
        for name in ("requestUrl", "rootUrl"):
            template.set(name, template.get(name, "").replace("cancelrunning", op))
        assert_same_structure(answer.content, template)
    else:
        assert json_shape(answer.json()) == json_shape(json_template(version, 1, 0))
    found = verdicts(answer)
    assert (found.operation, found.success) == (op.upper(), {job_id: JOB_DONE[op]})
    assert state(server, job_id) == JOB_AFTER[op]


JOB_DONE: Final = {"cancel": "Job cancelled", "suspend": "Job suspended", "resume": "Job resumed"}
JOB_AFTER: Final = {"cancel": "Cancelled", "suspend": "Suspended", "resume": "Submitted"}


def submit_held(server: JobgateServer) -> int:
    return submit(server, "operator", task=HELD)
