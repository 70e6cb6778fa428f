"""Reading a request body under a byte cap: refused from Content-Length before reading, and reading
stops at the cap when the length is missing or false. A large form body is parsed off the event loop."""

import urllib.parse
from typing import Final

import anyio.to_thread
from starlette.types import Receive, Scope

# a form body above this is parsed in a worker thread: 2 MiB of %-escapes takes a quarter of a second to parse,
# which on the event loop would stall every other request meanwhile
INLINE_FORM_BYTES: Final = 64 * 1024


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


async def form_pairs(body: bytes, max_fields: int, *, strict: bool = False) -> list[tuple[str, str]]:
    """The fields of a url-encoded UTF-8 form body, in order. UnicodeDecodeError for a body that is not UTF-8;
    ValueError for more than `max_fields` fields or (`strict`) an escape that is not UTF-8."""

    def parse() -> list[tuple[str, str]]:
        text = body.decode("utf-8")
        errors = "strict" if strict else "replace"
        return urllib.parse.parse_qsl(text, keep_blank_values=True, max_num_fields=max_fields, errors=errors)

    if len(body) <= INLINE_FORM_BYTES:
        return parse()
    return await anyio.to_thread.run_sync(parse)
