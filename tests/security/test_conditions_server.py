"""Issue 19, finding 7, against a real `jobgate serve`: a 1.8 MB GetJobs `conditions` string of 600,000
alternatives cost 18.7 s of CPU over 400 jobs (every alternative compared with every job). The conditions are
now capped at 4,096 characters and 256 alternatives: the string is refused at once, with an error that says so,
in the binding's shape, while the server goes on answering everyone else.
"""

import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import httpx
import pytest

from support.casjobs import JOBS_PATH
from support.kits.casjobs_wire import (
    Binding,
    User,
    World,
    assert_denied,
    call,
    envelope,
    job_ids_in,
    open_world,
    soap_action,
)

pytestmark = pytest.mark.e2e

ALICE: Final = User("alice", "alice-Cd-7", 4701)
BOB: Final = User("bob", "bob-Cd-7", 4702)
JOBS: Final = 200  # alice's; each alternative was compared with each of them
# the attacker's string: 600,000 alternatives, 1.8 MB, no job matching any (each job is compared with them all)
HUGE: Final = "Status : " + "|".join(["99"] * 600_000)
TOO_LONG: Final = "The conditions are longer than 4096 characters."
TOO_MANY: Final = "The conditions hold more than 256 alternatives."
ANSWER_BOUND_S: Final = 2.0  # generous: the refusal takes tens of ms; the cost before the cap was seconds


@pytest.fixture(scope="module")
def world(module_jobgate_server) -> World:
    return open_world(module_jobgate_server, [ALICE, BOB])


@pytest.fixture(scope="module")
def http(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.server.url, timeout=120.0) as client:  # the cost before the cap: seconds
        yield client


@pytest.fixture(scope="module")
def alice_jobs(world: World) -> list[int]:
    """Alice's jobs (they stay Submitted: the server runs no runners), submitted over HTTP GET four at a time."""

    def submit(n: int) -> int:
        with world.server.client() as client:
            params = {**ALICE.creds("SubmitJob"), "qry": f"SELECT {n}", "context": "MyDB", "taskname": f"j{n}"}
            answer = call(client, Binding.GET, "SubmitJob", {**params, "estimate": 1})
            assert answer.status_code == 200, answer.text
            return n

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(submit, range(JOBS)))


def get_jobs(http: httpx.Client, binding: Binding, user: User, conditions: str) -> httpx.Response:
    """GetJobs as the attacker sent it; over HTTP POST the form value is not percent-encoded (`|` stays one byte,
    as a form parser accepts), so the 1.8 MB string fits under the 2 MiB body cap as it does in an envelope."""
    values = {**user.creds("GetJobs"), "conditions": conditions, "includeSystem": "true"}
    if binding is Binding.POST:
        form = "&".join(f"{name}={value}" for name, value in values.items()).encode()
        headers = {"content-type": "application/x-www-form-urlencoded"}
        return http.post(f"{JOBS_PATH}/GetJobs", content=form, headers=headers)
    if binding.is_soap:
        headers = {"content-type": binding.content_type}
        if binding is Binding.SOAP11:
            headers["soapaction"] = soap_action("GetJobs")
        return http.post(JOBS_PATH, content=envelope(binding, "GetJobs", values), headers=headers)
    return call(http, binding, "GetJobs", values)


def timed(send: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    answer = send()
    return answer, time.perf_counter() - started


@pytest.mark.parametrize("binding", [Binding.SOAP11, Binding.SOAP12, Binding.POST])
def test_a_megabyte_of_alternatives_is_refused_at_once_while_others_are_served(
    world: World, http: httpx.Client, alice_jobs: list[int], binding: Binding
) -> None:
    """The attacker's request; while it is in flight, /healthz and bob's own GetJobs keep answering."""
    others: list[tuple[str, int, float]] = []
    with ThreadPoolExecutor(1) as pool, world.server.client() as bystander:
        attack = pool.submit(timed, lambda: get_jobs(http, binding, ALICE, HUGE))
        while True:  # at least once, however quickly the attack is answered
            health, took = timed(lambda: bystander.get("/healthz"))
            others.append(("healthz", health.status_code, took))
            listed, took = timed(lambda: get_jobs(bystander, Binding.GET, BOB, "Status : 0"))
            others.append(("bob's GetJobs", listed.status_code, took))
            if attack.done():
                break
        answer, elapsed = attack.result()

    slowest = max(took for _, _, took in others)
    print(
        f"\n{binding}: {len(HUGE.encode()):,} bytes, 600,000 alternatives, {JOBS} jobs: answered in "
        f"{elapsed * 1000:.0f} ms; meanwhile {len(others)} other answers, "
        f"median {statistics.median(t for _, _, t in others) * 1000:.1f} ms, slowest {slowest * 1000:.0f} ms"
    )
    assert elapsed < ANSWER_BOUND_S, f"the attack took {elapsed:.1f} s"
    assert_denied(answer, binding, TOO_LONG)
    assert answer.headers.get("x-request-id")
    assert all(status == 200 for _, status, _ in others), others
    assert slowest < ANSWER_BOUND_S, others


@pytest.mark.parametrize("binding", list(Binding))
def test_conditions_just_past_the_length_cap_are_refused_on_every_binding(
    http: httpx.Client, alice_jobs: list[int], binding: Binding
) -> None:
    """4,097 characters, one alternative (HTTP GET cannot carry a megabyte: the header cap answers 431 first)."""
    text = "TaskName : " + "x" * (4097 - len("TaskName : "))
    answer, took = timed(lambda: get_jobs(http, binding, ALICE, text))
    assert_denied(answer, binding, TOO_LONG)
    assert took < ANSWER_BOUND_S


@pytest.mark.parametrize("binding", list(Binding))
def test_more_than_256_alternatives_in_a_short_string_are_refused_on_every_binding(
    http: httpx.Client, alice_jobs: list[int], binding: Binding
) -> None:
    text = "Status : " + "|".join(["9"] * 257)  # 522 characters
    assert_denied(get_jobs(http, binding, ALICE, text), binding, TOO_MANY)


@pytest.mark.parametrize("binding", list(Binding))
def test_a_filter_within_the_caps_still_lists_the_jobs(
    http: httpx.Client, alice_jobs: list[int], binding: Binding
) -> None:
    """256 alternatives (255 for Status, the last one matching, and one JobID range): answered, with its jobs."""
    text = "Status : " + "|".join(["9"] * 254 + ["0"]) + " ; JobID : 1,10"
    assert sorted(job_ids_in(get_jobs(http, binding, ALICE, text))) == list(range(1, 11))
