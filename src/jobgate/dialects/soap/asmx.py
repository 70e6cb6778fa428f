"""ASMX conventions outside SOAP proper: the operation list, `?op=` help pages with the HTTP POST test
form, `?disco`, and HTTP GET/POST parameter binding; and `?WSDL` with the caller's address, which plain
SOAP services serve too."""

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final
from urllib.parse import quote, urlencode

from lxml import etree
from lxml.html import builder as h
from spyne.server.wsgi import WsgiApplication

from jobgate.dialects.soap.faults import SOAP11_ENV, SOAP12_ENV, XSD, XSI
from jobgate.dialects.soap.spyne_apps import ParamKind, method_params, operation_doc, operation_names, param_kinds

__all__ = ["BadParameter", "Pages", "bind_parameters", "disco", "operation_names", "query_string", "wsdl_for"]

_ADDRESS_NS: Final = ("http://schemas.xmlsoap.org/wsdl/soap/", "http://schemas.xmlsoap.org/wsdl/soap12/",
                      "http://schemas.xmlsoap.org/wsdl/http/")  # fmt: skip
_INTEGER: Final = re.compile(r"^\s*[+-]?\d{1,19}\s*$")
_BOOLEANS: Final = {"true": "true", "1": "true", "false": "false", "0": "false"}


class BadParameter(Exception):
    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def wsdl_for(template: bytes, location: str) -> bytes:
    """The static WSDL with every soap/soap12/http address set to `location`, nothing else changed."""
    root = etree.fromstring(template, etree.XMLParser(resolve_entities=False, no_network=True))
    root = copy.deepcopy(root)
    for ns in _ADDRESS_NS:
        for address in root.iter(f"{{{ns}}}address"):
            address.set("location", location)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def disco(location: str, service: str) -> bytes:
    root = etree.Element(
        "{http://schemas.xmlsoap.org/disco/}discovery", nsmap={None: "http://schemas.xmlsoap.org/disco/"}
    )
    ref = etree.SubElement(root, "{http://schemas.xmlsoap.org/disco/scl/}contractRef",
                           nsmap={None: "http://schemas.xmlsoap.org/disco/scl/"})  # fmt: skip
    ref.set("ref", f"{location}?wsdl")
    ref.set("docRef", location)
    for binding in ("Soap", "Soap12"):
        soap = etree.SubElement(root, "{http://schemas.xmlsoap.org/disco/soap/}soap",
                                nsmap={None: "http://schemas.xmlsoap.org/disco/soap/"})  # fmt: skip
        soap.set("address", location)
        soap.set("binding", f"{service}{binding}")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def bind_parameters(app: WsgiApplication, op: str, pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Match HTTP GET/POST names case-insensitively to the declared ones and convert values as .NET
    would: declared name → value text, in declared order. Unknown names are ignored, as in ASMX."""
    given: dict[str, str] = {}
    for name, value in pairs:
        given.setdefault(name.lower(), value)
    out = {}
    for param in _params(app, op):
        found = given.get(param.lower)
        if found is None:
            raise BadParameter(f"Missing parameter: {param.name}.", "InvalidOperationException")
        out[param.name] = param.convert(found)
    return out


def query_string(values: Mapping[str, str]) -> str:
    """Bound parameters as the query string Spyne's HttpRpc reads."""
    return urlencode(list(values.items()), quote_via=quote)


def check_soap_values(app: WsgiApplication, op: str, request: Any) -> None:
    """The SOAP twin of bind_parameters: every declared value-type element is present (matched by exact
    name, as XmlSerializer does) and convertible, so no None and no overflow reaches the service layer."""
    given = {etree.QName(child).localname: child.text or "" for child in request if isinstance(child.tag, str)}
    for param in _params(app, op):
        if param.kind is ParamKind.TEXT:
            continue  # strings may be left out (null)
        if not given.get(param.name, "").strip():  # left out, empty, or xsi:nil
            raise BadParameter(f"Missing parameter: {param.name}.", "InvalidOperationException")
        param.convert(given[param.name])


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    lower: str
    kind: ParamKind
    convert: Callable[[str], str]  # value text → the text .NET would bind, or BadParameter


@cache
def _params(app: WsgiApplication, op: str) -> tuple[_Param, ...]:
    """An operation's declared parameters with their converters, worked out once per operation."""
    return tuple(_Param(name, name.lower(), kind, _CONVERTERS[kind]) for name, kind in param_kinds(app, op).items())


def _boolean(value: str) -> str:
    converted = _BOOLEANS.get(value.strip().lower())
    if converted is None:
        raise BadParameter(f"Cannot convert {value} to System.Boolean.", "ArgumentException")
    return converted


@dataclass(frozen=True, slots=True)
class _Integer:
    bits: int

    def __call__(self, value: str) -> str:
        limit = 1 << (self.bits - 1)
        if not _INTEGER.match(value) or not -limit <= int(value) < limit:
            raise BadParameter(f"Cannot convert {value} to System.Int{self.bits}.", "ArgumentException")
        return str(int(value))


def _text(value: str) -> str:
    return value


_CONVERTERS: Final[dict[ParamKind, Callable[[str], str]]] = {
    ParamKind.BOOLEAN: _boolean,
    ParamKind.INT32: _Integer(32),
    ParamKind.INT64: _Integer(64),
    ParamKind.TEXT: _text,
}


class Pages:
    """The human side of an ASMX endpoint; built from the Spyne interface, rendered with lxml."""

    def __init__(
        self, name: str, path: str, app: WsgiApplication, description: str, http_bindings: bool, forms: bool = True
    ) -> None:
        self.name, self.path, self.app, self.description, self.http = (
            name,
            path,
            app,
            description,
            http_bindings,
        )
        self.forms = forms  # the Invoke form: over the HTTP POST binding, or ASMX's HttpPostLocalhost
        self.tns = app.app.tns
        self._index = self._render_index()

    def index(self) -> bytes:
        return self._index

    def _render_index(self) -> bytes:
        items = [
            h.LI(h.A(op, href=f"{self.path}?op={op}"), h.BR(), operation_doc(self.app, op))
            for op in operation_names(self.app)
        ]
        body = [
            h.P(self.description),
            h.P(
                "The following operations are supported. For a formal definition, please review the ",
                h.A("Service Description", href=f"{self.path}?WSDL"),
                ".",
            ),
            h.UL(*items),
        ]
        return _page(self.name, body)

    def operation(self, op: str, *, show_form: bool, forms_on: bool) -> bytes:
        params = method_params(self.app, op)
        body: list[Any] = [
            h.P(h.A("Click here for a complete list of operations.", href=self.path)),
            h.H2(op),
            h.P(operation_doc(self.app, op)),
        ]
        if forms_on:
            body += [h.H3("Test"), *self._test_section(op, params, show_form)]
        for title, sample in self._samples(op, params):
            body += [h.H3(title), h.P(f"The following is a sample {title} request and response. "
                                      "The placeholders shown need to be replaced with actual values."),
                     h.PRE(sample)]  # fmt: skip
        return _page(self.name, body)

    def _test_section(self, op: str, params: dict[str, Any], show_form: bool) -> list[Any]:
        if not (show_form and self.forms):
            return [h.P("The test form is only available for requests from the local machine.")]
        rows = [h.TR(h.TD(f"{name}:"), h.TD(h.INPUT(type="text", name=name, id=f"param-{name}"))) for name in params]
        form = h.FORM(
            h.TABLE(
                h.TR(h.TD("Parameter"), h.TD("Value")),
                *rows,
                h.TR(h.TD(), h.TD(h.INPUT(type="submit", value="Invoke", id="invoke"))),
            ),
            action=f"{self.path}/{op}",
            method="POST",
            target="_blank",
            enctype="application/x-www-form-urlencoded",
        )
        return [h.P("To test the operation using the HTTP POST protocol, click the 'Invoke' button."), form]

    def _samples(self, op: str, params: dict[str, Any]) -> list[tuple[str, str]]:
        samples = []
        for title, ns in (("SOAP 1.1", SOAP11_ENV), ("SOAP 1.2", SOAP12_ENV)):
            envelope = etree.Element(
                f"{{{ns}}}Envelope",
                nsmap={"xsi": XSI, "xsd": XSD, "soap" if ns == SOAP11_ENV else "soap12": ns},
            )
            request = etree.SubElement(etree.SubElement(envelope, f"{{{ns}}}Body"), op, nsmap={None: self.tns})
            request.tag = f"{{{self.tns}}}{op}"
            for name, cls in params.items():
                etree.SubElement(request, f"{{{self.tns}}}{name}").text = cls.get_type_name()
            text = etree.tostring(envelope, pretty_print=True, xml_declaration=True, encoding="utf-8").decode()
            samples.append((title, f"POST {self.path} HTTP/1.1\n\n{text}"))
        if self.http:
            query = "&".join(f"{name}=string" for name in params)
            samples.append(("HTTP GET", f"GET {self.path}/{op}?{query} HTTP/1.1"))
            samples.append(("HTTP POST", f"POST {self.path}/{op} HTTP/1.1\n"
                                         f"Content-Type: application/x-www-form-urlencoded\n\n{query}"))  # fmt: skip
        return samples


def _page(title: str, body: list[Any]) -> bytes:
    page = h.HTML(
        h.HEAD(h.META(charset="utf-8"), h.TITLE(f"{title} Web Service")),
        h.BODY(h.H1(title), *body),
    )
    return b"<!DOCTYPE html>\n" + bytes(etree.tostring(page, method="html", encoding="utf-8"))
