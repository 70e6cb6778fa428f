"""The JSON gate: every JSON request body passes here before a dialect reads it, under the same caps the
XML gate applies (depth, number of values); the byte cap is the body reader's. Refusals are typed, so each
dialect answers in its own shape."""

import json
from dataclasses import dataclass
from typing import Any, Final

MAX_DEPTH: Final = 32
MAX_VALUES: Final = 5_000


class JsonRefused(Exception):
    """The body is not JSON this gate lets through."""


@dataclass(frozen=True, slots=True)
class JsonLimits:
    max_depth: int = MAX_DEPTH
    max_values: int = MAX_VALUES


def _no_constants(name: str) -> Any:
    raise JsonRefused(f"{name} is not a JSON value.")


def parse_json(body: bytes, limits: JsonLimits = JsonLimits()) -> Any:
    """Parse an untrusted body once: UTF-8 (a BOM is refused), no NaN or Infinity, depth and size capped."""
    try:
        text = body.decode("utf-8")
        value = json.loads(text, parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise JsonRefused("The body is not UTF-8.") from None
    except RecursionError:
        raise JsonRefused(f"The document is nested deeper than {limits.max_depth} levels.") from None
    except json.JSONDecodeError as exc:
        raise JsonRefused(f"The body is not well-formed JSON (line {exc.lineno}, column {exc.colno}).") from None
    _check_shape(value, limits)
    return value


def _check_shape(value: Any, limits: JsonLimits) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    count = 0
    while stack:
        item, depth = stack.pop()
        count += 1
        if depth > limits.max_depth:
            raise JsonRefused(f"The document is nested deeper than {limits.max_depth} levels.")
        if count > limits.max_values:
            raise JsonRefused(f"The document has more than {limits.max_values} values.")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
