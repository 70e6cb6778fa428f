"""Reply bodies of the reference servers, built with lxml (SOAP 1.1 envelopes, the ASMX `<int>`)."""

from functools import cache

from lxml import etree

from bench.refs.common import SOAP11, TNS


def _envelope(payload: etree._Element) -> bytes:
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soap": SOAP11})
    etree.SubElement(envelope, f"{{{SOAP11}}}Body").append(payload)
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


@cache
def cancel_response() -> bytes:
    return _envelope(etree.Element(f"{{{TNS}}}CancelJobResponse", nsmap={None: TNS}))


def status_response(status: int) -> bytes:
    reply = etree.Element(f"{{{TNS}}}GetJobStatusResponse", nsmap={None: TNS})
    etree.SubElement(reply, f"{{{TNS}}}GetJobStatusResult").text = str(status)
    return _envelope(reply)


def asmx_int(value: int) -> bytes:
    element = etree.Element(f"{{{TNS}}}int", nsmap={None: TNS})
    element.text = str(value)
    return bytes(etree.tostring(element, xml_declaration=True, encoding="utf-8"))


def fault(text: str) -> bytes:
    body = etree.Element(f"{{{SOAP11}}}Fault")
    etree.SubElement(body, "faultcode").text = "soap:Client"
    etree.SubElement(body, "faultstring").text = text
    return _envelope(body)
