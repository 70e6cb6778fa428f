"""Issue 19, finding 5, against a real `jobgate serve`: a 100 MB header cost 10 s of CPU and stalled everyone,
and connections that sent half a header, half a body or nothing stayed open for ever. Headers are capped in
size and number (431), a request must arrive whole within JOBGATE_HTTP_READ_TIMEOUT_S (408, closed), and
connections at once are capped (503); other clients are served throughout."""

import socket
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from support.server import JobgateServer
from support.wait import wait_until

READ_TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def server(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(
        JOBGATE_RUNNERS=0, JOBGATE_HTTP_READ_TIMEOUT_S=READ_TIMEOUT_S, JOBGATE_MAX_CONNECTIONS=64
    )


@pytest.fixture
def connect(server: JobgateServer) -> Iterator[Callable[[], socket.socket]]:
    opened: list[socket.socket] = []

    def make() -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        opened.append(sock)
        return sock

    yield make
    for sock in opened:
        sock.close()


def answer_of(sock: socket.socket) -> bytes:
    """Everything the server writes until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def healthy(server: JobgateServer) -> bool:
    with httpx.Client(base_url=server.url, timeout=5) as http:
        return http.get("/healthz").status_code == 200


class TestHeaderCaps:
    def test_a_huge_header_is_refused_at_the_cap_without_reading_it_all(
        self, server: JobgateServer, connect: Callable[[], socket.socket]
    ) -> None:
        sock = connect()
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        try:
            for _ in range(100):  # up to 100 MB, in 1 MB pieces: the server hangs up long before
                sock.sendall(b"a" * 1_000_000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = answer_of(sock)

        assert answer.startswith(b"HTTP/1.1 431 ")
        assert time.monotonic() - started < 5
        assert healthy(server)

    def test_too_many_header_fields_are_refused(self, connect: Callable[[], socket.socket]) -> None:
        sock = connect()
        fields = b"".join(b"X-%d: v\r\n" % n for n in range(150))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
        assert answer_of(sock).startswith(b"HTTP/1.1 431 ")

    def test_an_ordinary_request_with_many_ordinary_headers_is_served(self, server: JobgateServer) -> None:
        headers = {f"x-h{n}": "v" * 100 for n in range(50)}
        with httpx.Client(base_url=server.url, timeout=5) as http:
            assert http.get("/healthz", headers=headers).status_code == 200


class TestSlowClients:
    def test_silent_half_header_and_half_body_connections_are_closed_and_others_are_served(
        self, server: JobgateServer, connect: Callable[[], socket.socket]
    ) -> None:
        silent, half_header, half_body = connect(), connect(), connect()
        half_header.sendall(b"POST /CasJobs/services/jobs.asmx HTTP/1.1\r\nHost: x\r\nContent-Ty")
        half_body.sendall(
            b"POST /CasJobs/services/jobs.asmx HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
            b"Content-Length: 1000\r\n\r\n<soap:Envelope"
        )
        started = time.monotonic()
        served = 0
        while time.monotonic() - started < READ_TIMEOUT_S / 2:  # others are served while the slow ones hang on
            assert healthy(server)
            served += 1
        answers = [answer_of(sock) for sock in (silent, half_header, half_body)]  # each ends when closed

        assert served > 0
        assert time.monotonic() - started < READ_TIMEOUT_S * 4
        assert answers[0].startswith(b"HTTP/1.1 408 ")
        assert answers[1].startswith(b"HTTP/1.1 408 ")
        assert b" 200 " not in answers[2]  # the app was waiting on the body: closed, never answered
        assert healthy(server)


def test_connections_beyond_the_cap_are_turned_away_with_503(
    server: JobgateServer, connect: Callable[[], socket.socket]
) -> None:
    held = [connect() for _ in range(70)]  # idle connections count against JOBGATE_MAX_CONNECTIONS (64)
    wait_until(lambda: not healthy_or_busy(server), 5, message="the cap never turned a request away")
    for sock in held:
        sock.close()
    wait_until(lambda: healthy(server), 10, message="the server did not recover once the connections closed")


def healthy_or_busy(server: JobgateServer) -> bool:
    """True when /healthz answers 200; False on 503 (turned away at the cap)."""
    with httpx.Client(base_url=server.url, timeout=5) as http:
        status = http.get("/healthz").status_code
    assert status in (200, 503)
    return status == 200
