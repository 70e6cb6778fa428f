"""A client that hangs up before its body is read must cost the server nothing: no stuck request, no
hang at shutdown (the a2wsgi bridge hangs forever here; jobgate calls Spyne once per request instead)."""

import socket
import time

import pytest

from support.casjobs import JOBS_PATH, add_users, post, result_of
from support.server import JobgateServer

ENVELOPE = (
    b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
    b'<soap:Body><CancelJob xmlns="http://Services.Cas.jhu.edu"><wsId>1</wsId><pw>x</pw><jobId>1</jobId>'
    b"</CancelJob></soap:Body></soap:Envelope>"
)


def hang_up_mid_body(server: JobgateServer, path: str, content_type: str) -> None:
    """Send the headers and a third of the declared body, then close the connection."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: {content_type}\r\n"
        f'SOAPAction: "http://Services.Cas.jhu.edu/CancelJob"\r\nContent-Length: {len(ENVELOPE)}\r\n\r\n'
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
        conn.sendall(head + ENVELOPE[: len(ENVELOPE) // 3])
        conn.shutdown(socket.SHUT_WR)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        (JOBS_PATH, "text/xml; charset=utf-8"),
        (JOBS_PATH, "application/soap+xml; charset=utf-8"),
        (f"{JOBS_PATH}/CancelJob", "application/x-www-form-urlencoded"),
    ],
    ids=["soap11", "soap12", "http-post"],
)
def test_clients_that_hang_up_mid_body_leave_the_server_serving_and_stoppable(
    jobgate_server: object, path: str, content_type: str
) -> None:
    server: JobgateServer = jobgate_server(JOBGATE_RUNNERS=0)  # type: ignore[operator]
    alice = add_users(server, "alice")["alice"]
    for _ in range(50):
        hang_up_mid_body(server, path, content_type)
    with server.client() as http:
        assert http.get("/healthz").status_code == 200
        job = post(http, "SubmitJob", **alice.login(), qry="SELECT 1", context="MyDB", taskname="t", estimate=1)
        assert int(result_of(job)) > 0  # a whole request after the hang-ups is still served
    started = time.monotonic()
    status = server.stop(timeout=10)  # raises if the server is still running after 10 s
    took = time.monotonic() - started
    # uvicorn re-raises SIGTERM once its graceful shutdown is complete, so -15 is the clean exit
    assert status in (0, -15), server.log_text()
    assert "Application shutdown complete" in server.log_text()
    print(f"shutdown after 50 hang-ups took {took:.2f} s")
