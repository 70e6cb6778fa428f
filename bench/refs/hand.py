"""Configuration E: hardened lxml parse + extraction of wsId/pw/jobId + the job statement (CancelJob: the
compare-and-set UPDATE; GetJobStatus: one SELECT), run inline on the event loop. No Spyne. ArcGIS GP job
status likewise: the path and query parsed, the token looked up in memory, one SELECT, `json.dumps`."""

import json
import re
import urllib.parse
from typing import Final

from lxml import etree

from bench.refs import wire
from bench.refs.common import (
    SOAP11,
    TNS,
    JobTable,
    Receive,
    Scope,
    Send,
    Users,
    operation_of_path,
    query_args,
    read_body,
    respond,
)

_BODY: Final = f"{{{SOAP11}}}Body"
_FIELDS: Final = {f"{{{TNS}}}{name}": name for name in ("wsId", "pw", "jobId")}
_ARCGIS_JOB: Final = re.compile(r"^/arcgis/rest/services/[^/]+/GPServer/[^/]+/jobs/j([0-9a-f]{32})(/cancel)?$")
_ESRI: Final = {"Submitted": "esriJobWaiting", "Suspended": "esriJobWaiting", "Executing": "esriJobExecuting",
                "Canceling": "esriJobCancelling", "Cancelled": "esriJobCancelled", "Failed": "esriJobFailed",
                "Finished": "esriJobSucceeded"}  # fmt: skip


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)


def _soap_call(body: bytes, parser: etree.XMLParser) -> tuple[str, dict[str, str]]:
    """The operation's local name and its wsId/pw/jobId texts; ValueError on anything else."""
    root = etree.fromstring(body, parser)
    if root.getroottree().docinfo.doctype:
        raise ValueError("DTD is prohibited")
    soap_body = root.find(_BODY)
    call = next((child for child in soap_body if isinstance(child.tag, str)), None) if soap_body is not None else None
    if call is None:
        raise ValueError("no request element")
    args = {_FIELDS[child.tag]: child.text or "" for child in call if child.tag in _FIELDS}
    return etree.QName(call).localname, args


def make_app(jobs: JobTable, users: Users) -> object:
    parser = _parser()  # one per server: everything runs on the event loop thread

    def answer(op: str, args: dict[str, str], soap: bool) -> tuple[int, bytes]:
        owner = users.owner(args.get("wsId"), args.get("pw"))
        if owner is None:
            return 500, wire.fault("Invalid WebServicesID or password.")
        job_id = int(args.get("jobId", "0"))
        if op == "CancelJob":
            jobs.cancel(owner, job_id)
            return 200, wire.cancel_response() if soap else b""
        status = jobs.status(owner, job_id)
        if status is None:
            return 500, wire.fault("No such job.")
        return 200, wire.status_response(status) if soap else wire.asmx_int(status)

    def arcgis_job(scope: Scope, body: bytes) -> tuple[int, bytes]:
        """GP job status (GET, token in the query) or cancel (POST, token in the form body)."""
        found = _ARCGIS_JOB.match(scope["path"])
        form = dict(urllib.parse.parse_qsl(body.decode())) if body else query_args(scope)
        owner = users.token_owner(form.get("token"))
        if owner is None:
            return 200, json.dumps({"error": {"code": 498, "message": "Invalid Token", "details": []}}).encode()
        if found and found.group(2):
            jobs.cancel_by_key(owner, found.group(1))
        state = jobs.state_by_key(owner, found.group(1)) if found else None
        if state is None:
            return 200, json.dumps({"error": {"code": 400, "message": "Invalid URL", "details": []}}).encode()
        return 200, json.dumps({"jobId": f"j{found.group(1) if found else ''}", "jobStatus": _ESRI[state]}).encode()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        if scope["path"].startswith("/arcgis/"):
            status, reply = arcgis_job(scope, body)
            await respond(send, status, reply, b"application/json; charset=UTF-8")
            return
        op = operation_of_path(scope)
        try:
            status, reply = answer(op, query_args(scope), False) if op else answer(*_soap_call(body, parser), True)
        except (ValueError, etree.XMLSyntaxError) as exc:
            status, reply = 500, wire.fault(f"Bad request: {exc}")
        await respond(send, status, reply)

    return app
