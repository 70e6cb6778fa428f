"""uvicorn's httptools protocol with the limits it lacks: a cap on the size and number of a request's headers
(431), and a deadline by which a request must have arrived whole, headers and body (408), so a connection
that sends half a header, half a body or nothing is closed instead of held for ever. The idle time between
requests on a kept-alive connection stays uvicorn's own `timeout_keep_alive`.

A request only notes when it is due (a float); one sweep a second, per server, closes the connections past
their deadline, so the request path pays for no timer of its own."""

import asyncio
from dataclasses import dataclass
from typing import Any, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_CLOSE: Final = b"content-type: text/plain; charset=utf-8\r\nx-content-type-options: nosniff\r\nconnection: close\r\n"


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_header_bytes: int = 64 * 1024  # request line and headers together
    max_headers: int = 100
    read_timeout_s: float = 30.0  # from the connection (or the request's first byte) to its last byte


def _refusal(status: bytes, text: bytes) -> bytes:
    length = b"content-length: " + str(len(text)).encode() + b"\r\n"
    return b"HTTP/1.1 " + status + b"\r\n" + _CLOSE + length + b"\r\n" + text


SWEEP_S: Final = 1.0  # how often overdue connections are looked for: a deadline is kept to within this


class _Sweeper:
    """The connections of one server that are waiting for a request to arrive, and the one timer that closes
    those past their deadline."""

    def __init__(self) -> None:
        self.live: set[GuardedHttpToolsProtocol] = set()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, connection: "GuardedHttpToolsProtocol") -> None:
        self.live.add(connection)
        if self._timer is None:
            self._timer = connection.loop.call_later(SWEEP_S, self._sweep, connection.loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for connection in [c for c in self.live if c.due is not None and now >= c.due]:
            connection.expired()
        self._timer = loop.call_later(SWEEP_S, self._sweep, loop) if self.live else None


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    limits: HttpLimits = HttpLimits()
    sweeper: _Sweeper  # each server's own (guarded_protocol)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.due: float | None = None  # loop time by which the request being read must be in
        self._in_headers, self._header_bytes = True, 0
        self._refused = False  # answered 431 and closing: the parser's further callbacks are ignored

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.sweeper.add(self)
        self._arm()  # a connection that never sends a request is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self.sweeper.live.discard(self)
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._in_headers and self._header_bytes > self.limits.max_header_bytes:
            self._refuse(b"Request header fields too large.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers, self._header_bytes = True, 0
        self._arm()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        if len(self.headers) > self.limits.max_headers:  # counted once, not per field: the byte cap bounds them
            self._refuse(b"Too many request header fields.")
        if not self._refused:
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()  # the request is in: what the app takes to answer is not the client's doing
        if not self._refused:
            super().on_message_complete()

    def _arm(self) -> None:
        if self.due is None:
            self.due = self.loop.time() + self.limits.read_timeout_s

    def _disarm(self) -> None:
        self.due = None

    def expired(self) -> None:
        """The request did not arrive in time: 408 if nothing was answered on it yet, and closed."""
        self.due = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:  # nothing answered yet on this request
            self.transport.write(_refusal(b"408 Request Timeout", b"The request did not arrive in time."))
        self.transport.close()

    def _refuse(self, text: bytes) -> None:
        self._disarm()
        if not self._refused and not self.transport.is_closing():
            self.transport.write(_refusal(b"431 Request Header Fields Too Large", text))
            self.transport.close()
        self._refused = True


def guarded_protocol(limits: HttpLimits) -> type[GuardedHttpToolsProtocol]:
    """The protocol class uvicorn instantiates per connection, with these limits and a sweeper of its own."""
    return type("GuardedHttp", (GuardedHttpToolsProtocol,), {"limits": limits, "sweeper": _Sweeper()})
