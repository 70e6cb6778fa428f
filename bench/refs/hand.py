"""Configuration E: hardened lxml parse + extraction of wsId/pw/jobId + the job statement (CancelJob: the
compare-and-set UPDATE; GetJobStatus: one SELECT), run inline on the event loop. No Spyne."""

from typing import Final

from lxml import etree

from bench.refs import cisco, wire
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

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        if cisco.is_cisco(scope):
            try:
                status, reply = cisco.answer(scope, body, jobs, users, parser)
            except (ValueError, etree.XMLSyntaxError):
                status, reply = 400, b""
            await respond(send, status, reply, cisco.XML)
            return
        op = operation_of_path(scope)
        try:
            status, reply = answer(op, query_args(scope), False) if op else answer(*_soap_call(body, parser), True)
        except (ValueError, etree.XMLSyntaxError) as exc:
            status, reply = 500, wire.fault(f"Bad request: {exc}")
        await respond(send, status, reply)

    return app
