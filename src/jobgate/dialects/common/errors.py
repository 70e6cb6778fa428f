"""The protocol-neutral error table: error class → whatever a dialect writes on the wire for it (a SOAP
fault, an HTTP status and body, a Cisco errorDocument, an ArcGIS error JSON), looked up along the MRO."""

from collections.abc import Mapping
from typing import Generic, TypeVar

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

    def covers(self) -> frozenset[type[BaseException]]:
        """The error classes with a row of their own (a test checks every domain error has one)."""
        return frozenset(self._rows)
