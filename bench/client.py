"""A small keep-alive HTTP client for warm-ups and the cancel-latency cases (wrk does the load)."""

import http.client
import time
from dataclasses import dataclass

from bench.plan import Request

# The server may close an idle keep-alive connection (uvicorn: after 5 s); then one fresh retry.
_STALE = (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    sent_at: float  # wall clock (time.time()) just before the request left
    seconds: float  # request → complete response, monotonic


class Client:
    def __init__(self, port: int, timeout_s: float = 30.0) -> None:
        self._port, self._timeout = port, timeout_s
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)

    def send(self, request: Request, job_id: int) -> Reply:
        try:
            return self._send(request, job_id)
        except _STALE:
            self._conn.close()
            self._conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=self._timeout)
            return self._send(request, job_id)

    def _send(self, request: Request, job_id: int) -> Reply:
        path, body = request.filled(job_id)
        sent_at, started = time.time(), time.perf_counter()
        self._conn.request(request.method, path, body=body or None, headers=dict(request.headers))
        response = self._conn.getresponse()
        data = response.read()
        return Reply(response.status, data, sent_at, time.perf_counter() - started)

    def close(self) -> None:
        self._conn.close()


def warm_up(port: int, request: Request, count: int, job_ids: int, connections: int = 8) -> list[int]:
    """`count` requests over several connections (so every server process gets some); the non-2xx seen."""
    clients = [Client(port) for _ in range(connections)]
    try:
        replies = [clients[n % connections].send(request, n % job_ids + 1) for n in range(count)]
    finally:
        for client in clients:
            client.close()
    return [reply.status for reply in replies if not 200 <= reply.status < 300]
