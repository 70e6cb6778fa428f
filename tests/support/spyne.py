"""Which path answered a SOAP call: the gateway hands Spyne a call through `call_wsgi`; the fast lane never does."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from jobgate.dialects.soap import gateway


@contextmanager
def spyne_calls() -> Iterator[list[str]]:
    """The operations (PATH_INFO) the gateway hands to Spyne inside the block."""
    calls: list[str] = []
    original: Callable[..., Any] = gateway.call_wsgi

    def counted(app: Any, environ: dict[str, Any]) -> Any:
        calls.append(str(environ.get("PATH_INFO", "")))
        return original(app, environ)

    gateway.call_wsgi = counted  # type: ignore[assignment]
    try:
        yield calls
    finally:
        gateway.call_wsgi = original  # type: ignore[assignment]
