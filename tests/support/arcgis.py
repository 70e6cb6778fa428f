"""ArcGIS helpers for the tests that drive a real server: users, tokens and GP jobs over the wire, as a
script would. The wire words (esriJob*, jobId) stay here and in the tests that check them."""

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

import httpx

from support.server import JobgateServer
from support.wait import wait_until

ROOT: Final = "/arcgis"
SERVICE: Final = "demo"
START_TIMEOUT_S: Final = 15.0
TERMINAL: Final = frozenset({"esriJobSucceeded", "esriJobFailed", "esriJobCancelled", "esriJobTimedOut"})


@dataclass(frozen=True, slots=True)
class ArcUser:
    name: str
    password: str
    token: str


def add_users(
    server: JobgateServer, http: httpx.Client, *names: str, admins: Collection[str] = ()
) -> dict[str, ArcUser]:
    """`jobgate user add` for each name (group admin for `admins`), then a token for each."""
    passwords = {name: f"{name}-Pa55" for name in names}
    server.cli.run_together(
        *(
            ("user", "add", name, "--password", pw, *(("--group", "admin") if name in admins else ()))
            for name, pw in passwords.items()
        )
    )
    return {name: ArcUser(name, pw, token(http, name, pw)) for name, pw in passwords.items()}


def token(http: httpx.Client, name: str, password: str, *, admin: bool = False, **extra: Any) -> str:
    path = f"{ROOT}/admin/generateToken" if admin else f"{ROOT}/tokens/generateToken"
    answer = http.post(path, data={"username": name, "password": password, "client": "requestip", "f": "json", **extra})
    assert answer.status_code == 200, answer.text
    found: str = answer.json()["token"]
    return found


def task_url(task: str = "sleep", service: str = SERVICE) -> str:
    return f"{ROOT}/rest/services/{service}/GPServer/{task}"


def admin_job_url(job_id: str, service: str = SERVICE) -> str:
    return f"{ROOT}/admin/services/{service}.GPServer/jobs/{job_id}"


def submit(http: httpx.Client, user: ArcUser, seconds: float = 60, service: str = SERVICE) -> str:
    answer = http.post(f"{task_url(service=service)}/submitJob",
                       data={"seconds": str(seconds), "f": "json", "token": user.token})  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["jobStatus"] == "esriJobSubmitted", body
    job_id: str = body["jobId"]
    return job_id


def status(http: httpx.Client, user: ArcUser, job_id: str, service: str = SERVICE, **params: Any) -> dict[str, Any]:
    answer = http.get(f"{task_url(service=service)}/jobs/{job_id}", params={"f": "json", "token": user.token, **params})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def wait_for_status(http: httpx.Client, user: ArcUser, job_id: str, wanted: Collection[str], **kw: Any) -> str:
    seen: list[str] = []

    def reached() -> bool:
        seen.append(status(http, user, job_id, **kw)["jobStatus"])
        return seen[-1] in wanted

    wait_until(reached, START_TIMEOUT_S, 0.05, lambda: f"{job_id} to be one of {sorted(wanted)}, last {seen[-1:]}")
    return seen[-1]


def executing_job(http: httpx.Client, user: ArcUser, service: str = SERVICE) -> str:
    job_id = submit(http, user, 60, service)
    wait_for_status(http, user, job_id, {"esriJobExecuting"}, service=service)
    return job_id


def finished_job(http: httpx.Client, user: ArcUser, service: str = SERVICE) -> str:
    job_id = submit(http, user, 0, service)
    wait_for_status(http, user, job_id, {"esriJobSucceeded"}, service=service)
    return job_id
