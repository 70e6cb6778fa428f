"""Error tables (error class → wire error, looked up along the MRO) and the SOAP fault writer
the gateway uses for refusals it answers itself, before any operation runs."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final, Generic, TypeVar

from lxml import etree

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

    @classmethod
    def of_namespace(cls, ns: str | None) -> "SoapVersion | None":
        return next((v for v in cls if v.envelope_ns == ns), None)


W = TypeVar("W")


class ErrorTable(Generic[W]):
    """Maps an exception to its wire form by walking `type(exc).__mro__`, as Starlette's handlers do."""

    def __init__(
        self,
        rows: Mapping[type[BaseException], W],
        overrides: Mapping[tuple[str, type[BaseException]], W] | None = None,
    ) -> None:
        self._rows, self._overrides = dict(rows), dict(overrides or {})

    def lookup(self, exc: BaseException, operation: str | None = None) -> W | None:
        """The wire error for `exc`; a per-operation override row wins over the general one."""
        for cls in type(exc).__mro__:
            if operation is not None and (operation, cls) in self._overrides:
                return self._overrides[(operation, cls)]
            if cls in self._rows:
                return self._rows[cls]
        return None

    def __contains__(self, cls: type[BaseException]) -> bool:
        return cls in self._rows


@dataclass(frozen=True, slots=True)
class SoapError:
    """A SOAP fault: code `Client…` or `Server…` (Spyne maps them to Sender/Receiver for SOAP 1.2)."""

    code: str
    text: Callable[[BaseException], str]


_CODES_12: Final = {"Client": "Sender", "Server": "Receiver", "VersionMismatch": "VersionMismatch"}


def soap_fault(version: SoapVersion, code: str, text: str) -> bytes:
    """An ASMX-shaped fault envelope; `code` is Client, Server or VersionMismatch."""
    ns = version.envelope_ns
    envelope = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap": ns, "xsi": XSI, "xsd": XSD})
    fault = etree.SubElement(etree.SubElement(envelope, f"{{{ns}}}Body"), f"{{{ns}}}Fault")
    if version is SoapVersion.SOAP11:
        etree.SubElement(fault, "faultcode").text = f"soap:{code}"
        etree.SubElement(fault, "faultstring").text = text
        etree.SubElement(fault, "detail")
    else:
        value = etree.SubElement(etree.SubElement(fault, f"{{{ns}}}Code"), f"{{{ns}}}Value")
        value.text = f"soap:{_CODES_12[code]}"
        reason = etree.SubElement(etree.SubElement(fault, f"{{{ns}}}Reason"), f"{{{ns}}}Text")
        reason.set(f"{{{XML_NS}}}lang", "en")
        reason.text = text
        etree.SubElement(fault, f"{{{ns}}}Detail")
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


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


_MISMATCH_TEXT: Final = "The envelope's namespace does not match the SOAP version of the request's Content-Type."
