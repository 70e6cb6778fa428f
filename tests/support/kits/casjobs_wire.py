"""CasJobs over every binding of jobs.asmx (SOAP 1.1, SOAP 1.2, HTTP GET, HTTP POST): requests built like a client
builds them, faults and ASMX errors read back, and a real server with its users for the tests that need one.
(Its namespace and paths come from support.casjobs, the one place the CasJobs tests name them.)
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import httpx
from lxml import etree

from support.casjobs import JOBS_PATH, TNS
from support.kits.base import OperatorView
from support.kits.soap import SOAP11, SOAP12

JOBS: Final = JOBS_PATH
READ_PREFIX: Final = "Server was unable to read request. ---> "
SERVER_PREFIX: Final = "Server was unable to process request. ---> "
DTD_PROHIBITED: Final = READ_PREFIX + "DTD is prohibited in this XML document."
BAD_LOGIN: Final = "Invalid WebServicesID or password."

# Seed 001 (shared/seeds/001_casjobs_CancelJob.txt), the two SOAP requests verbatim, placeholders and all.
SEED_CANCEL_SOAP11: Final = """<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <CancelJob xmlns="http://Services.Cas.jhu.edu">
      <wsId>long</wsId>
      <pw>string</pw>
      <jobId>long</jobId>
    </CancelJob>
  </soap:Body>
</soap:Envelope>"""
SEED_CANCEL_SOAP12: Final = """<?xml version="1.0" encoding="utf-8"?>
<soap12:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap12="http://www.w3.org/2003/05/soap-envelope">
  <soap12:Body>
    <CancelJob xmlns="http://Services.Cas.jhu.edu">
      <wsId>long</wsId>
      <pw>string</pw>
      <jobId>long</jobId>
    </CancelJob>
  </soap12:Body>
</soap12:Envelope>"""

# Declared parameter order per operation (casjobs.md, Operations); None-valued parameters are left out.
PARAMS: Final[Mapping[str, tuple[str, ...]]] = {
    "CancelJob": ("wsId", "pw", "jobId"),
    "GetJobStatus": ("wsId", "pw", "jobId"),
    "GetJobs": ("owner_wsid", "owner_pw", "conditions", "includeSystem"),
    "SubmitJob": ("wsid", "pw", "qry", "context", "taskname", "estimate"),
    "ExecuteQuickJob": ("wsid", "pw", "qry", "context", "taskname", "isSystem"),
    "GetQueues": ("wsid", "pw"),
}


class Binding(StrEnum):
    SOAP11 = "soap11"
    SOAP12 = "soap12"
    GET = "http-get"
    POST = "http-post"

    @property
    def is_soap(self) -> bool:
        return self in (Binding.SOAP11, Binding.SOAP12)

    @property
    def envelope_ns(self) -> str:
        return SOAP12 if self is Binding.SOAP12 else SOAP11

    @property
    def content_type(self) -> str:
        return "application/soap+xml; charset=utf-8" if self is Binding.SOAP12 else "text/xml; charset=utf-8"

    @property
    def client_code(self) -> str:
        return "Sender" if self is Binding.SOAP12 else "Client"

    @property
    def server_code(self) -> str:
        return "Receiver" if self is Binding.SOAP12 else "Server"


SOAP_BINDINGS: Final = (Binding.SOAP11, Binding.SOAP12)


def credential_names(op: str) -> tuple[str, str]:
    names = PARAMS[op]
    return names[0], names[1]


def seed_cancel(binding: Binding, wsid: int | str, pw: str, job_id: int | str) -> str:
    """Seed 001's CancelJob request for this SOAP version, placeholders filled in (in document order)."""
    seed = SEED_CANCEL_SOAP12 if binding is Binding.SOAP12 else SEED_CANCEL_SOAP11
    filled = seed.replace("<wsId>long</wsId>", f"<wsId>{wsid}</wsId>", 1)
    filled = filled.replace("<pw>string</pw>", f"<pw>{_escape(pw)}</pw>", 1)
    return filled.replace("<jobId>long</jobId>", f"<jobId>{job_id}</jobId>", 1)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def envelope(binding: Binding, op: str, params: Mapping[str, Any]) -> bytes:
    """A document/literal wrapped request, built with lxml like a real client."""
    ns = binding.envelope_ns
    root = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap": ns})
    request = etree.SubElement(etree.SubElement(root, f"{{{ns}}}Body"), f"{{{TNS}}}{op}", nsmap={None: TNS})
    for name in PARAMS[op]:
        if params.get(name) is not None:
            etree.SubElement(request, f"{{{TNS}}}{name}").text = str(params[name])
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def soap_action(op: str) -> str:
    return f'"{TNS}/{op}"'


def call(
    http: httpx.Client, binding: Binding, op: str, params: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """One CasJobs call as a client of that binding sends it (SOAPAction / action= included)."""
    values = {name: str(params[name]) for name in PARAMS[op] if params.get(name) is not None}
    if binding is Binding.GET:
        return http.get(f"{JOBS}/{op}", params=values, headers=headers)
    if binding is Binding.POST:
        return http.post(f"{JOBS}/{op}", data=values, headers=headers)
    sent = {"content-type": binding.content_type}
    if binding is Binding.SOAP11:
        sent["soapaction"] = soap_action(op)
    else:
        sent["content-type"] += f"; action={soap_action(op)}"
    return http.post(JOBS, content=envelope(binding, op, params), headers={**sent, **(headers or {})})


def post_soap(
    http: httpx.Client, binding: Binding, body: bytes | str, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """A raw body to the bare .asmx URL with the binding's Content-Type (no SOAPAction unless given)."""
    content = body.encode() if isinstance(body, str) else body
    return http.post(JOBS, content=content, headers={"content-type": binding.content_type, **(headers or {})})


# -- reading answers ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fault:
    code: str  # local part: Client, Server, Sender, Receiver, VersionMismatch, Client.ValidationError …
    text: str
    version: str  # the envelope namespace the fault came in


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def fault_of(response: httpx.Response) -> Fault:
    """The SOAP fault in a response, or an AssertionError saying what came instead."""
    try:
        root = etree.fromstring(response.content, _safe_parser())
    except etree.XMLSyntaxError:
        raise AssertionError(f"not a SOAP fault: HTTP {response.status_code} {response.text[:300]!r}") from None
    for ns in (SOAP11, SOAP12):
        fault = root.find(f"{{{ns}}}Body/{{{ns}}}Fault")
        if fault is None:
            continue
        if ns == SOAP11:
            code, text = fault.findtext("faultcode") or "", fault.findtext("faultstring") or ""
        else:
            code = fault.findtext(f"{{{ns}}}Code/{{{ns}}}Value") or ""
            text = fault.findtext(f"{{{ns}}}Reason/{{{ns}}}Text") or ""
        return Fault(code.rpartition(":")[2], text, ns)
    raise AssertionError(f"no SOAP fault in HTTP {response.status_code} {response.text[:300]!r}")


def assert_fault(response: httpx.Response, binding: Binding, code: str, text: str) -> Fault:
    """HTTP 500 and a fault of this SOAP version with this code (Client/Server, mapped for 1.2) and text."""
    assert response.status_code == 500, f"HTTP {response.status_code}: {response.text[:500]!r}"
    fault = fault_of(response)
    wanted = {"Client": binding.client_code, "Server": binding.server_code}.get(code, code)
    assert fault.version == binding.envelope_ns, f"a {fault.version} fault answered a {binding} request"
    assert fault.code == wanted, f"fault code {fault.code!r}, wanted {wanted!r} ({fault.text!r})"
    assert fault.text == text, f"fault text {fault.text!r}, wanted {text!r}"
    return fault


def assert_denied(response: httpx.Response, binding: Binding, message: str) -> None:
    """An operation's error as each binding shows it: a Server/Receiver fault, or ASMX's text/plain 500."""
    if binding.is_soap:
        assert_fault(response, binding, "Server", SERVER_PREFIX + message)
        return
    assert response.status_code == 500, f"HTTP {response.status_code}: {response.text[:500]!r}"
    assert response.headers["content-type"].startswith("text/plain"), response.headers["content-type"]
    assert response.text.startswith(f"System.Exception: {message} ---> "), response.text[:500]


def result_text(response: httpx.Response, binding: Binding, op: str) -> str:
    """The text of a scalar result (`<OpResult>` in SOAP, the root element in HTTP GET/POST)."""
    assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:500]!r}"
    root = etree.fromstring(response.content, _safe_parser())
    if binding.is_soap:
        found = root.find(f".//{{{TNS}}}{op}Result")
        assert found is not None, response.text[:500]
        return found.text or ""
    return root.text or ""


def job_ids_in(response: httpx.Response) -> list[int]:
    """The JobIDs of a GetJobs answer (either binding)."""
    assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:500]!r}"
    root = etree.fromstring(response.content, _safe_parser())
    return [int(text) for text in root.xpath("//*[local-name()='CJJob']/*[local-name()='JobID']/text()")]


# -- a server with its users ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class User:
    name: str
    password: str
    wsid: int
    groups: tuple[str, ...] = ()

    def creds(self, op: str) -> dict[str, Any]:
        """This user's credentials under the operation's parameter names (`wsId`/`wsid`/`owner_wsid`, …)."""
        wsid_name, pw_name = credential_names(op)
        return {wsid_name: self.wsid, pw_name: self.password}


@dataclass
class World:
    """One `jobgate serve` (no runners: jobs stay where requests put them), its users, and the operator's view."""

    server: Any  # support.server.JobgateServer
    users: dict[str, User]
    view: OperatorView

    def healthy(self, http: httpx.Client) -> None:
        answer = http.get("/healthz")
        assert answer.status_code == 200, f"/healthz answered {answer.status_code} {answer.text!r}"


def open_world(start_server: Any, users: list[User], **variables: Any) -> World:
    """Start a server (runners off, a long credential-cache TTL so a module's legitimate logins never meet the
    per-address back-off its bad-password tests trigger) and add the users with the CLI, side by side."""
    server = start_server(JOBGATE_RUNNERS=0, JOBGATE_AUTH_CACHE_TTL_S=3600, **variables)
    commands = [
        (
            "user",
            "add",
            u.name,
            "--password",
            u.password,
            "--wsid",
            u.wsid,
            *(a for g in u.groups for a in ("--group", g)),
        )
        for u in users
    ]
    server.cli.run_together(*commands)
    return World(server, {u.name: u for u in users}, OperatorView(server.env["JOBGATE_DATABASE_URL"]))


def submit_job(http: httpx.Client, user: User, taskname: str = "sec") -> int:
    """A batch job (stays Submitted: the server runs no runners) submitted over HTTP GET."""
    params = {**user.creds("SubmitJob"), "qry": "SELECT 1 AS a", "context": "MyDB", "taskname": taskname}
    answer = call(http, Binding.GET, "SubmitJob", {**params, "estimate": 1})
    return int(result_text(answer, Binding.GET, "SubmitJob"))


def job_status(http: httpx.Client, user: User, job_id: int) -> int:
    answer = call(http, Binding.GET, "GetJobStatus", {**user.creds("GetJobStatus"), "jobId": job_id})
    return int(result_text(answer, Binding.GET, "GetJobStatus"))
