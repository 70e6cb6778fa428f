"""A hypothesis-driven fuzzer of seed 000's cancelJob envelope (SOAP 1.1 and 1.2), in this process.

Each input mutates the seed's request, its ticket naming Bob's job and sent with Alice's credentials: byte flips,
truncation, attribute values replaced, elements renamed or dropped, the operation renamed, random Content-Types.
Whatever arrives, the answer is one of: a 200 cancelJob answer saying `succeeded` 0 (the job is not Alice's); a
SOAP fault, HTTP 500 (or 401/415 for a missing login or a non-SOAP Content-Type); nothing shows a traceback, a
path, a library name or SQL text; and the store never changes.
"""

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inprocess import add_user, app_in_process, request
from lxml import etree
from soapkit import OperatorView, assert_unchanged, leaks
from starlette.applications import Starlette

from jobgate.domain.model import Actor, Channel, JobSpec
from support.transws import PATH, SEED_JOB, SEED_PROJECT, SEED_USER, TNS, fault_of

SEED: Final = (Path(__file__).parents[1] / "contract" / "transws" / "cancelJob" / "soap11.request.xml").read_bytes()
SOAP12_SEED: Final = SEED.replace(
    b"http://schemas.xmlsoap.org/soap/envelope/", b"http://www.w3.org/2003/05/soap-envelope"
)
ALICE, BOB = ("alice", "alice-Fz-1"), (SEED_USER, "bob-Fz-1")  # the seed's user-003 owns the target job
CONTENT_TYPES: Final = ("text/xml; charset=utf-8", "application/soap+xml; charset=utf-8", "text/xml",
                        "application/xml", "text/plain", "")  # fmt: skip
EXAMPLES: Final = 150  # ~20 s here


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Starlette, OperatorView, bytes, bytes]]:
    with app_in_process(tmp_path_factory.mktemp("fuzz")) as app:
        add_user(app, *ALICE, 8001)
        owner = add_user(app, *BOB, 8002)
        job = app.state.components.jobs.submit(
            Actor.of(owner, Channel.CLI), JobSpec("sleep", {"seconds": 1}, SEED_PROJECT)
        )
        filled = [seed.replace(SEED_JOB.encode(), job.key.encode()) for seed in (SEED, SOAP12_SEED)]
        yield app, OperatorView(str(app.state.components.settings.database_url)), filled[0], filled[1]


def _mutate(body: bytes, data: st.DataObject) -> bytes:
    kind = data.draw(st.sampled_from(["flip", "truncate", "attribute", "rename", "drop", "operation", "none"]))
    if kind == "flip":
        at = data.draw(st.integers(0, len(body) - 1))
        return body[:at] + bytes([data.draw(st.integers(0, 255))]) + body[at + 1 :]
    if kind == "truncate":
        return body[: data.draw(st.integers(0, len(body) - 1))]
    if kind == "attribute":
        name = data.draw(st.sampled_from([b"jobId", b"projectId", b"userId"]))
        value = data.draw(st.text(max_size=40)).encode("utf-8", "replace")
        value = value.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b'"', b"&quot;")
        start = body.index(name + b'="') + len(name) + 2
        return body[:start] + value + body[body.index(b'"', start) :]
    if kind == "rename":
        old = data.draw(st.sampled_from([b"ticket", b"Body", b"Envelope"]))
        return body.replace(old, data.draw(st.sampled_from([b"tickets", b"body", b"x:y", b"Header"])), 2)
    if kind == "drop":
        return body.replace(b'<ticket jobId="', b'<!-- ticket jobId="', 1).replace(b'"/>', b'" -->', 1)
    if kind == "operation":
        other = data.draw(st.sampled_from([b"cancelJob", b"suspendJobRequest", b"resumeJobRequest", b"cancel"]))
        return body.replace(b"cancelJobRequest", other)
    return body


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mutated_seed_envelope_never_changes_the_store_nor_leaks(
    world: tuple[Starlette, OperatorView, bytes, bytes], data: st.DataObject
) -> None:
    app, operator, soap11, soap12 = world
    body = _mutate(data.draw(st.sampled_from([soap11, soap12])), data)
    content_type = data.draw(st.sampled_from(CONTENT_TYPES))
    headers = {"authorization": "Basic " + base64.b64encode(":".join(ALICE).encode()).decode()}
    if content_type:
        headers["content-type"] = content_type
    before = operator.around()

    answer = request(app, "POST", PATH, content=body, headers=headers)

    assert not leaks(answer.content, body), answer.text[:800]
    assert "x-request-id" in answer.headers
    if answer.status_code == 200:
        root = etree.fromstring(answer.content)
        succeeded = root.findtext(f".//{{{TNS}}}succeeded")
        assert succeeded == "0", answer.text[:800]  # Bob's job, or none: never Alice's to change
    elif answer.status_code != 413:
        assert answer.status_code in (401, 415, 500), answer.status_code
        fault_of(answer)
    assert_unchanged(before, operator.around(), "a mutated request")
