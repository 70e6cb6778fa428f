"""Compare XML by structure: namespace URIs, local names, attributes and normalised text, in document order.

Prefixes and namespace declarations are not part of a document's structure, so `<soap:Envelope>` and
`<soap11env:Envelope>` in the same namespace are equal, and so are `<CancelJobResponse xmlns="tns"/>` and
`<tns:CancelJobResponse/>`. Comments, processing instructions and whitespace-only text are ignored; other
text is compared after XPath normalize-space().

An expected text that is an XSD type name, as ASMX help pages write their samples (`<jobId>long</jobId>`),
is a placeholder: it matches any actual text of that type (see PLACEHOLDERS).

`tests/conftest.py` registers the package `support` for assertion rewriting, so a failing
`assert_same_structure` shows a line-by-line diff of the two outlines.
"""

import re
from collections.abc import Mapping
from typing import Final

from lxml import etree

DATETIME: Final = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})?"

PLACEHOLDERS: Final[Mapping[str, str]] = {
    "long": r"-?\d{1,19}",
    "int": r"-?\d{1,10}",
    "boolean": r"true|false",
    "dateTime": DATETIME,
    "string": r".+",
}

XmlInput = bytes | str | etree._Element


def to_element(document: XmlInput) -> etree._Element:
    """The root element of `document`, parsed without entities, DTDs or network access."""
    if isinstance(document, etree._Element):
        return document
    if isinstance(document, str):
        document = document.encode()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True)
    return etree.fromstring(document.strip(), parser)


def normalise(text: str | None) -> str:
    """XPath normalize-space(): trimmed, inner runs of whitespace as one space."""
    return " ".join((text or "").split())


def outline(document: XmlInput, placeholders_in: XmlInput | None = None) -> list[str]:
    """One line per element: depth, `{namespace}local`, sorted attributes, normalised text.

    When `placeholders_in` (the expected document) is given, an actual text that matches the
    placeholder written at the same place is shown as that placeholder, so that it compares equal.
    """
    lines: list[str] = []
    expected = _walk(to_element(placeholders_in)) if placeholders_in is not None else []
    for n, (depth, element) in enumerate(_walk(to_element(document))):
        text = normalise(element.text)
        if n < len(expected):
            text = _as_placeholder(text, normalise(expected[n][1].text))
        attributes = " ".join(f"@{name}={value!r}" for name, value in sorted(element.attrib.items()))
        line = "  " * depth + str(element.tag) + (f" {attributes}" if attributes else "")
        lines.append(line + (f" = {text!r}" if text else ""))
    return lines


def assert_same_structure(actual: XmlInput, expected: XmlInput) -> None:
    """`actual` has the structure of `expected`; XSD type names in `expected` stand for any such value."""
    assert outline(actual, placeholders_in=expected) == outline(expected)


def _walk(root: etree._Element) -> list[tuple[int, etree._Element]]:
    found: list[tuple[int, etree._Element]] = []

    def visit(element: etree._Element, depth: int) -> None:
        found.append((depth, element))
        for child in element:
            if isinstance(child.tag, str):  # not a comment or processing instruction
                visit(child, depth + 1)

    visit(root, 0)
    return found


def _as_placeholder(text: str, expected: str) -> str:
    pattern = PLACEHOLDERS.get(expected)
    if pattern is not None and re.fullmatch(pattern, text, flags=re.DOTALL):
        return expected
    return text
