"""Reading a job-operation payload: the ids of `<root><ids><item>…` in XML (through the XML gate) or
`{"root": {"ids": {"item": 15 | [15, 25]}}}` in JSON (through the JSON gate). cisco.md [REC]: a scalar or
an array in every version, numbers or numeric strings; an empty list or a non-numeric id is refused."""

import re
from typing import Any, Final

from lxml import etree

from jobgate.dialects.cisco.errors import BadPayload
from jobgate.dialects.cisco.wire import Payload
from jobgate.dialects.common.jsonbody import parse_json
from jobgate.dialects.common.xml import parse

LONG_MIN: Final = -(2**63)
LONG_MAX: Final = 2**63 - 1
_WHOLE: Final = re.compile(r"-?[0-9]{1,19}")


def ids_of(body: bytes, payload: Payload, *, json: bool) -> list[int]:
    raw = _json_ids(body, payload) if json else _xml_ids(body, payload)
    if not raw:
        raise BadPayload(f"{payload.ids} holds no {payload.item}.")
    return [_long(value, payload) for value in raw]


def _xml_ids(body: bytes, payload: Payload) -> list[Any]:
    root = parse(body)
    if root.tag != payload.root:
        raise BadPayload(f"The root element must be {payload.root}.")
    wrappers = [child for child in root if isinstance(child.tag, str)]
    if len(wrappers) != 1 or wrappers[0].tag != payload.ids:
        raise BadPayload(f"{payload.root} holds one {payload.ids}.")
    items = [child for child in wrappers[0] if isinstance(child.tag, str)]
    if any(item.tag != payload.item or len(item) for item in items):
        raise BadPayload(f"{payload.ids} holds {payload.item} elements only.")
    return [_text(item) for item in items]


def _text(item: etree._Element) -> str:
    return (item.text or "").strip()


def _json_ids(body: bytes, payload: Payload) -> list[Any]:
    document = parse_json(body)
    outer = _member(document, payload.root)
    ids = _member(outer, payload.ids)
    items = _member(ids, payload.item)
    return items if isinstance(items, list) else [items]


def _member(value: Any, name: str) -> Any:
    if not isinstance(value, dict) or set(value) != {name}:
        raise BadPayload(f"Expected an object with the one member {name}.")
    return value[name]


def _long(value: Any, payload: Payload) -> int:
    """A Java long: an integer, or a string of one; never a bool, a float or anything else."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadPayload(f"A {payload.item} is a whole number.")
    text = str(value).strip()
    if not _WHOLE.fullmatch(text):
        raise BadPayload(f"A {payload.item} is a whole number.")
    number = int(text)
    if not LONG_MIN <= number <= LONG_MAX:
        raise BadPayload(f"A {payload.item} is a long (64 bits).")
    return number
