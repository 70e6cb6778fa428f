"""A SOAP request body is parsed once: by the gateway's hardened gate, whose tree Spyne then reads.

lxml's parsing entry points are wrapped (the lxml module's attributes, not jobgate's) only while the measured
request runs; every call that parses the request body is recorded.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from starlette.applications import Starlette

from support.kits.base import app_in_process, request
from support.kits.casjobs import add_user, submit_sleep
from support.kits.casjobs_wire import SOAP_BINDINGS, Binding, envelope, soap_action

PASSWORD = "pw-Once-4u!"  # distinctive: a parse whose input holds it is a parse of the body
ENTRY_POINTS = ("fromstring", "XML", "XMLID", "parse", "iterparse")


def _source_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    source = args[0] if args else next(iter(kwargs.values()), None)
    if isinstance(source, bytes | bytearray):
        return "body" if PASSWORD.encode() in source else f"{len(source)} other bytes"
    if isinstance(source, str):
        return "body" if PASSWORD in source else f"{len(source)} other characters"
    return f"a {type(source).__name__}"  # a file or stream: counted as the body, to be safe


@contextmanager
def parses_recorded() -> Iterator[list[tuple[str, str]]]:
    """Record (entry point, what it parsed) for each lxml parse while the block runs."""
    calls: list[tuple[str, str]] = []
    with pytest.MonkeyPatch.context() as patch:
        for name in ENTRY_POINTS:
            original = getattr(etree, name)

            def counting(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
                calls.append((_name, _source_of(args, kwargs)))
                return _original(*args, **kwargs)

            patch.setattr(etree, name, counting)

        class CountingParser(etree.XMLParser):  # type: ignore[misc]
            def feed(self, data: Any) -> Any:
                calls.append(("XMLParser.feed", _source_of((data,), {})))
                return super().feed(data)

        patch.setattr(etree, "XMLParser", CountingParser)
        yield calls


def body_parses(calls: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [call for call in calls if "other" not in call[1]]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Starlette]:
    with app_in_process(tmp_path) as built:
        yield built


def soap_call(app: Starlette, binding: Binding, op: str, job: int) -> Any:
    body = envelope(binding, op, {"wsId": 5001, "pw": PASSWORD, "jobId": job})
    headers = {"content-type": binding.content_type}
    if binding is Binding.SOAP11:
        headers["soapaction"] = soap_action(op)
    else:
        headers["content-type"] += f"; action={soap_action(op)}"
    return request(app, "POST", "/CasJobs/services/jobs.asmx", content=body, headers=headers)


@pytest.mark.parametrize("credentials", ["first call", "verified before"])
@pytest.mark.parametrize("op", ["CancelJob", "GetJobStatus"])
@pytest.mark.parametrize("binding", SOAP_BINDINGS)
def test_a_soap_call_parses_its_body_once(app: Starlette, binding: Binding, op: str, credentials: str) -> None:
    user = add_user(app, "alice", PASSWORD, 5001)
    job = submit_sleep(app, user)
    if credentials == "verified before":  # the gateway's hot path: cached credentials, no thread hop
        assert soap_call(app, binding, "GetJobStatus", job).status_code == 200
    with parses_recorded() as calls:
        answer = soap_call(app, binding, op, job)
    assert answer.status_code == 200, answer.text
    print(f"{binding} {op} ({credentials}): lxml parse calls {calls}")
    parsed = body_parses(calls)
    assert len(parsed) == 1, f"the request body was parsed {len(parsed)} times: {calls}"


@pytest.mark.parametrize("op", ["CancelJob", "GetJobStatus"])
def test_an_http_get_call_parses_no_xml_at_all(app: Starlette, op: str) -> None:
    user = add_user(app, "alice", PASSWORD, 5001)
    job = submit_sleep(app, user)
    with parses_recorded() as calls:
        answer = request(app, "GET", f"/CasJobs/services/jobs.asmx/{op}?wsId=5001&pw={PASSWORD}&jobId={job}")
    assert answer.status_code == 200, answer.text
    assert calls == [], f"an HTTP GET call parsed XML: {calls}"


def test_the_recorder_sees_a_parse_through_every_entry_point() -> None:
    """The instrument itself: each entry point a second parse could take is recorded as a parse of the body."""
    import io

    body = envelope(Binding.SOAP11, "CancelJob", {"wsId": 1, "pw": PASSWORD, "jobId": 2})
    with parses_recorded() as calls:
        etree.fromstring(body)
        etree.XML(body)
        etree.XMLID(body)
        etree.parse(io.BytesIO(body))
        list(etree.iterparse(io.BytesIO(body)))
        parser = etree.XMLParser()
        parser.feed(body)
        parser.close()
    # (lxml's XMLID goes through XML, so that one is seen twice)
    assert {name for name, _ in body_parses(calls)} == {*ENTRY_POINTS, "XMLParser.feed"}, calls
