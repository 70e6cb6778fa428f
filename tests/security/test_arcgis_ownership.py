"""Who may do what to whose job over the ArcGIS APIs (arcgis.md, interface.md: group admin for the
Administrator API, owner or admin for GP REST jobs), on a real server.

Every ArcGIS job operation × {the owner, another user, an administrator, a user of a reader-only group, no
token, a token nobody issued (what a bad password leaves a script with), an expired token}. A refused call
answers in the API's own error shape, shows nothing of the job or the server, and changes nothing: the job
list, and the target job with its full history, read the same in `jobgate job list/show --json` before and
after.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final

import httpx
import pytest

from jobgate.services import TokenPolicy, TokenService
from jobgate.store import SqlUnitOfWorkFactory, make_engine
from support.arcgis import admin_job_url, task_url, token
from support.fakes import FakeClock
from support.kits.base import OperatorView, assert_no_leak, assert_unchanged
from support.kits.casjobs_wire import User, World, open_world

pytestmark = pytest.mark.e2e

ALICE = User("alice", "alice-Ag-5", 8001)  # the owner of every target job
BOB = User("bob", "bob-Ag-5", 8002)
ROOT = User("root", "root-Ag-5", 8003, ("admin",))
READER = User("reader", "reader-Ag-5", 8004, ("nbi-read",))
ACTORS: Final = ("owner", "other user", "admin", "reader", "no token", "bad token", "expired token")
OPERATIONS: Final = ("submitJob", "status", "cancel", "admin job", "admin cancel", "admin delete")
ADMIN_OPS: Final = frozenset({"admin job", "admin cancel", "admin delete"})
CALLER: Final = {"owner": ALICE, "other user": BOB, "admin": ROOT, "reader": READER}

INVALID_URL: Final = {"error": {"code": 400, "message": "Invalid URL", "details": []}}
FORBIDDEN: Final = {"status": "error", "messages": ["User does not have permissions to perform this operation."],
                    "code": 403}  # fmt: skip
TOKEN_REQUIRED: Final = {
    False: {"error": {"code": 499, "message": "Token Required", "details": []}},
    True: {"status": "error", "code": 499, "messages": [
        "Unauthorized access. Token not found. You can generate a token using the 'generateToken' operation."]},
}  # fmt: skip
BAD_TOKEN: Final = {
    False: {"error": {"code": 498, "message": "Invalid Token", "details": []}},
    True: {"status": "error", "messages": ["Could not decrypt token. Token may not be valid."], "code": 498},
}


@pytest.fixture(scope="module")
def world(module_jobgate_server: Any) -> World:
    return open_world(module_jobgate_server, [ALICE, BOB, ROOT, READER])


@pytest.fixture(scope="module")
def http(world: World) -> Iterator[httpx.Client]:
    with world.server.client() as client:
        yield client


@pytest.fixture(scope="module")
def tokens(world: World, http: httpx.Client) -> dict[str, str]:
    found = {actor: token(http, user.name, user.password) for actor, user in CALLER.items()}
    bad_login = http.post("/arcgis/tokens/generateToken", data={"username": "alice", "password": "no", "f": "json"})
    assert bad_login.json()["error"]["code"] == 400  # a bad password gets no token: the script has none valid
    return found | {"bad token": "A" * 43, "expired token": expired_token(world.view, ALICE)}


def expired_token(view: OperatorView, user: User) -> str:
    """A token for `user` issued by the store's own code an hour and a half ago for one hour."""
    engine = make_engine(view.database_url)
    try:
        clock = FakeClock(datetime(2000, 1, 1, tzinfo=UTC))
        issued = TokenService(SqlUnitOfWorkFactory(engine), clock, {}, TokenPolicy()).issue(user.name, "arcgis", 3600)
    finally:
        engine.dispose()
    return issued.token


def submit(http: httpx.Client, tokens: dict[str, str]) -> str:
    answer = http.post(f"{task_url()}/submitJob", data={"seconds": 60, "f": "json", "token": tokens["owner"]})
    job_id: str = answer.json()["jobId"]
    return job_id


def number(view: OperatorView, job_id: str) -> int:
    [found] = [j["id"] for j in view.jobs() if f"j{j['key']}" == job_id]
    return int(found)


def send(http: httpx.Client, op: str, job_id: str, token_value: str | None) -> httpx.Response:
    form: dict[str, Any] = {"f": "json", **({"token": token_value} if token_value is not None else {})}
    if op == "submitJob":
        return http.post(f"{task_url()}/submitJob", data={**form, "seconds": 60})
    if op == "status":
        return http.get(f"{task_url()}/jobs/{job_id}", params=form)
    if op == "cancel":
        return http.post(f"{task_url()}/jobs/{job_id}/cancel", data=form)
    if op == "admin job":
        return http.get(admin_job_url(job_id), params=form)
    return http.post(f"{admin_job_url(job_id)}/{op.removeprefix('admin ')}", data=form)


def refusal(actor: str, op: str) -> dict[str, Any] | None:
    """The body a refused call answers, or None when this actor may make this call."""
    admin = op in ADMIN_OPS
    if actor == "no token":
        return TOKEN_REQUIRED[admin]
    if actor == "expired token" and admin:  # arcgis.md [PUP]: the admin API names the expiry
        return {"status": "error", "messages": ["Token Expired."], "code": 498}
    if actor in ("bad token", "expired token"):
        return BAD_TOKEN[admin]
    if admin and actor != "admin":
        return FORBIDDEN
    if actor in ("other user", "reader") and op in ("status", "cancel"):
        return INVALID_URL
    return None


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("op", OPERATIONS)
def test_arcgis_ownership_matrix(world: World, http: httpx.Client, tokens: dict[str, str], op: str, actor: str) -> None:
    job_id = submit(http, tokens)
    target = number(world.view, job_id)
    before = world.view.around(target)
    answer = send(http, op, job_id, tokens.get(actor))
    listed = {job["id"] for job in world.view.jobs()}
    after = world.view.around(*((target,) if target in listed else ()))  # a deleted job is in no view

    assert answer.status_code == 200, answer.text
    expected = refusal(actor, op)
    if expected is not None:
        assert answer.json() == expected
        assert_no_leak(answer)
        assert_unchanged(before, after, f"a refused {op} by {actor}")
        return
    body = answer.json()
    if op == "submitJob":
        new = sorted(set(after) - set(before))
        assert len(new) == 1, f"{op} by {actor} made jobs {new}"
        assert after[new[0]]["owner"] == CALLER[actor].name
        assert body["jobStatus"] == "esriJobSubmitted"
    elif op in ("status", "admin job"):
        assert body.get("jobId", body.get("jobID")) == job_id
        assert_unchanged(before, after, f"{op} by {actor}")
    else:
        assert body in ({"status": "success"}, {"jobId": job_id, "jobStatus": "esriJobCancelled"})
        event = after[target]["history"][-1] if target in after else None
        if op != "admin delete":
            assert after[target]["state"] == "Cancelled"
            assert event is not None
            assert (event["actor"], event["protocol"]) == (CALLER[actor].name, "arcgis")
        else:
            assert target not in after  # hidden from every view
