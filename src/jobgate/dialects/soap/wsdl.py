"""WSDL from a Spyne interface: Spyne's own schema (so the contract is exactly what Spyne reads and
writes) plus ASMX-style messages, port types, bindings (Soap, Soap12, and for ASMX services HttpGet and
HttpPost) and the service element. `make wsdl` writes the result to wsdl/; the gateway serves those files."""

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from lxml import etree
from spyne.server.wsgi import WsgiApplication

from jobgate.dialects.soap.spyne_apps import SpyneApps, method_params, operation_doc, operation_names

WSDL: Final = "http://schemas.xmlsoap.org/wsdl/"
SOAP: Final = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP12: Final = "http://schemas.xmlsoap.org/wsdl/soap12/"
HTTP: Final = "http://schemas.xmlsoap.org/wsdl/http/"
MIME: Final = "http://schemas.xmlsoap.org/wsdl/mime/"
XS: Final = "http://www.w3.org/2001/XMLSchema"
PLACEHOLDER: Final = "http://localhost/service.asmx"


def asmx_action(tns: str) -> Callable[[str], str]:
    """ASMX's soapAction: the namespace and the operation, joined by one slash."""
    return lambda op: f"{tns}{op}" if tns.endswith("/") else f"{tns}/{op}"


@dataclass(frozen=True, slots=True)
class _Operation:
    name: str  # the WSDL operation
    key: str  # Spyne's routing key: the request element's local name
    request: str  # the request element
    response: str  # the response element


def _operations(app: WsgiApplication) -> list[_Operation]:
    """Each operation with its elements: `Op`/`OpResponse` for wrapped ASMX operations, the declared message
    names for bare ones (Trans-WS `cancelJob`: `cancelJobRequest`/`cancelJobResponse`)."""
    found = []
    for key in operation_names(app):
        descriptor = app.app.interface.service_method_map[f"{{{app.app.tns}}}{key}"][0]
        found.append(_Operation(descriptor.operation_name, key, descriptor.in_message.get_type_name(),
                                descriptor.out_message.get_type_name()))  # fmt: skip
    return sorted(found, key=lambda op: op.name)


def build_wsdl(
    apps: SpyneApps, name: str, tns: str, http_bindings: bool, soap_action: Callable[[str], str] | None = None
) -> bytes:
    """The service's WSDL: SOAP 1.1 and 1.2 bindings (and ASMX's HTTP ones); `soap_action` gives each
    operation's soapAction (ASMX's `<tns>/<op>` unless told)."""
    action = soap_action or asmx_action(tns)
    schema = _spyne_schema(apps.soap11)
    root = etree.Element(f"{{{WSDL}}}definitions", nsmap={
        "wsdl": WSDL, "soap": SOAP, "soap12": SOAP12, "http": HTTP, "mime": MIME, "xs": XS, "tns": tns,
    })  # fmt: skip
    root.set("targetNamespace", tns)
    ops = _operations(apps.soap11)
    result_types = {op.name: _result_type(apps.soap11, op.key) for op in ops}
    if http_bindings:
        _add_http_elements(schema, tns, {t for t in result_types.values() if t})
    etree.SubElement(root, f"{{{WSDL}}}types").append(schema)
    bindings = ["Soap", "Soap12"] + (["HttpGet", "HttpPost"] if http_bindings else [])
    _messages(root, apps.soap11, ops, result_types, bindings)
    for kind in bindings:
        _port_type(root, apps.soap11, name, ops, "Soap" if kind == "Soap12" else kind)
    for kind in bindings:
        _binding(root, name, ops, kind, action)
    service = etree.SubElement(root, f"{{{WSDL}}}service", name=name)
    for kind in bindings:
        port = etree.SubElement(service, f"{{{WSDL}}}port", name=f"{name}{kind}", binding=f"tns:{name}{kind}")
        ns = {"Soap": SOAP, "Soap12": SOAP12}.get(kind, HTTP)
        etree.SubElement(port, f"{{{ns}}}address", location=PLACEHOLDER)
    return bytes(etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="utf-8"))


def _spyne_schema(app: WsgiApplication) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app.doc.wsdl11.build_interface_document(PLACEHOLDER)
        document = app.doc.wsdl11.get_interface_document()
    parsed = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
    schema = parsed.find(f"{{{WSDL}}}types/{{{XS}}}schema")
    assert schema is not None
    # Spyne emits types in an order that varies between processes: sort them, so `make wsdl` is reproducible
    order = {f"{{{XS}}}import": 0, f"{{{XS}}}simpleType": 1, f"{{{XS}}}complexType": 2, f"{{{XS}}}element": 3}
    children = sorted(schema, key=lambda child: (order.get(child.tag, 4), child.get("name") or ""))
    schema[:] = children
    return schema


def _result_type(app: WsgiApplication, op: str) -> str | None:
    descriptor = app.app.interface.service_method_map[f"{{{app.app.tns}}}{op}"][0]
    fields = list(descriptor.out_message._type_info.values())
    return fields[0].get_type_name() if fields else None


_PRIMITIVES: Final = {"long", "int", "string", "boolean", "dateTime"}


def _add_http_elements(schema: Any, tns: str, type_names: set[str]) -> None:
    """ASMX's HTTP bindings answer with a root element named after the result type (`<long>`)."""
    declared = {e.get("name") for e in schema.findall(f"{{{XS}}}element")}
    for type_name in sorted(type_names - declared):
        xs_type = f"xs:{type_name}" if type_name in _PRIMITIVES else f"tns:{type_name}"
        element = etree.SubElement(schema, f"{{{XS}}}element", name=type_name, type=xs_type)
        if type_name == "string" or type_name not in _PRIMITIVES:
            element.set("nillable", "true")


def _messages(
    root: Any, app: WsgiApplication, ops: list[_Operation], results: dict[str, str | None], kinds: list[str]
) -> None:
    for op in ops:
        for direction, element in (("In", op.request), ("Out", op.response)):
            message = etree.SubElement(root, f"{{{WSDL}}}message", name=f"{op.name}Soap{direction}")
            etree.SubElement(message, f"{{{WSDL}}}part", name="parameters", element=f"tns:{element}")
    for kind in (k for k in kinds if k.startswith("Http")):
        for op in ops:
            message = etree.SubElement(root, f"{{{WSDL}}}message", name=f"{op.name}{kind}In")
            for param in method_params(app, op.key):
                etree.SubElement(message, f"{{{WSDL}}}part", name=param, type="xs:string")
            out = etree.SubElement(root, f"{{{WSDL}}}message", name=f"{op.name}{kind}Out")
            if results[op.name]:
                etree.SubElement(out, f"{{{WSDL}}}part", name="Body", element=f"tns:{results[op.name]}")


def _port_type(root: Any, app: WsgiApplication, name: str, ops: list[_Operation], kind: str) -> None:
    if root.find(f"{{{WSDL}}}portType[@name='{name}{kind}']") is not None:
        return
    port_type = etree.SubElement(root, f"{{{WSDL}}}portType", name=f"{name}{kind}")
    for op in ops:
        operation = etree.SubElement(port_type, f"{{{WSDL}}}operation", name=op.name)
        etree.SubElement(operation, f"{{{WSDL}}}documentation").text = operation_doc(app, op.key)
        etree.SubElement(operation, f"{{{WSDL}}}input", message=f"tns:{op.name}{kind}In")
        etree.SubElement(operation, f"{{{WSDL}}}output", message=f"tns:{op.name}{kind}Out")


def _binding(root: Any, name: str, ops: list[_Operation], kind: str, action: Callable[[str], str]) -> None:
    port_type = "Soap" if kind == "Soap12" else kind
    binding = etree.SubElement(root, f"{{{WSDL}}}binding", name=f"{name}{kind}", type=f"tns:{name}{port_type}")
    if kind.startswith("Soap"):
        ns = SOAP if kind == "Soap" else SOAP12
        etree.SubElement(binding, f"{{{ns}}}binding", transport="http://schemas.xmlsoap.org/soap/http")
    else:
        etree.SubElement(binding, f"{{{HTTP}}}binding", verb="GET" if kind == "HttpGet" else "POST")
    for op in ops:
        operation = etree.SubElement(binding, f"{{{WSDL}}}operation", name=op.name)
        if kind.startswith("Soap"):
            ns = SOAP if kind == "Soap" else SOAP12
            etree.SubElement(operation, f"{{{ns}}}operation", soapAction=action(op.name), style="document")
            for direction in ("input", "output"):
                etree.SubElement(etree.SubElement(operation, f"{{{WSDL}}}{direction}"), f"{{{ns}}}body", use="literal")
            continue
        etree.SubElement(operation, f"{{{HTTP}}}operation", location=f"/{op.name}")
        request = etree.SubElement(operation, f"{{{WSDL}}}input")
        if kind == "HttpGet":
            etree.SubElement(request, f"{{{HTTP}}}urlEncoded")
        else:
            etree.SubElement(request, f"{{{MIME}}}content", type="application/x-www-form-urlencoded")
        etree.SubElement(etree.SubElement(operation, f"{{{WSDL}}}output"), f"{{{MIME}}}mimeXml", part="Body")
