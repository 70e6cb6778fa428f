"""Every dialect's front door on a real `jobgate serve` (fixture server_world: one per kit, shared by the module; no
runners), for what only
a real server shows: the body cap answered from the announced length before any body byte is sent, and once a
chunked body passes it; a DOCTYPE naming a FIFO refused without opening it; and the server's own log, written at
debug level, holding no password and no token whatever the callers sent.
"""

import contextlib
import os
import re
import socket
import urllib.parse
from pathlib import Path
from typing import Final

import httpx
import pytest

from support.kits import KITS, XML_KITS, DialectKit
from support.kits.base import KitWorld as ServerWorld
from support.kits.base import World
from support.wait import wait_until

pytestmark = pytest.mark.e2e

MIB: Final = 1024 * 1024
CAP: Final = 2 * MIB  # JOBGATE_MAX_BODY_BYTES default
CASES: Final = [pytest.param(kit, variant, id=f"{kit.name}-{variant}") for kit in KITS for variant in kit.variants]
XML_CASES: Final = [
    pytest.param(kit, variant, id=f"{kit.name}-{variant}") for kit in XML_KITS for variant in kit.xml_variants
]


def raw_exchange(port: int, parts: list[bytes], timeout: float = 10.0) -> tuple[int, bytes]:
    """Send these bytes and read one response without finishing the request: (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        for part in parts:
            sock.sendall(part)
        received = b""
        while b"\r\n\r\n" not in received:
            data = sock.recv(65536)
            assert data, f"the server closed the connection without an answer: {received!r}"
            received += data
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def head_of(kit: DialectKit, world: World, variant: str, framing: str) -> bytes:
    sent = kit.garbage(world, variant, b"")
    lines = [f"{sent.method} {sent.path} HTTP/1.1", "Host: 127.0.0.1", framing]
    lines += [f"{name}: {value}" for name, value in sent.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize(("kit", "variant"), CASES)
class TestBodyCap:
    """JOBGATE_MAX_BODY_BYTES (2 MiB): 413 from Content-Length before reading, or once a chunked body passes it."""

    def test_a_content_length_over_the_cap_is_answered_before_any_body_byte_is_sent(
        self, server_world: ServerWorld, kit: DialectKit, variant: str
    ) -> None:
        world = server_world(kit)
        status, _ = raw_exchange(
            world.state["server"].port, [head_of(kit, world, variant, f"Content-Length: {50 * MIB}")]
        )
        assert status == 413

    def test_a_chunked_body_that_never_ends_is_refused_once_it_passes_the_cap(
        self, server_world: ServerWorld, kit: DialectKit, variant: str
    ) -> None:
        world = server_world(kit)
        chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"<" * (64 * 1024))
        parts = [head_of(kit, world, variant, "Transfer-Encoding: chunked"), *[chunk] * (CAP // (64 * 1024) + 1)]
        status, _ = raw_exchange(world.state["server"].port, parts)  # just past the cap, and no last chunk
        assert status == 413

    def test_fifty_mebibytes_sent_in_full_get_413_and_change_nothing(
        self, server_world: ServerWorld, kit: DialectKit, variant: str
    ) -> None:
        world = server_world(kit)
        target = kit.target(world, kit.operations[0])
        before = world.store(target.id)
        answer = world.send(kit.garbage(world, variant, b"x" * (50 * MIB)))
        assert answer.status_code == 413, answer.text[:300]
        assert answer.headers.get("x-request-id")
        assert world.store(target.id) == before
        assert world.http is not None
        assert world.http.get("/healthz").status_code == 200


@pytest.mark.parametrize("form", ["external DTD", "parameter entity"])
@pytest.mark.parametrize(("kit", "variant"), XML_CASES)
def test_a_doctype_naming_a_fifo_is_refused_without_opening_it(
    server_world: ServerWorld, tmp_path: Path, kit: DialectKit, variant: str, form: str
) -> None:
    """A FIFO blocks whoever opens it for reading until a writer comes: if the parser opened the local file a
    DOCTYPE names, the request (and the event loop it runs on) would hang."""
    world = server_world(kit)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    doctype = {"external DTD": '<!DOCTYPE e SYSTEM "{url}">',
               "parameter entity": '<!DOCTYPE e [<!ENTITY % p SYSTEM "{url}"> %p;]>'}[form]  # fmt: skip
    seed = kit.seed(world, variant, kit.target(world, "seed"))
    text = seed.body.decode()
    declaration, _, rest = text.partition("?>")
    sent = kit.garbage(world, variant, f"{declaration}?>{doctype.format(url=fifo.as_uri())}{rest}".encode())
    with httpx.Client(base_url=world.state["server"].url, timeout=5.0) as http:
        try:
            answer = http.request(sent.method, sent.path, content=sent.body, headers=dict(sent.headers))
        except httpx.ReadTimeout:
            _release(fifo)
            pytest.fail(f"the server opened {fifo}, the local file a DOCTYPE named ({form}), and hung on it")
    refusal = kit.refusal(answer)
    assert refusal.code.partition(".")[0] == kit.client_code(variant), refusal
    assert refusal.text == kit.gate_text("DTD is prohibited in this XML document."), refusal


def _release(fifo: Path) -> None:
    """Open the FIFO's writing end and close it: a reader blocked in open() then reads end-of-file."""
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def spellings(secret: str) -> set[str]:
    """The ways a secret could be written into a log line: as is, URL-encoded, escaped for XML or repr."""
    return {
        secret,
        urllib.parse.quote(secret),
        urllib.parse.quote_plus(secret),
        secret.replace("!", "&#33;"),
        repr(secret)[1:-1],
    }


@pytest.mark.parametrize("kit", KITS, ids=lambda kit: kit.name)
def test_no_password_and_no_token_reaches_the_server_log(server_world: ServerWorld, kit: DialectKit) -> None:
    """Every caller (good and bad passwords, live, expired and logged-out tokens) over every variant, the seed, a
    malformed seed and one with a DOCTYPE: the log at debug level holds none of the kit's secrets, in any spelling,
    and no envelope; every request has its access-log line."""
    world = server_world(kit)
    ids: list[str] = []
    for variant in kit.variants:
        op = kit.operations[0]
        for caller in kit.callers:
            ids.append(kit.call(world, variant, op, caller, kit.target(world, op)).headers["x-request-id"])
        if variant in kit.xml_variants:
            seed = kit.seed(world, variant, kit.target(world, "seed"))
            declaration, _, rest = seed.body.decode().partition("?>")
            doctype = f'{declaration}?><!DOCTYPE e [<!ENTITY d "x">]>{rest}'.encode()
            for body in (seed.body, seed.body[:-40], doctype):
                ids.append(world.send(kit.garbage(world, variant, body)).headers["x-request-id"])
    server = world.state["server"]
    wait_until(lambda: all(f"request_id='{i}'" in server.log_text() for i in ids), 10.0,
               message=lambda: "an access-log line for every request")  # fmt: skip
    log = server.log_text()
    for secret in kit.secrets(world):
        for spelling in spellings(secret):
            where = [line[:300] for line in log.splitlines() if spelling in line]
            assert not where, f"the server log holds {spelling!r}:\n" + "\n".join(where)
    assert not re.search(r"<\w*:?Envelope", log), "the server log holds an envelope"
