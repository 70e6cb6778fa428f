"""The reference servers' Cisco PI calls: HTTP Basic, the hardened parse of a jobRunOperationPayload, one
compare-and-set per runId, an mgmtResponse built with lxml (E); or the same reply as a constant (A)."""

import base64
import binascii
from functools import cache
from typing import Final

from lxml import etree

from bench.refs.common import JobTable, Scope, Users

PREFIX: Final = "/webacs/api/"
XML: Final = b"application/xml"


def is_cisco(scope: Scope) -> bool:
    return str(scope["path"]).startswith(PREFIX)


def _basic(scope: Scope) -> tuple[str, str] | None:
    header = dict(scope["headers"]).get(b"authorization", b"")
    scheme, _, encoded = header.partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        name, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (name, password) if sep else None


def _outcome(root: str, fields: dict[str, str]) -> bytes:
    element = etree.Element(root)
    for name, value in fields.items():
        etree.SubElement(element, name).text = value
    return bytes(etree.tostring(element, xml_declaration=True, encoding="utf-8"))


def mgmt_response(url: str, moved: list[int], refused: list[int]) -> bytes:
    top = etree.Element("mgmtResponse", responseType="operation", requestUrl=url, rootUrl=url.rsplit("/", 2)[0])
    result = etree.SubElement(top, "operationResult")
    for side, ids, word in (("failure", refused, "Failure"), ("success", moved, "Success")):
        holder = etree.SubElement(result, side)
        for job_id in ids:
            item = etree.SubElement(holder, side)
            for name, value in (("id", str(job_id)), ("message", word), ("status", word)):
                etree.SubElement(item, name).text = value
        if side == "failure":
            etree.SubElement(result, "message").text = f"{len(moved)} succeeded, {len(refused)} failed"
            etree.SubElement(result, "operation").text = "CANCELRUNNING"
    return bytes(etree.tostring(top, xml_declaration=True, encoding="utf-8"))


@cache
def constant_reply() -> bytes:
    """Configuration A's answer to every Cisco call."""
    return mgmt_response("http://127.0.0.1/webacs/api/v3/op/jobService/cancelrunning", [1], [])


def answer(scope: Scope, body: bytes, jobs: JobTable, users: Users, parser: etree.XMLParser) -> tuple[int, bytes]:
    """Configuration E: credentials, then cancelrunning (PUT) or one job's runStatus (GET)."""
    creds = _basic(scope)
    owner = users.named(*creds) if creds else None
    if owner is None:
        return 401, _outcome("errorDocument", {"httpResponseCode": "401", "message": "Unauthorized"})
    path = str(scope["path"])
    if scope["method"] == "GET":
        status = jobs.status(owner, int(path.rsplit("/", 1)[1]))
        return (404, b"") if status is None else (200, _outcome("queryResponse", {"runStatus": str(status)}))
    root = etree.fromstring(body, parser)
    if root.getroottree().docinfo.doctype or root.tag != "jobRunOperationPayload":
        return 400, _outcome("errorDocument", {"httpResponseCode": "400", "message": "Invalid payload"})
    moved: list[int] = []
    refused: list[int] = []
    for item in root.iterfind("runIds/runId"):
        job_id = int(item.text or "")
        (moved if jobs.cancel(owner, job_id) else refused).append(job_id)
    return 200, mgmt_response(f"http://127.0.0.1{path}", moved, refused)
