"""Spyne, wired once per SOAP service: SOAP 1.1, SOAP 1.2 and HttpRpc applications over the same
service classes, with the error table applied in one place (`call_wrapper`), the gateway's parsed
tree handed to Spyne (no second parse), and, for ASMX services, ASMX-shaped HTTP GET/POST output."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cache
from http import HTTPStatus
from typing import Any, Final

from lxml import etree
from spyne import Application, ComplexModelBase, Fault, ServiceBase
from spyne import const as spyne_const
from spyne.model import Array, ModelBase
from spyne.model.primitive import Boolean, Integer32, Long
from spyne.protocol.http import HttpRpc
from spyne.protocol.soap import Soap11, Soap12
from spyne.server.wsgi import WsgiApplication

from jobgate.dialects.common.errors import ErrorTable
from jobgate.dialects.common.xml import xml_text
from jobgate.dialects.soap.faults import ASMX_WORDING, XSD, XSI, FaultWording, SoapError

log = logging.getLogger(__name__)

TREE_KEY: Final = "jobgate.tree"  # environ key: the root element the gateway parsed
CALL_KEY: Final = "jobgate.call"  # environ key: the per-request CallInfo handed to service methods


class MappedFault(Fault):  # type: ignore[misc]
    """A fault made from a domain error; keeps the plain message for the ASMX HTTP error body."""

    def __init__(
        self,
        code: str,
        faultstring: str,
        message: str,
        kind: str,
        status: int = 500,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(faultcode=code, faultstring=faultstring)
        self.message, self.kind, self.status, self.headers = message, kind, status, headers


class _PreParsed:
    """Mixin for Soap11/Soap12: take the envelope the gateway already parsed instead of the bytes."""

    def create_in_document(self, ctx: Any, charset: str | None = None) -> None:
        ctx.in_document = (ctx.transport.req[TREE_KEY], {})


class _XmlText:
    """Mixin for Spyne's output protocols: every value written as text passes xml_text (common/xml.py)."""

    def to_unicode(self, cls: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        text = super().to_unicode(cls, value, *args, **kwargs)  # type: ignore[misc]
        return xml_text(text) if isinstance(text, str) else text


class _OwnEnvelope:
    """Mixin for Spyne's SOAP output: the envelope in jobgate's one shape, `soap:` for the envelope and `tns:`
    for the service, as the fast lane and the faults write it (Spyne's own `soap11env:`/`soap12env:`, and
    every prefix it knows, would name the library in every answer). The parts move over unchanged."""

    def create_out_string(self, ctx: Any, charset: str | None = None) -> None:
        document = ctx.out_document
        if document is not None:
            ns = document.nsmap.get(document.prefix) or etree.QName(document).namespace
            envelope = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap": ns, "tns": ctx.app.tns})
            for part in document:  # Header, Body
                etree.SubElement(envelope, part.tag, part.attrib).extend(list(part))
            ctx.out_document = envelope
        super().create_out_string(ctx, charset)  # type: ignore[misc]


class OutSoap11(_XmlText, _OwnEnvelope, Soap11):  # type: ignore[misc]
    pass


class OutSoap12(_XmlText, _OwnEnvelope, Soap12):  # type: ignore[misc]
    pass


class OutHttpRpc(_XmlText, HttpRpc):  # type: ignore[misc]
    pass


class PreParsedSoap11(_PreParsed, Soap11):  # type: ignore[misc]
    pass


class PreParsedSoap12(_PreParsed, Soap12):  # type: ignore[misc]
    pass


class _MappedApplication(Application):  # type: ignore[misc]
    """Applies the dialect's error table once, around every service method."""

    errors: ErrorTable[SoapError]
    wording: FaultWording

    def call_wrapper(self, ctx: Any) -> Any:
        try:
            return super().call_wrapper(ctx)
        except Fault:
            raise
        except Exception as exc:
            raise self.fault_for(exc, ctx) from None

    def fault_for(self, exc: Exception, ctx: Any) -> MappedFault:
        operation = ctx.descriptor.name if ctx.descriptor is not None else None
        return map_error(self.errors, self.wording, exc, operation, getattr(ctx.udc, "request_id", "-"))


def map_error(
    errors: ErrorTable[SoapError], wording: FaultWording, exc: Exception, operation: str | None, request_id: str
) -> MappedFault:
    """The one place an operation's error becomes a fault: the table's row, or a generic server fault
    that quotes the request id (the detail goes to the log under that id, never to the client)."""
    wire = errors.lookup(exc, operation)
    if wire is None:
        return internal_fault(wording, exc, operation, request_id)
    message = xml_text(wire.text(exc))  # an error may quote what the client sent
    prefix = wording.server if wire.code.startswith("Server") else ""
    return MappedFault(wire.code, prefix + message, message, type(exc).__name__, wire.status, wire.headers)


def internal_fault(wording: FaultWording, exc: BaseException, operation: str | None, request_id: str) -> MappedFault:
    """Our own fault, never the client's: logged with its traceback under the request id, which the answer
    quotes (and nothing else of it)."""
    log.error("unhandled error in %s (request id %s)", operation, request_id, exc_info=exc)
    message = f"An internal error occurred; quote request id {request_id}."
    return MappedFault("Server", wording.server + message, message, "InternalError")


def _unwritten(ctx: Any, exc: Exception) -> None:
    """An answer that could not be written becomes the internal fault, in the binding's shape."""
    app = ctx.app
    operation = ctx.descriptor.name if ctx.descriptor is not None else None
    ctx.out_error = internal_fault(app.wording, exc, operation, getattr(ctx.udc, "request_id", "-"))
    ctx.out_document = ctx.out_string = ctx.out_body_doc = None
    ctx.transport.resp_code = "500 Internal Server Error"
    ctx.fire_event("method_exception_object")


class _Answering(WsgiApplication):  # type: ignore[misc]
    """Spyne answers a response it fails to serialize with the half-written envelope and HTTP 200; here it
    becomes the internal fault, logged under the request id."""

    def get_out_string(self, ctx: Any) -> None:
        try:
            super().get_out_string(ctx)
        except Exception as exc:
            _unwritten(ctx, exc)
            super().get_out_string(ctx)


def _inject_call(ctx: Any) -> None:
    ctx.udc = ctx.transport.req[CALL_KEY]


@dataclass(frozen=True)
class SpyneApps:
    soap11: WsgiApplication
    soap12: WsgiApplication
    http: WsgiApplication


def without_forced_collections() -> None:
    """Spyne's MethodContext.close() runs a full gc.collect() once a second inside a request, to release
    SOAP-with-attachments file handles; jobgate takes no attachments, and each forced collection stalled a
    request by tens of milliseconds (the p99 of every SOAP call). A process-wide Spyne setting: the
    composition root calls this once, before it serves."""
    spyne_const.MIN_GC_INTERVAL = float("inf")


def build_apps(
    services: Sequence[type[ServiceBase]],
    tns: str,
    name: str,
    errors: ErrorTable[SoapError],
    wording: FaultWording = ASMX_WORDING,
) -> SpyneApps:
    """Three Applications over the same services, one per binding; built once at start-up. The HttpRpc one
    serves ASMX's HTTP GET/POST bindings, for the services that have them."""

    def make(in_protocol: Any, out_protocol: Any) -> WsgiApplication:
        app = _MappedApplication(list(services), tns=tns, name=name, in_protocol=in_protocol, out_protocol=out_protocol)
        app.errors, app.wording = errors, wording
        app.event_manager.add_listener("method_call", _inject_call)
        return _Answering(app)

    http = make(HttpRpc(validator="soft"), OutHttpRpc())
    http.app.event_manager.add_listener("method_return_object", _asmx_http_result)
    http.app.event_manager.add_listener("method_exception_object", _asmx_http_error)
    # the gateway checks every declared value before Spyne sees it (asmx.check_soap_values), so no None or
    # overflow reaches the service layer; Spyne's own cast errors still get the service's wording
    soap11, soap12 = make(PreParsedSoap11(), OutSoap11()), make(PreParsedSoap12(), OutSoap12())
    for app in (soap11, soap12):
        app.app.event_manager.add_listener("method_exception_object", _fault_status)
        if wording.read:
            app.app.event_manager.add_listener("method_exception_object", _reading_error(wording.read))
    return SpyneApps(soap11, soap12, http)


def _fault_status(ctx: Any) -> None:
    """A mapped fault whose table row names another HTTP status than 500 (and headers, such as a Basic
    challenge) is sent with them; Spyne keeps a status set before it picks its own."""
    error = ctx.out_error
    if isinstance(error, MappedFault) and error.status != 500:
        ctx.transport.resp_code = f"{error.status} {HTTPStatus(error.status).phrase}"
        ctx.transport.resp_headers.update(error.headers)


def _reading_error(prefix: str) -> Any:
    def reword(ctx: Any) -> None:
        """Spyne's request-reading faults, in the service's words (the code stays Client, Sender in 1.2)."""
        error = ctx.out_error
        code = getattr(error, "faultcode", "")
        if not code.startswith("Client") or isinstance(error, MappedFault) or error.faultstring.startswith(prefix):
            return
        error.faultstring = prefix + error.faultstring

    return reword


# -- ASMX HTTP GET/POST output --------------------------------------------------------------------------


XML_DECLARATION: Final = b'<?xml version="1.0" encoding="utf-8"?>\n'  # as ASMX writes it (double quotes)


def _asmx_http_result(ctx: Any) -> None:
    """`<long xmlns="tns">42</long>`, `<ArrayOfCJJob …>…`, or an empty body for void (ASMX HttpGet/HttpPost);
    an answer that cannot be written is the internal error."""
    try:
        _write_asmx_http_result(ctx)
    except Exception as exc:
        _unwritten(ctx, exc)


def _write_asmx_http_result(ctx: Any) -> None:
    ctx.transport.resp_headers["Content-Type"] = "text/xml; charset=utf-8"
    fields = list(ctx.descriptor.out_message._type_info.values())
    if not fields:
        ctx.out_string = [b""]
        return
    cls = fields[0]
    value = ctx.out_object[0] if ctx.out_object else None
    tns = ctx.app.tns
    scalar = not issubclass(cls, ComplexModelBase)
    nsmap: dict[str | None, str] = {None: tns} if scalar else {"xsi": XSI, "xsd": XSD, None: tns}
    root = value_element(cls, value, f"{{{tns}}}{cls.get_type_name()}", ctx.out_protocol, nsmap)
    ctx.out_string = [XML_DECLARATION + etree.tostring(root, encoding="utf-8", pretty_print=not scalar)]


def value_element(cls: Any, value: Any, tag: str, protocol: Any, nsmap: dict[str | None, str] | None = None) -> Any:
    """Serialize a Spyne-typed value into one element, in the service namespace (no Spyne XML protocol)."""
    element = etree.Element(tag, nsmap=nsmap) if nsmap else etree.Element(tag)
    _fill(element, cls, value, tag[1 : tag.index("}")], protocol)
    return element


def _fill(element: Any, cls: Any, value: Any, ns: str, protocol: Any) -> None:
    kind, members = _layout(cls, ns)
    if value is None:
        element.set(_NIL, "true")
    elif kind is _Kind.ARRAY:
        ((tag, item_cls),) = members
        for item in value:
            _fill(etree.SubElement(element, tag), item_cls, item, ns, protocol)
    elif kind is _Kind.STRUCTURE:
        for name, tag, field_cls in members:
            field = getattr(value, name, None)
            if field is not None:  # XmlSerializer omits null members
                _fill(etree.SubElement(element, tag), field_cls, field, ns, protocol)
    else:
        element.text = protocol.to_unicode(cls, value)


class _Kind(Enum):
    SCALAR = "scalar"
    ARRAY = "array"
    STRUCTURE = "structure"


_NIL: Final = f"{{{XSI}}}nil"


@cache
def _layout(cls: Any, ns: str) -> tuple[_Kind, tuple[Any, ...]]:
    """What value_element writes for a type, worked out once: an array's item (tag, type), a structure's
    members (name, tag, type) in order, or nothing for a scalar."""
    if issubclass(cls, Array):
        (item_name, item_cls), *_ = cls._type_info.items()
        return _Kind.ARRAY, ((f"{{{ns}}}{item_name}", item_cls),)
    if issubclass(cls, ComplexModelBase):
        members = tuple((name, f"{{{ns}}}{name}", field) for name, field in cls.get_flat_type_info(cls).items())
        return _Kind.STRUCTURE, members
    return _Kind.SCALAR, ()


def _asmx_http_error(ctx: Any) -> None:
    """ASMX answers every HTTP GET/POST error with 500 and the exception's text (casjobs.md, Errors)."""
    error = ctx.out_error
    if isinstance(error, MappedFault):
        body = asmx_exception_text(error.message, error.kind)
    else:  # a request Spyne itself could not read
        body = asmx_exception_text(getattr(error, "faultstring", "Bad request."), "InvalidRequest")
    ctx.transport.resp_code = "500 Internal Server Error"
    ctx.transport.resp_headers["Content-Type"] = "text/plain; charset=utf-8"
    ctx.out_string = [body.encode()]


def asmx_exception_text(message: str, kind: str) -> str:
    """One `--->`, so the casjobs client's `System.Exception: *(?P<msg>.*) *--->` yields the message."""
    return (
        f"System.Exception: {message} ---> jobgate.{kind}: {message}\r\n   --- End of inner exception stack trace ---"
    )


@cache
def method_params(app: WsgiApplication, op: str) -> dict[str, type[ModelBase]]:
    """An operation's declared parameters, in order (HTTP GET/POST names are matched against these).
    Cached: applications are built once at start-up; callers must not change the dict."""
    descriptor = app.app.interface.service_method_map[f"{{{app.app.tns}}}{op}"][0]
    return dict(descriptor.in_message._type_info)


class ParamKind(Enum):
    """The .NET value kind ASMX binds a declared parameter to."""

    BOOLEAN = "System.Boolean"
    INT32 = "System.Int32"
    INT64 = "System.Int64"
    TEXT = "System.String"


@cache
def param_kinds(app: WsgiApplication, op: str) -> dict[str, ParamKind]:
    """An operation's declared parameters with their value kinds, in order; worked out once per operation
    (the HTTP binding converts by them, the fast lane casts by them)."""
    return {name: _kind(cls) for name, cls in method_params(app, op).items()}


def _kind(cls: type[ModelBase]) -> ParamKind:
    if issubclass(cls, Boolean):
        return ParamKind.BOOLEAN
    if issubclass(cls, Integer32):
        return ParamKind.INT32
    if issubclass(cls, Long):
        return ParamKind.INT64
    return ParamKind.TEXT


def operation_names(app: WsgiApplication) -> list[str]:
    tns = app.app.tns
    return sorted(key[len(tns) + 2 :] for key in app.app.interface.service_method_map if key.startswith(f"{{{tns}}}"))


def operation_doc(app: WsgiApplication, op: str) -> str:
    descriptor = app.app.interface.service_method_map[f"{{{app.app.tns}}}{op}"][0]
    return " ".join((descriptor.doc or "").split())
