"""Birst helpers for the tests that drive a real server: SOAP calls to CommandWebService.asmx, login tokens,
and publishData jobs steered through the dialect itself.

The wire words (`token`, `spaceID`, `jobToken`, the status words) stay here and in the tests that check them.
"""

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import httpx
from lxml import etree

from support.casjobs import add_users
from support.server import JobgateServer
from support.wait import wait_until

PATH: Final = "/CommandWebService.asmx"
TNS: Final = "http://www.birst.com/"
SOAP11: Final = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12: Final = "http://www.w3.org/2003/05/soap-envelope"
CONTENT_TYPES: Final = {"soap11": "text/xml; charset=utf-8", "soap12": "application/soap+xml; charset=utf-8"}
START_TIMEOUT_S: Final = 15.0
Value = str | Sequence[str] | None


@dataclass(frozen=True, slots=True)
class BirstUser:
    name: str
    password: str


def add_birst_users(server: JobgateServer, *names: str, admin: Sequence[str] = ()) -> dict[str, BirstUser]:
    """`jobgate user add` for each name (passwords long enough for Login's length rule); `admin` ones too."""
    made = {name: BirstUser(name, user.password) for name, user in add_users(server, *names).items()}
    for name in admin:
        password = f"{name}-Pa55"
        server.cli.run("user", "add", name, "--password", password, "--group", "admin")
        made[name] = BirstUser(name, password)
    return made


def new_space() -> str:
    """A Birst space id: a GUID string, 36 characters."""
    return str(uuid.uuid4())


def envelope(op: str, values: Mapping[str, Value], binding: str = "soap11") -> bytes:
    """A request envelope built with lxml: children in the order given; a list is an ArrayOfString."""
    ns = SOAP12 if binding == "soap12" else SOAP11
    root = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap": ns})
    request = etree.SubElement(etree.SubElement(root, f"{{{ns}}}Body"), f"{{{TNS}}}{op}", nsmap={None: TNS})
    for name, value in values.items():
        if value is None:
            continue
        child = etree.SubElement(request, f"{{{TNS}}}{name}")
        if isinstance(value, str):
            child.text = value
        else:
            for item in value:
                etree.SubElement(child, f"{{{TNS}}}string").text = item
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def call(
    http: httpx.Client, op: str, binding: str = "soap11", *, action: str | None = None, **values: Value
) -> httpx.Response:
    """One SOAP call; SOAP 1.1 sends `SOAPAction: "http://www.birst.com/<op>"` (or `action`)."""
    headers = {"Content-Type": CONTENT_TYPES[binding]}
    if binding == "soap11":
        headers["SOAPAction"] = f'"{TNS}{action or op}"'
    return http.post(PATH, content=envelope(op, values, binding), headers=headers)


def result(answer: httpx.Response, op: str) -> etree._Element:
    """The `<opResult>` element of a successful answer."""
    assert answer.status_code == 200, answer.text
    found = etree.fromstring(answer.content).find(f".//{{{TNS}}}{op}Result")
    assert found is not None, answer.text
    return found


def text(answer: httpx.Response, op: str) -> str:
    return result(answer, op).text or ""


def fault(answer: httpx.Response) -> tuple[str, str]:
    """(code local name, text) of a SOAP 1.1 or 1.2 fault; the code as Client/Server or Sender/Receiver."""
    assert answer.status_code == 500, answer.text
    root = etree.fromstring(answer.content)
    code = root.findtext(".//faultcode") or root.findtext(f".//{{{SOAP12}}}Code/{{{SOAP12}}}Value") or ""
    reason = root.findtext(".//faultstring") or root.findtext(f".//{{{SOAP12}}}Reason/{{{SOAP12}}}Text") or ""
    return code.rpartition(":")[2], reason


def login(http: httpx.Client, user: BirstUser) -> str:
    token = text(call(http, "Login", username=user.name, password=user.password), "Login")
    assert re.fullmatch(r"[0-9a-f]{32}", token), token
    return token


def publish(http: httpx.Client, token: str, space: str, seconds: float = 600, group: str = "Sales") -> str:
    """publishData of a sleep of `seconds` in `space`; its job token."""
    answer = call(http, "publishData", token=token, spaceID=space, subgroups=[group, f"seconds={seconds}"],
                  date="2024-04-18T12:34:56")  # fmt: skip
    job_token = text(answer, "publishData")
    assert re.fullmatch(r"[0-9a-f]{32}", job_token), job_token
    return job_token


def detailed_status(http: httpx.Client, token: str, job_token: str) -> str:
    found = result(call(http, "getDetailedJobStatus", token=token, jobToken=job_token), "getDetailedJobStatus")
    return found.findtext(f"{{{TNS}}}statusCode") or ""


def wait_for_status(http: httpx.Client, token: str, job_token: str, wanted: set[str]) -> str:
    seen: list[str] = []

    def reached() -> bool:
        seen.append(detailed_status(http, token, job_token))
        return seen[-1] in wanted

    wait_until(reached, START_TIMEOUT_S, 0.02, lambda: f"job {job_token} to reach {wanted}; last {seen[-1:]}")
    return seen[-1]


def start_running_job(http: httpx.Client, token: str, space: str) -> str:
    """publishData of a long sleep, once a runner has started it (Running)."""
    job_token = publish(http, token, space)
    wait_for_status(http, token, job_token, {"Running"})
    return job_token


@contextmanager
def running_job(http: httpx.Client, token: str, space: str) -> Iterator[str]:
    """start_running_job; on the way out the job is cancelled if it still holds a runner."""
    job_token = start_running_job(http, token, space)
    try:
        yield job_token
    finally:
        call(http, "cancelJob", token=token, spaceID=space, jobToken=job_token)
