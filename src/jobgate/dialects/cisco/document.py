"""One answer, two formats: an answer is built once as a small tree (`Node`, `Many`) and written as XML
(lxml) or as the JSON of an API version (dicts and `json.dumps`), following the rules seed 003 shows:

- attributes are XML attributes and `@name` JSON keys; an element with attributes and text writes its
  text under `$` (`{"@type": "JobSummary", "$": "123"}`);
- a list (`Many`) repeats its element in XML; in JSON v2/v3 it is always an array, in v1 one element
  is written as itself and an empty list is left out, unless the list is marked `always_array`;
- v1 keeps the XML order of keys (attributes first); v2/v3 sort keys alphabetically, unless the
  answer keeps its order in every version (`sort=False`, the errorDocument).
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, TypeAlias

from lxml import etree

from jobgate.dialects.common.xml import xml_text

Scalar: TypeAlias = str | int


class Version(StrEnum):
    V1 = "v1"
    V2 = "v2"
    V3 = "v3"


@dataclass(frozen=True, slots=True)
class Node:
    attrs: tuple[tuple[str, Scalar], ...] = ()
    fields: tuple[tuple[str, "Value"], ...] = ()
    text: Scalar | None = None


@dataclass(frozen=True, slots=True)
class Many:
    items: tuple["Value", ...]
    always_array: bool = False  # an array in v1 too (entity lists: client scripts index [0] in every version)


Value: TypeAlias = Scalar | Node | Many

XML_DECLARATION: Final = True


def _xml_text(value: Scalar) -> str:
    return xml_text(str(value))  # a path or query value may hold characters XML cannot carry


def node(attrs: Mapping[str, Scalar | None] | None = None, /, **fields: "Value | None") -> Node:
    """A Node with the attributes and fields that are not None, in the order given."""
    kept = tuple((k, v) for k, v in (attrs or {}).items() if v is not None)
    return Node(kept, tuple((k, v) for k, v in fields.items() if v is not None))


# -- XML --------------------------------------------------------------------------------------------------
def to_xml(root: str, value: Node) -> bytes:
    element = etree.Element(root)
    _fill(element, value)
    return bytes(etree.tostring(element, xml_declaration=XML_DECLARATION, encoding="UTF-8"))


def _fill(element: etree._Element, value: Node) -> None:
    for name, attr in value.attrs:
        element.set(name, _xml_text(attr))
    if value.text is not None:
        element.text = _xml_text(value.text)
    for name, field in value.fields:
        for item in field.items if isinstance(field, Many) else (field,):
            child = etree.SubElement(element, name)
            if isinstance(item, Node):
                _fill(child, item)
            elif isinstance(item, Many):
                raise TypeError("a list holds elements, not lists")
            else:
                child.text = _xml_text(item)


# -- JSON -------------------------------------------------------------------------------------------------
def to_json(root: str, value: Node, version: Version, *, sort: bool = True) -> bytes:
    ordered = sort and version is not Version.V1
    return json.dumps({root: _object(value, version, ordered)}, ensure_ascii=False).encode("utf-8", "replace")


def _object(value: Node, version: Version, ordered: bool) -> dict[str, Any]:
    out: dict[str, Any] = {f"@{name}": attr for name, attr in value.attrs}
    if value.text is not None:
        out["$"] = value.text
    for name, field in value.fields:
        if isinstance(field, Many):
            if version is Version.V1 and not field.always_array and len(field.items) <= 1:
                if field.items:
                    out[name] = _value(field.items[0], version, ordered)
                continue
            out[name] = [_value(item, version, ordered) for item in field.items]
        else:
            out[name] = _value(field, version, ordered)
    return dict(sorted(out.items())) if ordered else out


def _value(value: Value, version: Version, ordered: bool) -> Any:
    if isinstance(value, Node):
        return _object(value, version, ordered)
    if isinstance(value, Many):
        raise TypeError("a list holds elements, not lists")
    return value
