"""SOAP faults: the wire form of a dialect's errors (its ErrorTable rows), the wording conventions of a
service (ASMX or plain SOAP), and the fault writer for refusals the gateway answers before any operation runs."""

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final

from lxml import etree

from jobgate.dialects.common.xml import xml_text

SOAP11_ENV: Final = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV: Final = "http://www.w3.org/2003/05/soap-envelope"
XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
XSD: Final = "http://www.w3.org/2001/XMLSchema"
XML_NS: Final = "http://www.w3.org/XML/1998/namespace"


class SoapVersion(Enum):
    SOAP11 = (SOAP11_ENV, "text/xml; charset=utf-8")
    SOAP12 = (SOAP12_ENV, "application/soap+xml; charset=utf-8")

    @property
    def envelope_ns(self) -> str:
        return self.value[0]

    @property
    def content_type(self) -> str:
        return self.value[1]


@dataclass(frozen=True, slots=True)
class SoapError:
    """A SOAP fault: code `Client…` or `Server…` (Spyne maps them to Sender/Receiver for SOAP 1.2), sent
    with HTTP 500 unless `status` says otherwise (a 401 that carries a Basic challenge in `headers`)."""

    code: str
    text: Callable[[BaseException], str]
    status: int = 500
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class FaultWording:
    """How a service words its faults. ASMX puts a fixed phrase before every message (the .NET exception
    chain); a plain SOAP service says only the message."""

    server: str  # before the message of an error an operation raised
    read: str  # before the message of a request that could not be read
    unknown_operation: str  # {element}: a request element the service has no operation for
    unknown_action: str  # {action}: a SOAPAction naming another operation than the body


ASMX_WORDING: Final = FaultWording(
    server="Server was unable to process request. ---> ",
    read="Server was unable to read request. ---> ",
    unknown_operation="Server did not recognize the value of request element: {element}.",
    unknown_action="Server did not recognize the value of HTTP Header SOAPAction: {action}.",
)
PLAIN_WORDING: Final = FaultWording(
    server="",
    read="",
    unknown_operation="Unknown operation: {element}.",
    unknown_action="The SOAPAction {action} names another operation than the request element.",
)


_CODES_12: Final = {
    "Client": "Sender",
    "Server": "Receiver",
    "VersionMismatch": "VersionMismatch",
    "MustUnderstand": "MustUnderstand",
}


def soap_fault(version: SoapVersion, code: str, text: str) -> bytes:
    """A fault envelope in jobgate's one shape (`soap:` prefix, empty detail); `code` is Client, Server or
    VersionMismatch, with an optional dotted subcode (`Client.ValidationError`: a SOAP 1.2 Subcode)."""
    code, _, subcode = code.partition(".")
    text = xml_text(text)  # a refusal may quote what the client sent
    ns = version.envelope_ns
    envelope = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap": ns, "xsi": XSI, "xsd": XSD})
    fault = etree.SubElement(etree.SubElement(envelope, f"{{{ns}}}Body"), f"{{{ns}}}Fault")
    if version is SoapVersion.SOAP11:
        etree.SubElement(fault, "faultcode").text = f"soap:{code}" + (f".{subcode}" if subcode else "")
        etree.SubElement(fault, "faultstring").text = text
        etree.SubElement(fault, "detail")
    else:
        code_element = etree.SubElement(fault, f"{{{ns}}}Code")
        etree.SubElement(code_element, f"{{{ns}}}Value").text = f"soap:{_CODES_12[code]}"
        if subcode:
            subcode_element = etree.SubElement(code_element, f"{{{ns}}}Subcode")
            etree.SubElement(subcode_element, f"{{{ns}}}Value").text = subcode
        reason = etree.SubElement(etree.SubElement(fault, f"{{{ns}}}Reason"), f"{{{ns}}}Text")
        reason.set(f"{{{XML_NS}}}lang", "en")
        reason.text = text
        etree.SubElement(fault, f"{{{ns}}}Detail")
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


_FAULT_PARSER: Final = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def reshape_fault(version: SoapVersion, body: bytes) -> bytes:
    """Spyne's fault (`soap11env:` prefixes, an empty faultactor) rewritten in the one shape every jobgate
    fault has; anything that is not a fault is returned as it is. Only Spyne's own output is read."""
    ns = version.envelope_ns
    root = etree.fromstring(body, _FAULT_PARSER)
    fault = root.find(f"{{{ns}}}Body/{{{ns}}}Fault")
    if fault is None:
        return body
    if version is SoapVersion.SOAP11:
        code, text = fault.findtext("faultcode") or "", fault.findtext("faultstring") or ""
    else:
        value = fault.findtext(f"{{{ns}}}Code/{{{ns}}}Value") or ""
        subcode = fault.findtext(f"{{{ns}}}Code/{{{ns}}}Subcode/{{{ns}}}Value")
        code = {"Sender": "Client", "Receiver": "Server"}.get(value.rpartition(":")[2], "Server")
        code += f".{subcode.rpartition(':')[2]}" if subcode else ""
        text = fault.findtext(f"{{{ns}}}Reason/{{{ns}}}Text") or ""
    return soap_fault(version, code.rpartition(":")[2], text)


def version_mismatch_fault() -> bytes:
    """SOAP 1.2 Part 1 App. A: a mismatch is answered with a SOAP 1.1 VersionMismatch fault carrying an
    Upgrade header that lists the envelopes this endpoint supports."""
    envelope = etree.fromstring(soap_fault(SoapVersion.SOAP11, "VersionMismatch", _MISMATCH_TEXT))
    header = etree.Element(f"{{{SOAP11_ENV}}}Header")
    upgrade = etree.SubElement(header, f"{{{SOAP12_ENV}}}Upgrade", nsmap={"upg": SOAP12_ENV})
    for qname in ("upg:Envelope", "soap:Envelope"):  # prefixes in scope: upg = SOAP 1.2, soap = SOAP 1.1
        etree.SubElement(upgrade, f"{{{SOAP12_ENV}}}SupportedEnvelope").set("qname", qname)
    envelope.insert(0, header)
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


def must_understand_fault(version: SoapVersion, header: etree.QName) -> bytes:
    """A header block addressed to this node with mustUnderstand set that the service does not process
    (SOAP 1.1 §4.2.3, SOAP 1.2 Part 1 §5.4.8: 1.2 also names it in a NotUnderstood header block)."""
    text = f"SOAP header {header.localname} was not understood."
    if version is SoapVersion.SOAP11:
        return soap_fault(version, "MustUnderstand", text)
    envelope = etree.fromstring(soap_fault(version, "MustUnderstand", text))
    ns = version.envelope_ns
    header_element = etree.Element(f"{{{ns}}}Header")
    nsmap = {"nu": header.namespace} if header.namespace else None
    block = etree.SubElement(header_element, f"{{{ns}}}NotUnderstood", nsmap=nsmap)
    block.set("qname", f"nu:{header.localname}" if header.namespace else header.localname)
    envelope.insert(0, header_element)
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


_MISMATCH_TEXT: Final = "The envelope's namespace does not match the SOAP version of the request's Content-Type."
