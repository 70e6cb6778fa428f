"""The access log: one key=value line per request, at a cost to the request of one append to a bounded
queue. A background thread formats the queued records and writes them in batches (one write per few
kilobytes, no flush per line) to the log stream that every other line goes to, ahead of any other line
(jobgate.logs.LogStream), so stderr reads in the order things happened. When the queue is full (a slow
or blocked stderr), lines are dropped and counted, never waited for; closing writes every queued line."""

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final

from jobgate.logs import LogStream

FLUSH_EVERY_S: Final = 0.05  # how long a line may wait in the queue: the batch a write carries
CLOSE_TIMEOUT_S: Final = 10.0  # how long closing waits for a stream that does not take the last lines

# stamp (seconds since the epoch), method, path, status, duration (s), request id, dialect
Record = tuple[float, str, str, int, float, str, str]


class AccessLog:
    """One app's access lines: `record` on the request path, a writer thread between `start` and `close`."""

    def __init__(
        self,
        capacity: int,
        dropped: Callable[[], object],
        stamp: Callable[[], float],
        flush_every_s: float = FLUSH_EVERY_S,
    ) -> None:
        self._queue: deque[Record] = deque()
        self._capacity, self._dropped, self._stamp, self._every = capacity, dropped, stamp, flush_every_s
        self._stream: LogStream | None = None
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._second, self._prefix = -1, ""

    def record(self, method: str, path: str, status: int, seconds: float, request_id: str, dialect: str) -> None:
        """The request's whole share: an append, or a count when the queue is full."""
        if len(self._queue) >= self._capacity:
            self._dropped()
            return
        self._queue.append((self._stamp(), method, path, status, seconds, request_id, dialect))

    def start(self, stream: LogStream) -> None:
        self._stream = stream
        self._closing.clear()
        stream.attach(self._take)
        self._thread = threading.Thread(target=self._run, name="jobgate-access-log", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Write every queued line (waiting at most CLOSE_TIMEOUT_S for a stream that takes nothing)."""
        thread, stream = self._thread, self._stream
        if thread is None or stream is None:
            return
        self._closing.set()
        thread.join(CLOSE_TIMEOUT_S)
        if thread.is_alive():  # stderr is blocked: leave the lines, as the process is about to end anyway
            return
        _write(stream)  # anything recorded after the thread's last write
        stream.detach(self._take)
        self._thread = self._stream = None

    def _run(self) -> None:
        assert self._stream is not None
        stream = self._stream
        while not self._closing.wait(self._every):
            _write(stream)
        _write(stream)

    def _take(self) -> str:
        """Format and forget what is queued now (called under the stream's lock, so by one thread at a time)."""
        queue, render = self._queue, self._render
        return "".join([render(queue.popleft()) for _ in range(len(queue))])

    def _render(self, record: Record) -> str:
        stamp, method, path, status, seconds, request_id, dialect = record
        second = int(stamp)
        if second != self._second:
            self._second, self._prefix = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        micros = int((stamp - second) * 1e6)
        # the path only: query strings carry passwords in CasJobs' HTTP GET binding
        return (
            f"timestamp='{self._prefix}.{micros:06d}Z' level='info' logger='jobgate.access' event='request' "
            f"method={method!r} path={path!r} status={status} duration_ms={round(seconds * 1000, 2)} "
            f"request_id={request_id!r} dialect={dialect!r}\n"
        )


def _write(stream: LogStream) -> None:
    # stderr gone (EPIPE): this batch is lost, the queue stays bounded, requests go on
    with contextlib.suppress(OSError):
        stream.write()


__all__ = ["AccessLog"]
