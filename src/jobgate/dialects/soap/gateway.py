"""The SOAP front door: one hardened gateway that every SOAP dialect goes through.

Per request it reads the body under a cap, picks the SOAP version from the Content-Type, parses once
with the hardened gate, checks the envelope version and SOAPAction, and hands the parsed tree to the
dialect's Spyne application (or, for its fast operations, to the fast lane). `?wsdl` serves the
published WSDL with the caller's address. A service that follows ASMX's conventions (`Asmx`) also gets
its HTTP GET/POST bindings, the operation list, the `?op=` pages and `?disco`, and ASMX's fault wording;
a plain SOAP service gets none of them. A dialect plugs in by describing itself as a `SoapService`.
"""

import logging
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import anyio.to_thread
from lxml import etree
from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from jobgate.dialects.common import DialectOptions, Services
from jobgate.dialects.common.body import BodyTooLarge, ClientGone, form_pairs, read_body
from jobgate.dialects.common.calls import CallInfo
from jobgate.dialects.common.http import is_loopback, request_base_url
from jobgate.dialects.common.xml import XmlRefused, parse
from jobgate.dialects.soap import asmx
from jobgate.dialects.soap.fastlane import DocumentOp, FastLane, FastOp
from jobgate.dialects.soap.faults import (
    ASMX_WORDING,
    PLAIN_WORDING,
    FaultWording,
    SoapVersion,
    must_understand_fault,
    reshape_fault,
    soap_fault,
    version_mismatch_fault,
)
from jobgate.dialects.soap.spyne_apps import CALL_KEY, TREE_KEY, SpyneApps, asmx_exception_text
from jobgate.dialects.soap.wsdl import asmx_action
from jobgate.domain.model import Channel, Credentials

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Asmx:
    """The conventions of an ASP.NET `.asmx` endpoint, for the services whose clients expect them: the
    operation list on a bare GET, `?op=` pages (with an HTTP POST test form when `http_bindings`),
    `?disco`, ASMX's fault wording, and 400 with no body for XML that is not well-formed."""

    http_bindings: bool = True  # HttpGet/HttpPost at <path>/<Op> (CasJobs: on; Birst: off)
    # ASMX's HttpPostLocalhost: without the HTTP bindings, the ?op= page's Invoke form still posts to
    # <path>/<Op> for the callers who may see it (JOBGATE_TEST_FORMS); nobody else, and no WSDL binding
    local_post: bool = True

    @property
    def forms(self) -> bool:
        return self.http_bindings or self.local_post


@dataclass(frozen=True)
class SoapService:
    """One SOAP endpoint described as data."""

    name: str
    path: str
    tns: str
    apps: SpyneApps
    channel: Channel
    wsdl: bytes | None = None
    asmx: Asmx | None = Asmx()  # None: a plain SOAP service
    check_soap_action: bool = True  # a SOAPAction naming another operation than the body is refused
    # header blocks (Clark names) the service processes; any other one addressed to it with mustUnderstand
    # set gets a MustUnderstand fault (SOAP 1.1 §4.2.3, 1.2 Part 1 §5.2.3)
    understood_headers: frozenset[str] = frozenset()
    description: str = ""
    # the hot path: the fast lane answers these operations without Spyne (op → the function its Spyne
    # method calls; see fastlane.py); they, and the `inline_ops` Spyne answers, and only these, run on the
    # event loop (no thread hop) when the credentials `credentials` pulls out of the call (op, its values,
    # the call, the envelope or None) are already verified, so no hash blocks the loop
    fast_ops: Mapping[str, FastOp] = field(default_factory=dict)
    fast_documents: Mapping[str, DocumentOp] = field(default_factory=dict)  # the same, for structured requests
    inline_ops: frozenset[str] = frozenset()
    credentials: Callable[[str, Mapping[str, str], CallInfo, Any], Credentials | None] | None = None

    @property
    def wording(self) -> FaultWording:
        return ASMX_WORDING if self.asmx is not None else PLAIN_WORDING

    @property
    def http_bindings(self) -> bool:
        return self.asmx is not None and self.asmx.http_bindings

    def soap_action(self, op: str) -> str:
        """The namespace and the operation, joined by one slash (ASMX's rule, which the WSDL advertises)."""
        return asmx_action(self.tns)(op)


@dataclass
class _Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class SoapRoute(BaseRoute):
    """Matches `<path>` and `<path>/<Op>` case-insensitively, as IIS does."""

    def __init__(self, path: str, app: "SoapGateway") -> None:
        self.base, self.app = path.lower().rstrip("/"), app
        self.path = path  # what the app groups its hot routes by (ops.HotRoutes)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            path = scope["path"].lower()
            if path == self.base or path.startswith(self.base + "/"):
                return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class SoapGateway:
    def __init__(self, service: SoapService, services: Services, options: DialectOptions) -> None:
        self.service, self.services, self.options = service, services, options
        self.wording = service.wording
        self.pages = None
        if service.asmx is not None:
            self.pages = asmx.Pages(
                service.name, service.path, service.apps.http, service.description, service.http_bindings,
                forms=service.asmx.forms,
            )  # fmt: skip
        self._ops = {op.lower(): op for op in asmx.operation_names(service.apps.soap11)}
        self._actions = {op: service.soap_action(op) for op in self._ops.values()}
        self.fast = None
        if options.fast_lane and (service.fast_ops or service.fast_documents):
            errors = service.apps.soap11.app.errors
            self.fast = FastLane(service.apps.soap11, service.fast_ops, errors, self.wording, service.fast_documents)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reply = await self._dispatch(scope, receive)
        if reply is None:
            return
        headers = [(b"content-length", str(len(reply.body)).encode())]
        headers += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in reply.headers.items()]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else reply.body})

    async def _dispatch(self, scope: Scope, receive: Receive) -> _Reply | None:
        op_segment = scope["path"][len(self.service.path) :].strip("/")
        method = scope["method"]
        try:
            if method == "GET" or (method == "HEAD" and not op_segment):
                return await self._get(scope, op_segment)  # HEAD reads pages and the WSDL, never runs an operation
            if method == "POST":
                body = await read_body(scope, receive, self.options.max_body_bytes)
                return await (self._http_call(scope, op_segment, body) if op_segment else self._soap(scope, body))
        except BodyTooLarge:
            return _Reply(413, b"Request body too large.", {"content-type": "text/plain; charset=utf-8"})
        except ClientGone:
            return None  # nobody is listening for an answer
        allow = "GET, POST" if self.service.http_bindings or not op_segment else "POST"
        return _Reply(405, b"Method not allowed.", {"content-type": "text/plain; charset=utf-8", "allow": allow})

    # -- GET: documentation, WSDL and the HTTP GET binding ----------------------------------------------
    async def _get(self, scope: Scope, op_segment: str) -> _Reply:
        if op_segment:
            return await self._http_call(scope, op_segment, None)
        query = urllib.parse.parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        keys = {k.lower(): v for k, v in query.items()}
        base_url = request_base_url(scope, self.options.public_url)
        if "wsdl" in keys and self.service.wsdl is not None:
            return _Reply(200, asmx.wsdl_for(self.service.wsdl, base_url + self.service.path), _XML)
        if self.pages is None:  # a plain SOAP service: the WSDL is all a GET can ask for
            text = b"This is a SOAP endpoint: send requests with POST; its description is at ?wsdl."
            return _Reply(405, text, {**_TEXT, "allow": "POST"})
        if "disco" in keys:
            return _Reply(200, asmx.disco(base_url + self.service.path, self.service.name), _XML)
        op = self._ops.get(keys.get("op", [""])[0].lower())
        if op is not None:
            form = self._forms_allowed(scope)
            return _Reply(
                200,
                self.pages.operation(op, show_form=form, forms_on=self.options.test_forms != "off"),
                _HTML,
            )
        return _Reply(200, self.pages.index(), _HTML)

    def _local_post(self, scope: Scope) -> bool:
        """HttpPostLocalhost: the Invoke form's POST, from a caller the test form is shown to."""
        asmx_conventions = self.service.asmx
        return asmx_conventions is not None and asmx_conventions.local_post and self._forms_allowed(scope)

    def _forms_allowed(self, scope: Scope) -> bool:
        if self.options.test_forms == "on":
            return True
        if self.options.test_forms == "off":
            return False
        return is_loopback(scope)  # X-Forwarded-For is ignored on purpose

    # -- HTTP GET/POST bindings -------------------------------------------------------------------------
    async def _http_call(self, scope: Scope, op_segment: str, body: bytes | None) -> _Reply:
        op = self._ops.get(op_segment.lower())
        if self.service.asmx is None:
            return _Reply(404, b"Not Found", _TEXT)
        if op is None or not (self.service.http_bindings or (body is not None and self._local_post(scope))):
            return _asmx_error(f"Request format is unrecognized for URL unexpectedly ending in '/{op_segment}'.")
        if body is None:
            pairs = urllib.parse.parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        else:
            content_type = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/x-www-form-urlencoded":
                return _asmx_error(f"Request format is invalid: {content_type or 'missing Content-Type'}.")
            try:
                pairs = await form_pairs(body, max_fields=200)
            except (UnicodeDecodeError, ValueError):
                return _asmx_error("Request format is invalid: the form is not valid UTF-8 url-encoding.")
        try:
            values = asmx.bind_parameters(self.service.apps.http, op, pairs)
        except asmx.BadParameter as bad:
            return _asmx_error(str(bad), bad.kind)
        call = self._call_info(scope, "http-get" if body is None else "http-post")
        inline = self._may_inline(op, values, call)
        if inline and self.fast is not None and op in self.fast.ops:
            status, answer = self.fast.http(op, call, values)
            return _Reply(status, answer, _XML if status == 200 else _TEXT)
        environ = self._environ(scope, call, "GET", f"/{op}", asmx.query_string(values))
        return await self._call_spyne(self.service.apps.http, environ, inline)

    # -- SOAP ---------------------------------------------------------------------------------------------
    async def _soap(self, scope: Scope, body: bytes) -> _Reply:
        headers = Headers(scope=scope)
        content_type = headers.get("content-type", "")
        media, params = _media_type(content_type)
        if media == "application/soap+xml":
            version, action = SoapVersion.SOAP12, params.get("action")
        elif media == "text/xml":
            version, action = SoapVersion.SOAP11, headers.get("soapaction")
        else:
            text = f"Request format is invalid: {media or 'missing Content-Type'}."
            return _fault(SoapVersion.SOAP11, "Client", self.wording.read + text, status=415)
        try:
            root = parse(body)
        except XmlRefused as refused:
            if refused.malformed and self.service.asmx is not None:
                return _Reply(400, b"")  # ASMX answers XML that is not well-formed with 400 and no body
            return _fault(version, "Client", self.wording.read + str(refused))
        checked = self._check_envelope(root, version, action)
        if isinstance(checked, _Reply):
            return checked
        app = self.service.apps.soap12 if version is SoapVersion.SOAP12 else self.service.apps.soap11
        op = etree.QName(checked).localname
        try:
            asmx.check_soap_values(app, op, checked)
        except asmx.BadParameter as bad:
            return _fault(version, "Client", self.wording.read + str(bad))
        values = {etree.QName(c).localname: c.text or "" for c in checked if isinstance(c.tag, str)}
        call = self._call_info(scope, "soap12" if version is SoapVersion.SOAP12 else "soap11")
        inline = self._may_inline(op, values, call, root)
        lane = self.fast if inline else None
        answered = lane.answer(version, op, call, values, checked, root) if lane is not None else None
        if answered is not None:
            status, answer, extra = answered
            return _Reply(
                status, answer, {**_SOAP_HEADERS[version], **dict(extra)} if extra else _SOAP_HEADERS[version]
            )
        environ = self._environ(scope, call, "POST", "/", "", content_type)
        environ[TREE_KEY] = root
        reply = await self._call_spyne(app, environ, inline)
        if reply.status >= 400:
            reply.body = reshape_fault(version, reply.body)
        return reply

    def _check_envelope(self, root: Any, version: SoapVersion, action: str | None) -> Any:
        """The request element of a sound envelope, or the fault that refuses it."""
        qname = etree.QName(root)
        if qname.namespace != version.envelope_ns:
            return _Reply(500, version_mismatch_fault(), {"content-type": SoapVersion.SOAP11.content_type})
        if qname.localname != "Envelope":
            return _fault(version, "Client", self.wording.read + "The root element is not a SOAP Envelope.")
        body = root.find(f"{{{version.envelope_ns}}}Body")
        request = next((child for child in body if isinstance(child.tag, str)), None) if body is not None else None
        if request is None:
            return _fault(version, "Client", self.wording.read + "The SOAP Body holds no request element.")
        header = root.find(f"{{{version.envelope_ns}}}Header")
        refused = None if header is None else not_understood(header, version, self.service.understood_headers)
        if refused is not None:
            return _Reply(500, must_understand_fault(version, refused), _SOAP_HEADERS[version])
        op = etree.QName(request)
        expected = self._actions.get(op.localname) if op.namespace == self.service.tns else None
        if expected is None:
            return _fault(version, "Client", self.wording.unknown_operation.format(element=op.text))
        if self.service.check_soap_action and action is not None:
            action = action.strip().strip('"')
            if action != expected:
                return _fault(version, "Client", self.wording.unknown_action.format(action=action))
        return request

    def _may_inline(self, op: str, values: Mapping[str, str], call: CallInfo, envelope: Any = None) -> bool:
        service = self.service
        hot = op in service.fast_ops or op in service.fast_documents or op in service.inline_ops
        if not self.options.inline_hot_path or not hot or service.credentials is None:
            return False
        creds = service.credentials(op, {k.lower(): v for k, v in values.items()}, call, envelope)
        return creds is not None and self.services.identity.is_verified(creds)

    # -- calling Spyne ------------------------------------------------------------------------------------
    def _call_info(self, scope: Scope, binding: str) -> CallInfo:
        return CallInfo.of(scope, self.services, binding, self.service.channel, self.options.public_url)

    def _environ(
        self, scope: Scope, call: CallInfo, method: str, path: str, query: str, content_type: str = ""
    ) -> dict[str, Any]:
        server = scope.get("server") or ("127.0.0.1", 80)
        return {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": self.service.path,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": content_type or "text/xml",
            "CONTENT_LENGTH": "0",
            "SERVER_NAME": str(server[0]),
            "SERVER_PORT": str(server[1]),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": _EMPTY,
            "wsgi.url_scheme": scope.get("scheme", "http"),
            "wsgi.errors": _NullErrors(),
            CALL_KEY: call,
        }

    async def _call_spyne(self, app: Any, environ: dict[str, Any], inline: bool = False) -> _Reply:
        if inline:
            return call_wsgi(app, environ)  # measured: a thread hop costs more than this whole call
        return await anyio.to_thread.run_sync(call_wsgi, app, environ)


def call_wsgi(app: Callable[..., Any], environ: dict[str, Any]) -> _Reply:
    """One direct WSGI call (no bridge, no per-message thread hops)."""
    status_headers: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        status_headers[:] = [status, headers]
        return lambda _data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = status_headers
    kept = {k.lower(): v for k, v in headers if k.lower() != "content-length"}
    return _Reply(int(status.split(" ", 1)[0]), body, kept)


class _EmptyInput:
    def read(self, *_: Any) -> bytes:
        return b""

    def readline(self, *_: Any) -> bytes:
        return b""


class _NullErrors:
    def write(self, _text: str) -> None:
        return None

    def flush(self) -> None:
        return None


_EMPTY: Final = _EmptyInput()
_XML: Final = {"content-type": "text/xml; charset=utf-8"}
_TEXT: Final = {"content-type": "text/plain; charset=utf-8"}
_SOAP_HEADERS: Final = {version: {"content-type": version.content_type} for version in SoapVersion}
_HTML: Final = {"content-type": "text/html; charset=utf-8"}


_TARGETS: Final = {  # the roles (SOAP 1.1 actors) this node plays: none named, next, the ultimate receiver
    SoapVersion.SOAP11: frozenset({None, "http://schemas.xmlsoap.org/soap/actor/next"}),
    SoapVersion.SOAP12: frozenset({
        None, "http://www.w3.org/2003/05/soap-envelope/role/next",
        "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver",
    }),
}  # fmt: skip
_ROLE: Final = {SoapVersion.SOAP11: "actor", SoapVersion.SOAP12: "role"}


def not_understood(header: Any, version: SoapVersion, understood: frozenset[str]) -> etree.QName | None:
    """The first header block addressed to this node with mustUnderstand set that is not `understood`."""
    ns = version.envelope_ns
    for block in header:
        if not isinstance(block.tag, str) or block.tag in understood:
            continue
        must = (block.get(f"{{{ns}}}mustUnderstand") or "").strip()
        if must in ("1", "true") and block.get(f"{{{ns}}}{_ROLE[version]}") in _TARGETS[version]:
            return etree.QName(block)
    return None


def _media_type(content_type: str) -> tuple[str, dict[str, str]]:
    media, _, rest = content_type.partition(";")
    params = {}
    for item in rest.split(";"):
        key, sep, value = item.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return media.strip().lower(), params


def _fault(version: SoapVersion, code: str, text: str, status: int = 500) -> _Reply:
    return _Reply(status, soap_fault(version, code, text), {"content-type": version.content_type})


def _asmx_error(message: str, kind: str = "InvalidOperationException") -> _Reply:
    return _Reply(500, asmx_exception_text(message, kind).encode(), {"content-type": "text/plain; charset=utf-8"})


__all__ = ["Asmx", "SoapGateway", "SoapRoute", "SoapService"]
