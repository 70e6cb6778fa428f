"""Trans-WS helpers for the tests that drive a real server: users, jobs made by the operator's CLI, requests
built like a client builds them (lxml), and answers read back. The wire words stay here and in the tests."""

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import httpx
from lxml import etree
from typer.testing import CliRunner

from jobgate.cli import cli
from support.server import JobgateServer
from support.wait import wait_until

PATH: Final = "/transws"
TNS: Final = "urn:oasis:names:tc:wstrans:v1:types"
WSSE: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
SOAP11: Final = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12: Final = "http://www.w3.org/2003/05/soap-envelope"
SEED_JOB, SEED_PROJECT, SEED_USER = "job-001", "proj-002", "user-003"  # seed 000's ticket
START_TIMEOUT_S: Final = 15.0


class Version(StrEnum):
    SOAP11 = "soap11"
    SOAP12 = "soap12"

    @property
    def envelope_ns(self) -> str:
        return SOAP12 if self is Version.SOAP12 else SOAP11

    @property
    def content_type(self) -> str:
        return "application/soap+xml; charset=utf-8" if self is Version.SOAP12 else "text/xml; charset=utf-8"

    @property
    def client_code(self) -> str:
        return "Sender" if self is Version.SOAP12 else "Client"

    @property
    def server_code(self) -> str:
        return "Receiver" if self is Version.SOAP12 else "Server"


VERSIONS: Final = tuple(Version)


@dataclass(frozen=True, slots=True)
class User:
    name: str
    password: str

    @property
    def basic(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.name}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}


@dataclass(frozen=True, slots=True)
class Ticket:
    jobId: str
    projectId: str
    userId: str

    def attributes(self) -> dict[str, str]:
        return {"jobId": self.jobId, "projectId": self.projectId, "userId": self.userId}


def add_users(server: JobgateServer, *names: str, admin: tuple[str, ...] = ()) -> dict[str, User]:
    """`jobgate user add` for each name, all at once; those in `admin` join group admin."""
    users = {name: User(name, f"{name}-Pa55") for name in names}
    commands = [
        ("user", "add", name, "--password", user.password, *(("--group", "admin") if name in admin else ()))
        for name, user in users.items()
    ]
    server.cli.run_together(*commands)
    return users


def operator(server: JobgateServer, *args: str | int) -> Any:
    """A `jobgate` command on the server's database, in this process; its JSON output."""
    argv = [str(a) for a in args] + ["--database-url", server.env["JOBGATE_DATABASE_URL"]]
    done = CliRunner().invoke(cli, argv)
    assert done.exit_code == 0, f"jobgate {' '.join(argv)} exited {done.exit_code}: {done.output}"
    return json.loads(done.stdout)


def submit(server: JobgateServer, owner: str, project: str = SEED_PROJECT, seconds: float = 600) -> Ticket:
    """A sleep job submitted by the operator for `owner`; the ticket that names it."""
    made = operator(server, "job", "submit", "--owner", owner, "--task", "sleep", "--param", f"seconds={seconds}",
                    "--project", project)  # fmt: skip
    return Ticket(made["key"], project, owner)


def show(server: JobgateServer, ticket: Ticket) -> dict[str, Any]:
    """`jobgate job show --json` of the job the ticket names."""
    [job] = [job for job in operator(server, "job", "list", "--json") if job["key"] == ticket.jobId]
    shown: dict[str, Any] = operator(server, "job", "show", job["id"], "--json")
    return shown


def state(server: JobgateServer, ticket: Ticket) -> str:
    return str(show(server, ticket)["state"])


def wait_for_state(server: JobgateServer, ticket: Ticket, *wanted: str) -> str:
    seen: list[str] = []

    def reached() -> bool:
        seen.append(state(server, ticket))
        return seen[-1] in wanted

    wait_until(reached, START_TIMEOUT_S, 0.05, lambda: f"job {ticket.jobId} to be {wanted}; last {seen[-1:]}")
    return seen[-1]


# -- requests ----------------------------------------------------------------------------------------------
def envelope(
    version: Version, request: str, ticket: Ticket | None = None, fields: Mapping[str, str] | None = None,
    token: User | None = None,
) -> bytes:  # fmt: skip
    """`<request xmlns=TNS><ticket …/>fields…</request>` in an envelope; with `token`, a UsernameToken header."""
    ns = version.envelope_ns
    root = etree.Element(f"{{{ns}}}Envelope", nsmap={"soapenv": ns})
    if token is not None:
        header = etree.SubElement(root, f"{{{ns}}}Header")
        security = etree.SubElement(header, f"{{{WSSE}}}Security", nsmap={"wsse": WSSE})
        security.set(f"{{{ns}}}mustUnderstand", "1" if version is Version.SOAP11 else "true")
        username_token = etree.SubElement(security, f"{{{WSSE}}}UsernameToken")
        etree.SubElement(username_token, f"{{{WSSE}}}Username").text = token.name
        etree.SubElement(username_token, f"{{{WSSE}}}Password").text = token.password
    body = etree.SubElement(etree.SubElement(root, f"{{{ns}}}Body"), f"{{{TNS}}}{request}", nsmap={None: TNS})
    if ticket is not None:
        etree.SubElement(body, f"{{{TNS}}}ticket", ticket.attributes())
    for name, text in (fields or {}).items():
        etree.SubElement(body, f"{{{TNS}}}{name}").text = text
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def post(
    http: httpx.Client, version: Version, body: bytes | str, user: User | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:  # fmt: skip
    """A body to /transws with the version's Content-Type (and Basic credentials for `user`)."""
    sent = {"Content-Type": version.content_type, **(user.basic if user else {}), **(headers or {})}
    return http.post(PATH, content=body.encode() if isinstance(body, str) else body, headers=sent)


def call(
    http: httpx.Client, version: Version, user: User, request: str, ticket: Ticket | None = None, **fields: str
) -> httpx.Response:
    return post(http, version, envelope(version, request, ticket, fields), user)


# -- answers -----------------------------------------------------------------------------------------------
def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def answer_of(response: httpx.Response, name: str) -> etree._Element:
    """The response element `name` of a 200 answer."""
    assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:800]}"
    found = etree.fromstring(response.content, _parser()).find(f".//{{{TNS}}}{name}")
    assert found is not None, response.text[:800]
    return found


def control_answer(response: httpx.Response, name: str) -> tuple[str, str]:
    """`succeeded` and `info` of a cancelJob/suspendJob/resumeJob answer."""
    found = answer_of(response, name)
    return found.findtext(f"{{{TNS}}}succeeded") or "", found.findtext(f"{{{TNS}}}info") or ""


def tickets_in(response: httpx.Response, name: str) -> list[Ticket]:
    return [Ticket(**dict(t.attrib)) for t in answer_of(response, name).iter(f"{{{TNS}}}ticket")]


def history_of(response: httpx.Response) -> list[tuple[str, str]]:
    events = answer_of(response, "retrieveJobInformationResponse").iter(f"{{{TNS}}}event")
    return [(str(e.get("stage")), str(e.get("status"))) for e in events]


@dataclass(frozen=True)
class Fault:
    code: str  # local part of the code: Client, Sender, Server, Receiver, MustUnderstand …
    subcode: str | None
    text: str
    version: str


def fault_of(response: httpx.Response) -> Fault:
    root = etree.fromstring(response.content, _parser())
    for ns in (SOAP11, SOAP12):
        fault = root.find(f"{{{ns}}}Body/{{{ns}}}Fault")
        if fault is None:
            continue
        if ns == SOAP11:
            code = (fault.findtext("faultcode") or "").rpartition(":")[2]
            code, _, sub = code.partition(".")
            return Fault(code, sub or None, fault.findtext("faultstring") or "", ns)
        value = (fault.findtext(f"{{{ns}}}Code/{{{ns}}}Value") or "").rpartition(":")[2]
        sub = fault.findtext(f"{{{ns}}}Code/{{{ns}}}Subcode/{{{ns}}}Value")
        return Fault(value, sub, fault.findtext(f"{{{ns}}}Reason/{{{ns}}}Text") or "", ns)
    raise AssertionError(f"no SOAP fault in HTTP {response.status_code} {response.text[:300]!r}")


def assert_fault(
    response: httpx.Response, version: Version, code: str, text: str | None = None, status: int = 500
) -> Fault:
    """A fault of this SOAP version with this code (Client/Server, named Sender/Receiver in 1.2), HTTP 500
    (or the `status` said)."""
    assert response.status_code == status, f"HTTP {response.status_code}: {response.text[:500]!r}"
    fault = fault_of(response)
    wanted = {"Client": version.client_code, "Server": version.server_code}.get(code, code)
    assert fault.version == version.envelope_ns, f"a {fault.version} fault answered a {version} request"
    assert fault.code == wanted, f"fault code {fault.code!r}, wanted {wanted!r} ({fault.text!r})"
    if text is not None:
        assert fault.text == text, f"fault text {fault.text!r}, wanted {text!r}"
    return fault
