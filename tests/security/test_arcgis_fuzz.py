"""A hypothesis-driven fuzzer of seed 004's admin cancel POST and of the GP REST calls, against a real server: what
the kit-driven fuzzer (test_fuzz_seeds.py, which mutates the seed's body and headers) does not reach, the path (job
ids, services, REST and admin operations) and the method mutated too.

Each input mutates a request (real admin token, real job ids): form bodies with random, duplicated or missing
fields, random `f`, token and `wait` values, byte flips and truncation, odd Content-Types, methods and job ids.
The targets are a Cancelled job (no cancel may change it) and another user's queued job (only its owner or an
admin may touch it, and the fuzzer's REST token is a third user's; the server runs no runner). What a
client and the operator see:

- never a 5xx, never a traceback, a source path, a library name or SQL text the request did not carry;
- every JSON answer to a refused call is in ArcGIS's error shape; no call answers `{"status": "success"}`;
- every answer carries x-request-id, the server stays healthy, and the store never changes.
"""

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.arcgis import ArcUser, admin_job_url, task_url, token, wait_for_status
from support.kits.base import assert_unchanged, leaks
from support.kits.casjobs_wire import User, World, open_world

pytestmark = pytest.mark.e2e

ALICE = User("alice", "alice-Fa-7", 9001)
CAROL = User("carol", "carol-Fa-7", 9002)
ROOT = User("root", "root-Fa-7", 9003, ("admin",))
EXAMPLES: Final = 300
FORMS: Final = ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json",
                "text/plain", "", "application/x-www-form-urlencoded; charset=latin-1")  # fmt: skip
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@dataclass
class Case:
    method: str
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Targets:
    admin_token: str
    rest_token: str
    finished: str
    running: str


@st.composite
def cases(draw: st.DrawFn, targets: Targets) -> Case:
    job = draw(st.sampled_from([targets.finished, targets.running, targets.finished.upper(), targets.finished[1:],
                                "j" + "0" * 32, quote(draw(TEXT), safe="")]))  # fmt: skip
    rest = f"{task_url()}/jobs/{job}"
    admin = admin_job_url(job)
    path = draw(
        st.sampled_from([f"{admin}/cancel", admin, rest, f"{rest}/cancel", f"{admin_job_url(job, 'x')}/cancel"])
    )
    token_value = draw(st.sampled_from([targets.admin_token, targets.rest_token, "", "x" * 300]) | TEXT)
    fields: list[tuple[str, str]] = [("f", draw(st.sampled_from(["pjson", "json", "html", "", "PJSON"]) | TEXT))]
    fields += [("token", token_value)] if draw(st.booleans()) else []
    fields += draw(st.lists(st.tuples(st.sampled_from(["wait", "seconds", "f", "token", "x", "returnMessages"])
                                      | TEXT, TEXT | st.sampled_from(["[[[", "{}", "1e400", "-1", "nan"])),
                            max_size=5))  # fmt: skip
    body = urlencode(fields).encode()
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(body)))
        body = body[:cut] + draw(st.binary(max_size=8)) + body[cut:]
    headers = {"Content-Type": draw(st.sampled_from(FORMS))}
    method = draw(st.sampled_from(["POST", "POST", "GET", "PUT"]))
    return Case(method, path, body, headers)


@pytest.fixture(scope="module")
def world(module_jobgate_server: Any) -> World:
    return open_world(module_jobgate_server, [ALICE, CAROL, ROOT])


@pytest.fixture(scope="module")
def http(world: World) -> Iterator[httpx.Client]:
    with world.server.client() as client:
        yield client


@pytest.fixture(scope="module")
def targets(http: httpx.Client) -> Targets:
    alice = ArcUser("alice", ALICE.password, token(http, "alice", ALICE.password))
    finished = http.post(f"{task_url()}/submitJob", data={"seconds": 0, "f": "json", "token": alice.token})
    running = http.post(f"{task_url()}/submitJob", data={"seconds": 600, "f": "json", "token": alice.token})
    finished_id, running_id = finished.json()["jobId"], running.json()["jobId"]
    admin_token = token(http, "root", ROOT.password, admin=True)
    # no runner: the job is made final through the admin API (a Cancelled job is as final as a Finished one)
    assert http.post(f"{admin_job_url(finished_id)}/cancel", data={"f": "json", "token": admin_token}).json() == {
        "status": "success"
    }
    wait_for_status(http, alice, finished_id, {"esriJobCancelled"})
    return Targets(admin_token, token(http, "carol", CAROL.password), finished_id, running_id)


def test_fuzzed_arcgis_calls_never_fail_inside_never_leak_and_change_nothing(
    world: World, http: httpx.Client, targets: Targets
) -> None:
    baseline = world.view.snapshot()
    statuses: Counter[int] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
    @given(case=cases(targets))
    def check(case: Case) -> None:
        if targets.running in case.path and targets.admin_token.encode() in case.body:
            return  # an admin may cancel (or wait on) the queued job: not a refusal, and it would change the store
        response = http.request(case.method, case.path, content=case.body, headers=case.headers)
        statuses[response.status_code] += 1
        described = f"{case.method} {case.path} {case.headers} {case.body[:200]!r}"
        assert response.status_code < 500, f"{response.status_code}: {described}\n{response.text[:500]}"
        found = leaks(response.content, case.body)
        assert not found, f"HTTP {response.status_code} shows {found}: {described}\n{response.text[:800]}"
        assert response.headers.get("x-request-id"), described
        if response.headers.get("content-type", "").startswith(("application/json", "text/plain")):
            body = json.loads(response.content)
            assert body != {"status": "success"}, described
        world.healthy(http)

    check()
    print(f"\nfuzzed ArcGIS calls: statuses {dict(sorted(statuses.items()))}")
    assert_unchanged(baseline, world.view.snapshot(), "the fuzzed requests")
