"""A hypothesis-driven fuzzer of seed 001's CancelJob envelopes (SOAP 1.1 and 1.2) against a real server.

Each input mutates the seed's request (placeholders filled with a real user and job): byte flips, truncation,
element / attribute / namespace renames, duplicated or removed children, huge or non-numeric values, and random
SOAPAction and Content-Type variants. The test re-parses its own mutated body to tell a malformed request from
one that is still a valid CancelJob, then checks what a client and the operator see:

- a malformed request (not well-formed, wrong envelope namespace, a required element gone, an unknown operation,
  a non-SOAP Content-Type, a SOAPAction naming another operation, a DOCTYPE, a body over the cap) never gets 200;
- no answer shows a traceback, a source path, a library name or SQL text that the request did not carry;
- every answer carries x-request-id, the server stays healthy, and the store never changes (the target is
  Alice's quick job, which CancelJob leaves alone; every other job belongs to Bob).
"""

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from support.kits.base import assert_unchanged, leaks
from support.kits.casjobs_wire import (
    JOBS,
    SOAP11,
    SOAP12,
    SOAP_BINDINGS,
    TNS,
    Binding,
    User,
    World,
    call,
    open_world,
    result_text,
    seed_cancel,
    submit_job,
)

pytestmark = pytest.mark.e2e

ALICE = User("alice", "alice-Fz-9", 4001)
BOB = User("bob", "bob-Fz-9", 4002)
CAP = 2 * 1024 * 1024
EXAMPLES = 600  # 20-45 s here (quiet or loaded machine), checks included
OPERATIONS = ("CancelJob", "GetJobStatus", "GetJobs", "SubmitJob", "ExecuteQuickJob", "GetQueues", "GetJobTypes")
REQUIRED = {"CancelJob": ("wsId", "jobId"), "GetJobStatus": ("wsId", "jobId")}
INTERNAL = "An internal error occurred"


@dataclass
class Case:
    kind: str
    binding: Binding
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def world(module_jobgate_server) -> World:
    return open_world(module_jobgate_server, [ALICE, BOB])


@pytest.fixture(scope="module")
def http(world: World) -> Iterator[httpx.Client]:
    with world.server.client() as client:
        yield client


@pytest.fixture(scope="module")
def quick_job(world: World, http: httpx.Client) -> int:
    """Alice's one job: a quick job, which CancelJob answers with 200 and leaves as it is (seed 001)."""
    params = {**ALICE.creds("ExecuteQuickJob"), "qry": "SELECT 1 AS a", "context": "MyDB", "taskname": "fz"}
    answer = call(http, Binding.GET, "ExecuteQuickJob", {**params, "isSystem": "false"})
    result_text(answer, Binding.GET, "ExecuteQuickJob")
    submit_job(http, BOB, "bobs")  # a Submitted job a mutated jobId may hit: not Alice's to cancel
    [job] = [j["id"] for j in world.view.jobs() if j["owner"] == ALICE.name]
    return int(job)


# -- mutations -------------------------------------------------------------------------------------------------
names = st.one_of(
    st.sampled_from([*OPERATIONS, "Envelope", "Body", "Header", "wsid", "WsId", "jobid", "pw", "x"]),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_.:-]{0,10}", fullmatch=True),
)
values = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "-1",
            "0",
            "+5",
            " 7 ",
            "1e3",
            "0x10",
            "NaN",
            "1_0",
            "\u0661\u0662",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775809",
            "1 OR 1=1",
            "1;DROP TABLE jobs",
            "<![CDATA[12]]>",
            "1<!-- c -->2",
            "&amp;",
            "&#x31;",
            "\u202e1",
        ]
    ),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.text(max_size=24).map(lambda t: t.replace("&", "&amp;").replace("<", "&lt;")),
    st.integers(min_value=10_000, max_value=300_000).map(lambda n: "9" * n),
)
namespaces = st.sampled_from(
    [SOAP11, SOAP12, TNS, TNS + "/", TNS.lower(), "http://Services.Cas.jhu.edu/CancelJob", "", "urn:x", "http://e/"]
)
ELEMENTS = ("Envelope", "Body", "CancelJob", "wsId", "pw", "jobId")
CHILDREN = ("wsId", "pw", "jobId")


def _tag(binding: Binding, element: str) -> tuple[str, str]:
    """The start-tag opening and the end tag of an element as the seed spells it."""
    if element in ("Envelope", "Body"):
        prefix = "soap12" if binding is Binding.SOAP12 else "soap"
        return f"<{prefix}:{element}", f"</{prefix}:{element}>"
    return f"<{element}", f"</{element}>"


def _flip(draw: st.DrawFn, binding: Binding, text: str, case: Case) -> bytes:
    data = bytearray(text.encode())
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data) - 1))
        data[at] ^= draw(st.integers(1, 255))
        case.notes.append(f"flip@{at}")
    return bytes(data)


def _truncate(draw: st.DrawFn, binding: Binding, text: str, case: Case) -> bytes:
    data = text.encode()
    at = draw(st.integers(0, len(data) - 1))
    case.notes.append(f"cut@{at}")
    return data[:at]


def _rename(draw: st.DrawFn, binding: Binding, text: str, case: Case) -> bytes:
    element, new, both = draw(st.sampled_from(ELEMENTS)), draw(names), draw(st.booleans())
    start, end = _tag(binding, element)
    new_start, new_end = start.replace(element, new), end.replace(element, new)
    text = text.replace(start + ">", new_start + ">").replace(start + " ", new_start + " ")
    if both:
        text = text.replace(end, new_end)
    case.notes.append(f"rename {element}->{new!r} {'both tags' if both else 'start tag only'}")
    return text.encode()


def _namespace(draw: st.DrawFn, binding: Binding, text: str, case: Case) -> bytes:
    which = draw(st.sampled_from(["envelope", "service", "prefix"]))
    if which == "prefix":  # rename the envelope prefix in its declaration only: the prefix goes unbound
        prefix = "soap12" if binding is Binding.SOAP12 else "soap"
        text = text.replace(f"xmlns:{prefix}=", f"xmlns:{draw(names).replace(':', '')}x=", 1)
    else:
        old = binding.envelope_ns if which == "envelope" else TNS
        new = draw(namespaces)
        text = text.replace(f'="{old}"', f'="{new}"', 1)
        which += f" {new!r}"
    case.notes.append(f"namespace {which}")
    return text.encode()


def _attribute(draw: st.DrawFn, binding: Binding, text: str, case: Case) -> bytes:
    element = draw(st.sampled_from(ELEMENTS))
    attribute = draw(
        st.sampled_from(
            ['xsi:nil="true"', 'foo="bar"', 'xmlns="urn:other"', 'xmlns=""', 'a="1" a="2"', "noquotes=1",
             'soap:mustUnderstand="1"', 'xml:lang="en"', f'x="{"y" * 5000}"']
        )
    )  # fmt: skip
    start, _ = _tag(binding, element)
    text = text.replace(start + ">", f"{start} {attribute}>", 1).replace(start + " ", f"{start} {attribute} ", 1)
    case.notes.append(f"attribute {attribute[:30]!r} on {element}")
    return text.encode()


def _children(draw: st.DrawFn, binding: Binding, text: str, case: Case) -> bytes:
    child, how = draw(st.sampled_from(CHILDREN)), draw(st.sampled_from(["duplicate", "remove", "move last"]))
    found = re.search(rf"<{child}>.*?</{child}>", text, re.S)
    assert found is not None
    element = found.group(0)
    if how == "duplicate":
        text = text.replace(element, element + element, 1)
    elif how == "remove":
        text = text.replace(element, "", 1)
    else:
        text = text.replace(element, "", 1).replace("</CancelJob>", element + "</CancelJob>", 1)
    case.notes.append(f"{how} {child}")
    return text.encode()


def _value(draw: st.DrawFn, binding: Binding, text: str, case: Case) -> bytes:
    child, value = draw(st.sampled_from(CHILDREN)), draw(values)
    text = re.sub(rf"<{child}>.*?</{child}>", lambda _m: f"<{child}>{value}</{child}>", text, count=1, flags=re.S)
    case.notes.append(f"{child}={value[:40]!r}{'…' if len(value) > 40 else ''}")
    return text.encode()


def _unchanged(draw: st.DrawFn, binding: Binding, text: str, case: Case) -> bytes:
    return text.encode()


MUTATORS: dict[str, Callable[[st.DrawFn, Binding, str, Case], bytes]] = {
    "byte flip": _flip,
    "truncation": _truncate,
    "element rename": _rename,
    "namespace": _namespace,
    "attribute": _attribute,
    "children": _children,
    "value": _value,
    "headers only": _unchanged,
}


@st.composite
def headers_for(draw: st.DrawFn, binding: Binding) -> dict[str, str]:
    media = draw(
        st.sampled_from(
            [binding.content_type] * 6
            + ["text/xml", "application/soap+xml", "TEXT/XML; charset=UTF-8", "application/xml", "text/plain",
               "application/json", "", "multipart/related; type=\"text/xml\"", "text/xml; charset=iso-8859-1",
               "text/xml;;;", "application/soap+xml; charset=utf-16"]
        )
    )  # fmt: skip
    action = draw(
        st.sampled_from(
            [None] * 3
            + ['"http://Services.Cas.jhu.edu/CancelJob"', "http://Services.Cas.jhu.edu/CancelJob", '""', "",
               '"http://Services.Cas.jhu.edu/GetJobStatus"', '"CancelJob"', '"http://Services.Cas.jhu.edu/cancelJob"',
               '"http://Services.Cas.jhu.edu//CancelJob"']
        )
    )  # fmt: skip
    headers = {"content-type": media} if media else {}
    if action is not None:
        if media.lower().startswith("application/soap+xml"):
            headers["content-type"] = f"{media}; action={action}"
        else:
            headers["soapaction"] = action
    return headers


@st.composite
def cases(draw: st.DrawFn, wsid: int, password: str, job_id: int) -> Case:
    binding = draw(st.sampled_from(SOAP_BINDINGS))
    kind = draw(st.sampled_from(list(MUTATORS)))
    case = Case(kind, binding, b"")
    case.body = MUTATORS[kind](draw, binding, seed_cancel(binding, wsid, password, job_id), case)
    varied = kind == "headers only" or draw(st.integers(0, 3)) == 0
    case.headers = draw(headers_for(binding)) if varied else {"content-type": binding.content_type}
    return case


# -- the test's own reading of what it sent ----------------------------------------------------------------------
def _media(content_type: str) -> tuple[str, dict[str, str]]:
    media, _, rest = content_type.partition(";")
    params = {}
    for item in rest.split(";"):
        key, sep, value = item.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return media.strip().lower(), params


def must_fail(case: Case) -> str | None:
    """Why this request must not succeed, judged from the bytes sent, or None if it may still be a valid call."""
    media, params = _media(case.headers.get("content-type", ""))
    if media not in ("text/xml", "application/soap+xml"):
        return "not a SOAP content type"
    if len(case.body) > CAP:
        return "body over the cap"
    try:
        root = etree.fromstring(case.body, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    except (etree.XMLSyntaxError, ValueError, LookupError):
        return "not well-formed"
    if root.getroottree().docinfo.doctype:
        return "DOCTYPE"
    envelope_ns = SOAP12 if media == "application/soap+xml" else SOAP11
    if etree.QName(root).namespace != envelope_ns:
        return "envelope namespace does not match the Content-Type"
    if etree.QName(root).localname != "Envelope":
        return "root is not an Envelope"
    request = next((c for c in root.findall(f"{{{envelope_ns}}}Body/*") if isinstance(c.tag, str)), None)
    if request is None:
        return "no request element"
    op = etree.QName(request)
    if op.namespace != TNS or op.localname not in OPERATIONS:
        return "unknown operation"
    action = params.get("action") if media == "application/soap+xml" else case.headers.get("soapaction")
    if action is not None and action.strip().strip('"') != f"{TNS}/{op.localname}":
        return "SOAPAction names another operation"
    missing = [name for name in REQUIRED.get(op.localname, ()) if request.find(f"{{{TNS}}}{name}") is None]
    if missing:
        return f"required element {missing} removed"
    return None


# -- the test ----------------------------------------------------------------------------------------------------
def test_mutated_cancel_envelopes_never_succeed_when_malformed_and_never_show_internals(
    world: World, http: httpx.Client, quick_job: int
) -> None:
    baseline = world.view.snapshot()
    jobs = world.view.jobs()
    tried: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    internal: list[str] = []
    started = time.perf_counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(case=cases(ALICE.wsid, ALICE.password, quick_job))
    def check(case: Case) -> None:
        reason = must_fail(case)
        response = http.post(JOBS, content=case.body, headers=case.headers)  # exactly these headers
        tried[case.kind] += 1
        statuses[response.status_code] += 1
        described = f"{case.kind} over {case.binding} {case.notes} headers={case.headers}"
        if reason is not None:
            reasons[reason] += 1
            assert response.status_code != 200, f"malformed ({reason}) but answered 200: {described}"
        if response.status_code != 200:
            refused[case.kind] += 1
        found = leaks(response.content, case.body)
        assert not found, f"HTTP {response.status_code} shows {found}: {described}\n{response.text[:800]}"
        assert response.headers.get("x-request-id"), described
        if INTERNAL in response.text:
            internal.append(described[:200])
        world.healthy(http)
        assert world.view.jobs() == jobs, f"a job changed after {described}"  # histories: compared at the end

    check()
    elapsed = time.perf_counter() - started
    print(f"\nfuzzed {sum(tried.values())} CancelJob inputs in {elapsed:.1f} s")
    for kind, count in sorted(tried.items()):
        print(f"  {kind:<15} tried {count:>4}  refused {refused[kind]:>4}")
    print(f"  statuses {dict(sorted(statuses.items()))}")
    print(f"  must-fail reasons {dict(reasons)}")
    print(f"  internal errors (500 'quote request id'): {len(internal)}")
    for line in internal[:10]:
        print(f"    {line}")
    assert_unchanged(baseline, world.view.snapshot(), "the fuzzed requests")
    assert sum(tried.values()) >= EXAMPLES // 2
    assert reasons, "no malformed input was tried"
