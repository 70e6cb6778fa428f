"""A hypothesis-driven fuzzer of every dialect's seed request (its cancel, as the seed sample spells it), through
its kit, in this process. Each input is the seed, sent by the owner (an administrator, where only one may send it)
and naming a job the sender may not change (another user's, or one that has ended), mutated: bytes flipped, cut
short, a tag (JSON key, form field) renamed, the value naming the job replaced (by any JSON value in a JSON
payload) or left out, the document nested deep, a SOAPAction naming another operation, a random Content-Type.
Whatever arrives, the answer is a refusal in the dialect's shape or a sound answer that changed nothing (the
kit judges which); it never shows a traceback, a path, a library name or SQL text the request did not carry; it
carries a request id; and the store (every job, and the target's history) never changes.

150 inputs per dialect, spread over its variants. CasJobs' deeper fuzzer, which also tells a malformed request
from a sound one by re-reading it, is test_fuzz_cancel.py; Cisco's OpenAPI-driven one, test_cisco_schema_fuzz.py.
"""

import json
import math
import re
from typing import Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.kits import KITS, DialectKit
from support.kits.base import KitWorld, Sent, leaks

PER_DIALECT: Final = 150
CASES: Final = [
    pytest.param(kit, variant, id=f"{kit.name}-{variant}")
    for kit in KITS
    for variant in kit.variants
    if variant in kit.xml_variants or variant.endswith("json")
]
JSON_VALUES: Final = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=12), st.booleans(), st.none(),
    st.floats(allow_nan=False), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers()),
).map(json.dumps)  # fmt: skip
ACTIONS: Final = (
    '""', '"x"', "", '"urn:other"', '"http://www.birst.com/getJobStatus"', '"http://www.birst.com/cancelJob"',
    '"http://Services.Cas.jhu.edu/GetJobStatus"', '"http://Services.Cas.jhu.edu/CancelJob"',
)  # fmt: skip
VALUES: Final = st.one_of(
    st.sampled_from(["", " ", "0", "-1", "0" * 32, "f" * 36, "1 OR 1=1", "&amp;", "<![CDATA[x]]>", "9" * 30]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(max_size=40).map(lambda t: t.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")),
)


def cases_of(kit: DialectKit) -> int:
    return sum(1 for case in CASES if case.values[0] is kit)


@st.composite
def mutated(draw: st.DrawFn, seed: Sent, content_types: tuple[str, ...]) -> tuple[str, bytes, dict[str, str]]:
    body, headers = seed.body, dict(seed.headers)
    kind = draw(st.sampled_from(["flip", "cut", "rename", "value", "drop", "nest", "action", "type", "none"]))
    if kind == "flip":
        raw = bytearray(body)
        for _ in range(draw(st.integers(1, 4))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
        body = bytes(raw)
    elif kind == "cut":
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif kind == "rename":
        names = sorted(set(re.findall(rb"<([A-Za-z][\w.-]*)", body)) | set(re.findall(rb'"(\w+)"\s*:', body))
                       | set(re.findall(rb"(?:^|&)(\w+)=", body)))  # fmt: skip
        old = draw(st.sampled_from(names))
        new = draw(
            st.sampled_from([b"x", b"Body", b"CancelJob", b"cancelJob", b"ticket", b"runIds", b"jobId", b"token", b""])
        )
        body = body.replace(old, new)
    elif kind == "value":
        is_json = body.lstrip().startswith(b"{")
        body = body.replace(seed.marker.encode(), draw(JSON_VALUES if is_json else VALUES).encode(), 1)
    elif kind == "drop":  # the element (or JSON array item) that names the job, left out
        marker = re.escape(seed.marker.encode())
        if body.lstrip().startswith(b"{"):
            body = re.sub(rb"(?<=\[)\s*" + marker + rb"\s*,?", b"", body, count=1)
        else:
            body = re.sub(rb"<(\w+)>" + marker + rb"</\1>|<[^<>]*\"" + marker + rb"\"[^<>]*/>", b"", body, count=1)
    elif kind == "nest":  # the whole document wrapped, up to 60 deep
        depth = draw(st.integers(1, 60))
        if body.lstrip().startswith((b"{", b"[")):
            body = b"[" * depth + body + b"]" * depth
        else:
            body = b"<a>" * depth + body.split(b"?>")[-1] + b"</a>" * depth
    elif kind == "action":
        headers["SOAPAction"] = draw(st.sampled_from(ACTIONS))
    if kind == "type" or draw(st.integers(0, 3)) == 0:
        key = next((k for k in headers if k.lower() == "content-type"), "Content-Type")
        media = draw(st.sampled_from(content_types))
        headers.pop(key, None)
        if media:
            headers[key] = media
    return kind, body, headers


@pytest.mark.parametrize(("kit", "variant"), CASES)
def test_a_mutated_seed_is_refused_or_answered_soundly_and_never_changes_the_store_nor_leaks(
    kit_world: KitWorld, kit: DialectKit, variant: str
) -> None:
    world = kit_world(kit)
    target = kit.untouchable(world)  # nothing the sender may send changes it
    seed = kit.seed(world, variant, target)

    @settings(max_examples=math.ceil(PER_DIALECT / cases_of(kit)), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=mutated(seed, kit.content_types(variant)))
    def check(case: tuple[str, bytes, dict[str, str]]) -> None:
        kind, body, headers = case
        before = world.store(target.id)

        answer = world.send(Sent(seed.method, seed.path, headers, body))

        described = f"{kind} {body[:300]!r} {headers}"
        assert not leaks(answer.content, body), f"{described}\n{answer.text[:800]}"
        assert answer.headers.get("x-request-id"), described
        kit.judge_fuzzed(answer)
        assert world.store(target.id) == before, f"{described} changed the store"

    check()
