"""Structured logs: one key=value line per event on stderr, through the standard logging module (and, for
the one access line per request, through jobgate.accesslog, which shares the stream below)."""

import logging
import os
import select
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TextIO

import structlog

# Spyne logs whole request bodies (passwords included) at ERROR when XML is malformed, and client
# faults with tracebacks: jobgate logs its own line per request instead.
_QUIET = (
    "spyne",
    "spyne.protocol.soap.soap11.invalid",
    "spyne.application.client",
    "spyne.application.server",
)
# Writes of at most PIPE_BUF bytes to a pipe are atomic: cut at line ends below it, lines of several
# processes sharing one pipe (`serve --workers N`) never tear.
_CHUNK = getattr(select, "PIPE_BUF", 4096)

Backlog = Callable[[], str]  # hands over (and forgets) the lines queued so far, as one text


class LogStream:
    """stderr, shared by every log line of the process. Whole lines, in the order things happened: lines
    still queued elsewhere (the access log's backlog) are written before any line written now. Unbuffered:
    each write goes to the file descriptor at once, in as few system calls as whole lines allow."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._backlogs: list[Backlog] = []

    def attach(self, backlog: Backlog) -> None:
        with self._lock:
            self._backlogs.append(backlog)

    def detach(self, backlog: Backlog) -> None:
        with self._lock:
            self._backlogs.remove(backlog)

    def write(self, lines: str = "") -> None:
        """Write every backlog, then `lines` (whole lines, each ending in a newline); blocks while the
        stream does."""
        with self._lock:
            text = "".join([take() for take in self._backlogs]) + lines
            if text:
                self._emit(text)

    def _emit(self, text: str) -> None:
        try:
            fd = self._out.fileno()
        except (AttributeError, OSError, ValueError):  # not a file (a test's capture): its own write
            self._out.write(text)
            self._out.flush()
            return
        self._out.flush()  # whatever was printed to the stream before goes first
        data = text.encode(getattr(self._out, "encoding", None) or "utf-8", "backslashreplace")
        for chunk in _whole_lines(data, _CHUNK):
            _write_all(fd, chunk)


def _whole_lines(data: bytes, limit: int) -> Iterator[memoryview]:
    """`data` in pieces of at most `limit` bytes that end at a line end (a longer line is one piece)."""
    view, start, size = memoryview(data), 0, len(data)
    while start < size:
        end = start + limit
        if end >= size:
            yield view[start:]
            return
        cut = data.rfind(b"\n", start, end)
        if cut < 0:
            cut = data.find(b"\n", end)
            if cut < 0:
                yield view[start:]
                return
        yield view[start : cut + 1]
        start = cut + 1


def _write_all(fd: int, chunk: memoryview) -> None:
    while chunk:
        try:
            written = os.write(fd, chunk)
        except BlockingIOError:  # a non-blocking descriptor (set by whoever owns the pipe): wait for room
            select.select([], [fd], [])
            continue
        chunk = chunk[written:]


class _StreamHandler(logging.Handler):
    """Every line but the access lines: formatted by the thread that logs it and written at once, never
    queued and never dropped."""

    def __init__(self, stream: LogStream) -> None:
        super().__init__()
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + "\n")
        except Exception:  # as logging.StreamHandler: a failing log line never fails the caller
            self.handleError(record)

    def flush(self) -> None:
        """Nothing is buffered here (and logging's exit-time flush must not wait for a blocked stream)."""


def stream() -> LogStream:
    """The stream configure() installed, or a new one on stderr when logging was not configured."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, _StreamHandler):
            return handler.stream
    return LogStream(sys.stderr)


def stream_handler(stream: LogStream) -> logging.Handler:
    """The handler of every line but the access lines: key=value, tracebacks included, straight to `stream`."""
    handler = _StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "logger", "event"]),
            ],
            foreign_pre_chain=_shared(),
        )
    )
    return handler


def _shared() -> list[structlog.types.Processor]:
    return [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def configure(level: str = "info") -> None:
    structlog.configure(
        processors=[*_shared(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = stream_handler(LogStream(sys.stderr))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    logging.getLogger("uvicorn.access").disabled = True  # jobgate writes its own access line
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
