"""Debian's HAProxy on 127.0.0.1, terminating TLS (a certificate made here with openssl) in front of jobgate
servers; it connects to them from 127.0.0.2, the one address they trust for X-Forwarded-For/-Proto."""

import contextlib
import shutil
import socket
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from support.server import free_port
from support.wait import wait_until

PROXY_SOURCE = "127.0.0.2"  # HAProxy → servers; JOBGATE_TRUSTED_PROXIES names it


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (HAProxy's PEM with cert and key, the cert alone for clients)."""
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    bundle = directory / "haproxy.pem"
    bundle.write_bytes(cert.read_bytes() + key.read_bytes())
    return bundle, cert


@dataclass
class Front:
    url: str  # https://127.0.0.1:PORT
    ca: Path  # what clients verify the certificate with
    log: Path


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@contextlib.contextmanager
def haproxy(directory: Path, backends: Sequence[int]) -> Iterator[Front]:
    """HAProxy: TLS on a free port, round robin over `backends` (ports on 127.0.0.1), health-checked on /readyz
    every 200 ms; a connection refused is retried on the other server (nothing was sent, so nothing can run
    twice). X-Forwarded-For is set to the client's address (what a client sent is dropped) and
    X-Forwarded-Proto to https."""
    assert shutil.which("haproxy"), "haproxy missing: .ci/run installs Debian's haproxy"
    bundle, cert = make_certificate(directory)
    port = free_port()
    servers = "\n".join(
        f"    server s{n} 127.0.0.1:{backend} source {PROXY_SOURCE} check inter 200ms fall 1 rise 2"
        for n, backend in enumerate(backends)
    )
    config = directory / "haproxy.cfg"
    config.write_text(
        f"""global
    maxconn 1000

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch 1
    retry-on conn-failure

frontend https
    bind 127.0.0.1:{port} ssl crt {bundle}
    http-request del-header X-Forwarded-For
    http-request del-header Forwarded
    option forwardfor
    http-request set-header X-Forwarded-Proto https
    default_backend jobgate

backend jobgate
    balance roundrobin
    option httpchk GET /readyz
{servers}
"""
    )
    log = directory / "haproxy.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(["haproxy", "-f", str(config), "-db"], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _accepts(port) or proc.poll() is not None, timeout=15, message="HAProxy to listen")
        assert proc.poll() is None, f"haproxy exited: {log.read_text(errors='replace')}"
        yield Front(f"https://127.0.0.1:{port}", cert, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
