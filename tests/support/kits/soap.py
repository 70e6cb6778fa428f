"""What the SOAP kits share: the two envelope versions, and a fault read back as a Refusal."""

from typing import Final

import httpx
from lxml import etree

from support.kits.base import Refusal

SOAP11: Final = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12: Final = "http://www.w3.org/2003/05/soap-envelope"
CONTENT_TYPES: Final = {"soap11": "text/xml; charset=utf-8", "soap12": "application/soap+xml; charset=utf-8"}


def envelope_ns(variant: str) -> str:
    return SOAP12 if variant == "soap12" else SOAP11


def client_code(variant: str) -> str:
    return "Sender" if variant == "soap12" else "Client"


def server_code(variant: str) -> str:
    return "Receiver" if variant == "soap12" else "Server"


def fault(answer: httpx.Response) -> tuple[str, str, str]:
    """(envelope namespace, code as sent with any subcode, text) of a SOAP 1.1 or 1.2 fault."""
    try:
        root = etree.fromstring(answer.content, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        raise AssertionError(f"not a SOAP fault: HTTP {answer.status_code} {answer.text[:300]!r}") from None
    for ns in (SOAP11, SOAP12):
        found = root.find(f"{{{ns}}}Body/{{{ns}}}Fault")
        if found is None:
            continue
        if ns == SOAP11:
            return ns, (found.findtext("faultcode") or "").rpartition(":")[2], found.findtext("faultstring") or ""
        code = (found.findtext(f"{{{ns}}}Code/{{{ns}}}Value") or "").rpartition(":")[2]
        sub = found.findtext(f"{{{ns}}}Code/{{{ns}}}Subcode/{{{ns}}}Value")
        text = found.findtext(f"{{{ns}}}Reason/{{{ns}}}Text") or ""
        return ns, code + (f".{sub.rpartition(':')[2]}" if sub else ""), text
    raise AssertionError(f"no SOAP fault in HTTP {answer.status_code} {answer.text[:300]!r}")


def refusal(answer: httpx.Response) -> Refusal:
    """A SOAP fault as a Refusal: its code as sent (Client, Sender.Authentication …)."""
    _, code, text = fault(answer)
    return Refusal(answer.status_code, code, text)


def assert_fault(answer: httpx.Response, variant: str, code: str, text: str | None = None, status: int = 500) -> None:
    """HTTP `status` and a fault of the variant's SOAP version, with `code` (Client/Server, named Sender/Receiver
    in 1.2; a dotted subcode compared in full when given) and, when given, this text."""
    assert answer.status_code == status, f"HTTP {answer.status_code}: {answer.text[:500]!r}"
    ns, got, said = fault(answer)
    assert ns == envelope_ns(variant), f"a {ns} fault answered a {variant} request"
    top, _, sub = code.partition(".")
    wanted = {"Client": client_code(variant), "Server": "Receiver" if variant == "soap12" else "Server"}.get(top, top)
    wanted += f".{sub}" if sub else ""
    assert (got if sub else got.partition(".")[0]) == wanted, f"fault code {got!r}, wanted {wanted!r} ({said!r})"
    if text is not None:
        assert said == text, f"fault text {said!r}, wanted {text!r}"
