"""HTTP facts every dialect reads the same way: who the client is, and the base URL it used."""

import base64
import binascii
import re
from typing import Final

from starlette.datastructures import Headers
from starlette.types import Scope

_HOST: Final = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def is_loopback(scope: Scope) -> bool:
    """The peer address is the local machine (X-Forwarded-For is never consulted here)."""
    client = scope.get("client")
    host = str(client[0]) if client else ""
    return host == "::1" or host.startswith("127.") or host == "::ffff:127.0.0.1"


def client_address(scope: Scope) -> str:
    client = scope.get("client") or ("", 0)
    return str(client[0])


def request_base_url(scope: Scope, public_url: str | None) -> str:
    """The scheme, host and port the client used; JOBGATE_PUBLIC_URL wins when set. A Host header that is
    not a plain host[:port] is not echoed: the server's own address is used instead."""
    if public_url:
        return public_url
    host = Headers(scope=scope).get("host", "")
    if not _HOST.match(host):
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"


def basic_credentials(scope: Scope) -> tuple[str, str] | None:
    """The user name and password of an `Authorization: Basic` header (RFC 7617, UTF-8), or None when
    there is none or it cannot be read."""
    header = Headers(scope=scope).get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None
