"""The fast lane: a SOAP service's hot operations answered without Spyne's envelope machinery.

Spyne's envelope decomposition, deserialisation, serialisation, context and event plumbing cost more
than the rest of a CancelJob (docs/PERFORMANCE.md). For the operations a dialect lists in
`SoapService.fast_ops`, the gateway, which has already parsed the envelope once and checked every
declared value, calls the very function the Spyne method calls and writes the wrapped response itself.
Those operations, and only those, may run on the event loop, and only with already-verified
credentials (SoapGateway._may_inline); every other call goes through Spyne, and with the lane off
(JOBGATE_FAST_LANE=off) the same operations go through Spyne on the event loop. A result that is a
structure (Birst's StatusResult) is written with the serializer the HTTP bindings use (value_element).
Tests compare the two paths' answers by structure for every binding and outcome.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from lxml import etree
from spyne import ComplexModelBase
from spyne.server.wsgi import WsgiApplication

from jobgate.dialects.common.errors import ErrorTable
from jobgate.dialects.soap.faults import FaultWording, SoapError, SoapVersion, soap_fault
from jobgate.dialects.soap.spyne_apps import (
    XML_DECLARATION,
    MappedFault,
    ParamKind,
    asmx_exception_text,
    internal_fault,
    map_error,
    param_kinds,
    value_element,
)

log = logging.getLogger(__name__)

FastOp = Callable[..., Any]  # (call: CallInfo, **declared parameters, typed) -> the operation's result
# an operation whose request is a structure (Trans-WS' ticket): (call, the request element, the envelope) ->
# the response element, which the dialect builds as its Spyne method's answer reads (tests compare the two)
DocumentOp = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class Shape:
    """What the wire needs to know of one operation: its parameters and its result element."""

    casts: tuple[tuple[str, Callable[[str], Any]], ...]  # declared parameter → text to Python value
    result_name: str | None
    result_cls: Any


def shape_of(app: WsgiApplication, op: str) -> Shape:
    descriptor = app.app.interface.service_method_map[f"{{{app.app.tns}}}{op}"][0]
    results = list(descriptor.out_message._type_info.items())
    name, cls = results[0] if results else (None, None)
    return Shape(tuple((param, _CASTS[kind]) for param, kind in param_kinds(app, op).items()), name, cls)


def _boolean(text: str) -> bool:
    return text.strip().lower() in ("true", "1")


_CASTS: Final[dict[ParamKind, Callable[[str], Any]]] = {
    ParamKind.BOOLEAN: _boolean,
    ParamKind.INT32: int,
    ParamKind.INT64: int,
    ParamKind.TEXT: str,
}


Answer = tuple[int, bytes, tuple[tuple[str, str], ...]]


def _fault(version: SoapVersion, fault: MappedFault) -> Answer:
    """A fault with the status and headers its table row names (a Basic challenge …), as _fault_status sets
    them on the Spyne path."""
    return fault.status, soap_fault(version, fault.faultcode, fault.faultstring), fault.headers


def typed(shape: Shape, values: Mapping[str, str]) -> dict[str, Any]:
    """Declared parameters as Python values (already checked convertible by the gateway)."""
    args: dict[str, Any] = {}
    for name, cast in shape.casts:
        text = values.get(name)
        args[name] = None if text is None else cast(text)
    return args


class FastLane:
    """Answers one service's fast operations; built once at start-up."""

    def __init__(
        self,
        app: WsgiApplication,
        ops: Mapping[str, FastOp],
        errors: ErrorTable[SoapError],
        wording: FaultWording,
        documents: Mapping[str, DocumentOp] | None = None,
    ) -> None:
        self.tns, self.errors, self.wording = app.app.tns, errors, wording
        self.protocol = app.app.out_protocol
        self.ops = dict(ops)
        self.documents = dict(documents or {})
        self.shapes = {op: shape_of(app, op) for op in ops}
        # answers whose result is None, a bool or a small int (CancelJob, GetJobStatus) are the same
        # bytes every time: rendered once each
        self._rendered: dict[tuple[Any, ...], bytes] = {}

    def call(self, op: str, call: Any, values: Mapping[str, str]) -> tuple[Any, MappedFault | None]:
        try:
            return self.ops[op](call, **typed(self.shapes[op], values)), None
        except Exception as exc:  # the same error table the Spyne path applies in call_wrapper
            return None, map_error(self.errors, self.wording, exc, op, call.request_id)

    def answer(
        self, version: SoapVersion, op: str, call: Any, values: Mapping[str, str], request: Any, envelope: Any
    ) -> Answer | None:
        """The lane's answer to `op` (its values, or for a document operation the request element), or None
        when `op` is not on the lane."""
        if op in self.ops:
            return self.soap(version, op, call, values)
        if op in self.documents:
            return self.document(version, op, call, request, envelope)
        return None

    def soap(self, version: SoapVersion, op: str, call: Any, values: Mapping[str, str]) -> Answer:
        """(HTTP status, the envelope, extra headers a fault may carry), as the Spyne path answers."""
        result, fault = self.call(op, call, values)
        if fault is None:
            try:
                return 200, self._memo((version, op, result), self._envelope, version, op, result), ()
            except Exception as exc:  # an answer that cannot be written: ours, as on the Spyne path
                fault = internal_fault(self.wording, exc, op, call.request_id)
        return _fault(version, fault)

    def document(self, version: SoapVersion, op: str, call: Any, request: Any, envelope: Any) -> Answer:
        """A document operation's answer, as soap() gives it."""
        try:
            answer = self.documents[op](call, request, envelope)
        except Exception as exc:  # the same error table the Spyne path applies in call_wrapper
            return _fault(version, map_error(self.errors, self.wording, exc, op, call.request_id))
        return 200, self._wrapped(version, answer), ()

    def _wrapped(self, version: SoapVersion, response: Any) -> bytes:
        """The response element in an envelope of the lane's shape (`soap:`, `tns:`)."""
        ns = version.envelope_ns
        envelope = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap": ns, "tns": self.tns})
        etree.SubElement(envelope, f"{{{ns}}}Body").append(response)
        return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))

    def _envelope(self, version: SoapVersion, op: str, result: Any) -> bytes:
        response = etree.Element(f"{{{self.tns}}}{op}Response")
        shape = self.shapes[op]
        if shape.result_name is None:
            pass
        elif issubclass(shape.result_cls, ComplexModelBase):  # a structure (Birst's StatusResult)
            response.append(
                value_element(shape.result_cls, result, f"{{{self.tns}}}{shape.result_name}", self.protocol)
            )
        else:
            result_element = etree.SubElement(response, f"{{{self.tns}}}{shape.result_name}")
            result_element.text = self.protocol.to_unicode(shape.result_cls, result)
        return self._wrapped(version, response)

    def http(self, op: str, call: Any, values: Mapping[str, str]) -> tuple[int, bytes]:
        result, fault = self.call(op, call, values)
        if fault is None:
            try:
                return 200, self._memo(("http", op, result), self._http_answer, op, result)
            except Exception as exc:
                fault = internal_fault(self.wording, exc, op, call.request_id)
        return 500, asmx_exception_text(fault.message, fault.kind).encode()

    def _http_answer(self, op: str, result: Any) -> bytes:
        shape = self.shapes[op]
        if shape.result_name is None:
            return b""
        tag = f"{{{self.tns}}}{shape.result_cls.get_type_name()}"
        root = value_element(shape.result_cls, result, tag, self.protocol, {None: self.tns})
        return XML_DECLARATION + bytes(etree.tostring(root, encoding="utf-8"))

    def _memo(self, key: tuple[Any, ...], render: Callable[..., bytes], *args: Any) -> bytes:
        result = key[-1]
        if not (result is None or isinstance(result, bool) or (isinstance(result, int) and -1024 <= result <= 1024)):
            return render(*args)
        found: bytes | None = self._rendered.get(key)
        if found is None:
            found = self._rendered[key] = render(*args)
        return found
