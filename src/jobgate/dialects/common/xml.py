"""The hardened parse gate: every XML request body passes here before anything else reads it.

Refuses (typed, so each dialect can answer in its own shape): a DOCTYPE of any kind (WS-I BP R1008,
SOAP 1.2 §5), processing instructions other than the XML declaration, nesting deeper than
`max_depth`, more than `max_elements` elements, and anything that is not well-formed in its declared
encoding. Entities are never resolved, no DTD is loaded, nothing is fetched from the network or read from a file.
"""

import re
import threading
from dataclasses import dataclass
from typing import Any, Final

from lxml import etree

MAX_DEPTH: Final = 32
MAX_ELEMENTS: Final = 5_000
DTD_PROHIBITED: Final = "DTD is prohibited in this XML document."
# libxml2 errors that only a document with a DOCTYPE can raise: entity bombs, entity loops, a bad DTD
_DTD_ERRORS: Final = ("doctype", "amplification", "entity reference loop", "subset")


# characters XML 1.0 cannot carry (controls other than tab, newline and return; lone surrogates; U+FFFE/FFFF)
_NOT_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
REPLACEMENT: Final = "\ufffd"


def xml_text(text: str) -> str:
    """Text as XML 1.0 can carry it: every character it cannot becomes U+FFFD. The one rule for every answer
    (Spyne's, the fast lane's, HTTP GET/POST, the pages, faults, Cisco's documents), so a job whose query or
    name holds a control character can always be listed."""
    return text if _NOT_XML.search(text) is None else _NOT_XML.sub(REPLACEMENT, text)


class XmlRefused(Exception):
    """The body is not XML this gate lets through; `malformed` tells a syntax error from a refusal."""

    def __init__(self, message: str, *, malformed: bool = False) -> None:
        super().__init__(message)
        self.malformed = malformed


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = MAX_DEPTH
    max_elements: int = MAX_ELEMENTS


class _NothingExternal(etree.Resolver):  # type: ignore[misc]
    """Every external DTD, parameter entity or entity resolves to nothing. `load_dtd=False` alone still lets
    libxml2 open the local file a DOCTYPE names (SYSTEM "file:///…"): a FIFO there hung the parse."""

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:
        return self.resolve_string("", context)


def _parser() -> etree.XMLParser:
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,  # libxml2's own caps on depth, text size and entity amplification stay on
        remove_comments=True,
        remove_blank_text=False,
        collect_ids=False,
    )
    parser.resolvers.add(_NothingExternal())
    return parser


_local = threading.local()  # an lxml parser may be reused, but not by two threads at once


def _thread_parser() -> etree.XMLParser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _parser()
    return parser


def parse(body: bytes, limits: Limits = Limits()) -> etree._Element:
    """Parse an untrusted body once; the tree it returns is the only parse the request gets."""
    if not body.strip():
        raise XmlRefused("Root element is missing.", malformed=True)
    try:
        root = etree.fromstring(body, _thread_parser())
    except etree.XMLSyntaxError as exc:
        text = str(exc).lower()
        if any(marker in text for marker in _DTD_ERRORS):
            raise XmlRefused(DTD_PROHIBITED) from None
        if "entity" in text:
            raise XmlRefused("Entity references are not allowed in this XML document.") from None
        if "depth" in text:
            raise XmlRefused(f"The document is nested deeper than {limits.max_depth} levels.") from None
        raise XmlRefused(_syntax_message(exc), malformed=True) from None
    except ValueError as exc:  # e.g. a unicode string with an encoding declaration
        raise XmlRefused(str(exc), malformed=True) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise XmlRefused(DTD_PROHIBITED)
    _check_shape(root, limits)
    return root


def _check_shape(root: etree._Element, limits: Limits) -> None:
    if root.getprevious() is not None or root.getnext() is not None or next(root.iter(etree.PI), None) is not None:
        raise XmlRefused("Processing instructions are not allowed in a SOAP message.")
    depth = count = 0
    for event, _element in etree.iterwalk(root, events=("start", "end")):
        if event == "end":
            depth -= 1
            continue
        depth += 1
        count += 1
        if depth > limits.max_depth:
            raise XmlRefused(f"The document is nested deeper than {limits.max_depth} levels.")
        if count > limits.max_elements:
            raise XmlRefused(f"The document has more than {limits.max_elements} elements.")


def _syntax_message(exc: etree.XMLSyntaxError) -> str:
    line, column = exc.position if exc.position else (0, 0)
    return f"There is an error in XML document ({line}, {column})."
