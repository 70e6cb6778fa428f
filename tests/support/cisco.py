"""Cisco helpers for the tests that drive a real server: users in the NBI groups, jobs in a known state, and
reading an answer's verdicts out of its XML or JSON. The wire words (runId, mgmtResponse) stay here and in
the tests that check them."""

import json
from dataclasses import dataclass
from typing import Any, Final

import httpx
from lxml import etree
from typer.testing import CliRunner

from jobgate.cli import cli
from support.casjobs import show
from support.server import JobgateServer
from support.wait import wait_until

PREFIX: Final = "/webacs/api"
VERSIONS: Final = ("v1", "v2", "v3")
START_TIMEOUT_S: Final = 15.0


@dataclass(frozen=True, slots=True)
class NbiUser:
    name: str
    password: str

    @property
    def auth(self) -> tuple[str, str]:
        return (self.name, self.password)


def add_nbi_users(server: JobgateServer, **groups: tuple[str, ...]) -> dict[str, NbiUser]:
    """`jobgate user add NAME --password … --group G…` for each name, all at once."""
    users = {name: NbiUser(name, f"{name}-Pa55") for name in groups}
    server.cli.run_together(*(
        ("user", "add", name, "--password", user.password, *(arg for g in groups[name] for arg in ("--group", g)))
        for name, user in users.items()
    ))  # fmt: skip
    return users


def submit(server: JobgateServer, owner: str, seconds: float = 300, task: str = "sleep") -> int:
    """`jobgate job submit` run in this process (a subprocess costs a second of imports)."""
    argv = ["job", "submit", "--owner", owner, "--task", task, "--param", f"seconds={seconds}",
            "--database-url", server.env["JOBGATE_DATABASE_URL"]]  # fmt: skip
    done = CliRunner().invoke(cli, argv)
    assert done.exit_code == 0, done.output
    return int(json.loads(done.stdout)["id"])


def state(server: JobgateServer, job_id: int) -> str:
    return str(show(server, job_id)["state"])


def wait_for_state(server: JobgateServer, job_id: int, *wanted: str) -> str:
    seen: list[str] = []

    def reached() -> bool:
        seen.append(state(server, job_id))
        return seen[-1] in wanted

    wait_until(reached, START_TIMEOUT_S, 0.02, lambda: f"job {job_id} to reach {wanted}; last {seen[-1:]}")
    return seen[-1]


def running_job(server: JobgateServer, owner: str) -> int:
    job_id = submit(server, owner)
    wait_for_state(server, job_id, "Executing")
    return job_id


def finished_job(server: JobgateServer, owner: str) -> int:
    job_id = submit(server, owner, seconds=0)
    wait_for_state(server, job_id, "Finished")
    return job_id


def operation(
    http: httpx.Client, user: NbiUser, version: str, op: str, ids: list[int], *, as_json: bool
) -> httpx.Response:
    """PUT op/jobService/<op>[.json] with the payload cisco.md gives for the operation."""
    root, wrapper, item = (("jobRunOperationPayload", "runIds", "runId") if op == "cancelrunning"
                           else ("jobOperationPayload", "jobIds", "jobId"))  # fmt: skip
    path = f"{PREFIX}/{version}/op/jobService/{op}"
    if as_json:
        body = json.dumps({root: {wrapper: {item: ids}}}).encode()
        return http.put(path + ".json", content=body, headers={"Content-Type": "application/json"}, auth=user.auth)
    element = etree.Element(root)
    holder = etree.SubElement(element, wrapper)
    for job_id in ids:
        etree.SubElement(holder, item).text = str(job_id)
    body = etree.tostring(element, xml_declaration=True, encoding="UTF-8")
    return http.put(path, content=body, headers={"Content-Type": "application/xml"}, auth=user.auth)


@dataclass(frozen=True, slots=True)
class Verdicts:
    operation: str
    message: str
    success: dict[int, str]  # id → message
    failure: dict[int, str]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def verdicts(answer: httpx.Response) -> Verdicts:
    """The per-id outcome of an mgmtResponse in XML or JSON (any version)."""
    assert answer.status_code == 200, answer.text
    if answer.headers["content-type"].startswith("application/json"):
        [result] = _listed(answer.json()["mgmtResponse"]["operationResult"])
        found = {
            side: {int(s["id"]): (s["status"], s["message"]) for s in _listed(result[side].get(side, []))}
            for side in ("success", "failure")
        }
        operation, message = result["operation"], result["message"]
    else:
        root = etree.fromstring(answer.content)
        found = {
            side: {
                int(s.findtext("id")): (s.findtext("status"), s.findtext("message"))
                for s in root.iterfind(f"operationResult/{side}/{side}")
            }
            for side in ("success", "failure")
        }
        operation, message = root.findtext("operationResult/operation"), root.findtext("operationResult/message")
    assert all(status == "Success" for status, _ in found["success"].values()), found
    assert all(status == "Failure" for status, _ in found["failure"].values()), found
    return Verdicts(
        str(operation), str(message),
        {k: m for k, (_, m) in found["success"].items()}, {k: m for k, (_, m) in found["failure"].items()},
    )  # fmt: skip
