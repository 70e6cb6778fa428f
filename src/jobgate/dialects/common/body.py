"""Reading a request body under a byte cap: refused from Content-Length before reading, and reading
stops at the cap when the length is missing or false."""

from starlette.types import Receive, Scope


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    """The client disconnected before its body was read."""


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
    if declared is not None:
        try:
            if int(declared) > limit:
                raise BodyTooLarge()
        except ValueError:
            raise BodyTooLarge() from None  # a Content-Length that is not a number is not trusted at all
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
