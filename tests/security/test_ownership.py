"""Who may do what to whose job, over every binding of jobs.asmx (casjobs.md, Auth and CancelJob semantics).

Every CasJobs job operation × {the owner, another user, an administrator, anonymous (empty credentials), no
credentials at all, a bad password}, on a real server. The owner and an administrator act on the owner's job;
another user is refused with CasJobs' text (and GetJobs simply shows them none of the owner's jobs); a bad login
is "Invalid WebServicesID or password.". A refused call changes nothing: the job list, and the target job with
its full history, read the same in `jobgate job list/show --json` before and after.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from soapkit import (
    BAD_LOGIN,
    READ_PREFIX,
    Binding,
    User,
    World,
    assert_denied,
    assert_fault,
    assert_no_leak,
    assert_unchanged,
    call,
    credential_names,
    job_ids_in,
    open_world,
    result_text,
    submit_job,
)

pytestmark = pytest.mark.e2e

ALICE = User("alice", "alice-Ow-5", 7001)  # the owner of every target job
BOB = User("bob", "bob-Ow-5", 7002)
ROOT = User("root", "root-Ow-5", 7003, ("admin",))
ACTORS = ("owner", "other user", "admin", "anonymous", "no credentials", "bad password")
OPERATIONS = ("CancelJob", "GetJobStatus", "GetJobs", "SubmitJob", "ExecuteQuickJob")
CALLER = {"owner": ALICE, "other user": BOB, "admin": ROOT}
NEEDS_TARGET = ("CancelJob", "GetJobStatus", "GetJobs")  # each gets a fresh job of Alice's
NOT_YOURS = {"CancelJob": "You may only cancel your own jobs.", "GetJobStatus": "You may only access your own jobs."}


@pytest.fixture(scope="module")
def world(module_jobgate_server) -> World:
    return open_world(module_jobgate_server, [ALICE, BOB, ROOT])


@pytest.fixture(scope="module")
def http(world: World) -> Iterator[httpx.Client]:
    with world.server.client() as client:
        for user in (ALICE, BOB, ROOT):  # log in once before any bad login puts 127.0.0.1 under back-off
            result_text(call(client, Binding.GET, "GetQueues", user.creds("GetQueues")), Binding.GET, "GetQueues")
        yield client


@pytest.fixture(scope="module")
def standing_job(http: httpx.Client) -> int:
    """Alice's job for the operations that name none: it must come through every call unchanged."""
    return submit_job(http, ALICE, "standing")


def credentials(actor: str, op: str) -> dict[str, Any]:
    wsid, pw = credential_names(op)
    if actor in CALLER:
        return CALLER[actor].creds(op)
    if actor == "anonymous":
        return {wsid: 0, pw: ""}
    if actor == "bad password":
        return {wsid: ALICE.wsid, pw: "not-" + ALICE.password}
    return {}


def arguments(op: str, target: int) -> dict[str, Any]:
    query = {"qry": "SELECT 1 AS a", "context": "MyDB", "taskname": "matrix"}
    return {
        "CancelJob": {"jobId": target},
        "GetJobStatus": {"jobId": target},
        "GetJobs": {"conditions": f"JobID : {target}", "includeSystem": "false"},
        "SubmitJob": {**query, "estimate": 1},
        "ExecuteQuickJob": {**query, "isSystem": "false"},
    }[op]


def refusal(actor: str, op: str, binding: Binding) -> str | None:
    """The message a refused call carries, or None when this actor may make this call."""
    if actor in ("anonymous", "bad password"):
        return BAD_LOGIN
    if actor == "no credentials":  # ASMX names the declared parameter, on every binding
        return f"Missing parameter: {credential_names(op)[0]}."
    if actor == "other user":
        return NOT_YOURS.get(op)
    return None


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("op", OPERATIONS)
@pytest.mark.parametrize("binding", list(Binding))
def test_ownership_matrix(
    world: World, http: httpx.Client, standing_job: int, binding: Binding, op: str, actor: str
) -> None:
    target = submit_job(http, ALICE, "target") if op in NEEDS_TARGET else standing_job
    shown = (target,) if op in NEEDS_TARGET else ()  # the standing job's row is in the list anyway
    before = world.view.around(*shown)
    answer = call(http, binding, op, {**credentials(actor, op), **arguments(op, target)})
    after = world.view.around(*shown)
    assert answer.headers.get("x-request-id")
    message = refusal(actor, op, binding)
    if message is not None and actor == "no credentials" and binding.is_soap:
        # the request cannot be read without them: the caller's mistake, a Client (Sender) fault
        assert_fault(answer, binding, "Client", READ_PREFIX + message)
        assert_unchanged(before, after, f"a refused {op} by {actor} over {binding}")
        return
    if message is not None:
        assert_denied(answer, binding, message)
        assert_no_leak(answer)
        assert_unchanged(before, after, f"a refused {op} by {actor} over {binding}")
        return
    caller = CALLER[actor]
    if op == "CancelJob":
        assert answer.status_code == 200, answer.text
        assert_cancelled_by(before, after, target, caller)
    elif op == "GetJobStatus":
        assert result_text(answer, binding, op) == "0"  # ready: the target never started
        assert_unchanged(before, after, f"{op} by {actor}")
    elif op == "GetJobs":
        assert job_ids_in(answer) == ([] if actor == "other user" else [target])
        assert_unchanged(before, after, f"{op} by {actor}")
    else:  # SubmitJob, ExecuteQuickJob: a job of the caller's own, nothing else touched
        result = result_text(answer, binding, op)
        new = sorted(set(after) - set(before))
        assert len(new) == 1, f"{op} by {actor} made jobs {new}"
        assert after[new[0]]["owner"] == caller.name
        if op == "SubmitJob":
            assert int(result) == new[0]
        else:
            assert result == "[a]:BigInt\n1\n"
        assert_unchanged(before, {k: v for k, v in after.items() if k not in new}, f"{op} by {actor}")


def assert_cancelled_by(before: dict[int, Any], after: dict[int, Any], target: int, caller: User) -> None:
    assert after[target]["state"] == "Cancelled", after[target]
    history = after[target]["history"]
    assert history[: len(before[target]["history"])] == before[target]["history"], "history was rewritten"
    [event] = history[len(before[target]["history"]) :]
    assert (event["stage"], event["from_state"], event["to_state"]) == ("cancel", "Submitted", "Cancelled")
    assert (event["actor"], event["protocol"]) == (caller.name, "casjobs")
    others = {k: v for k, v in after.items() if k != target}
    assert_unchanged({k: v for k, v in before.items() if k != target}, others, "a cancel of one job")
