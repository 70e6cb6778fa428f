"""Configuration A: raw ASGI, read the body, answer a constant reply (the framework ceiling)."""

from typing import Final

from bench.refs import cisco, wire
from bench.refs.common import Receive, Scope, Send, operation_of_path, read_body, respond

_STATUS: Final = wire.status_response(1)
_ASMX_STATUS: Final = wire.asmx_int(1)


def make_app() -> object:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await read_body(receive)
        if cisco.is_cisco(scope):
            await respond(send, 200, cisco.constant_reply(), cisco.XML)
            return
        if operation_of_path(scope) is not None:
            await respond(send, 200, _ASMX_STATUS)
            return
        action = dict(scope["headers"]).get(b"soapaction", b"")
        await respond(send, 200, _STATUS if b"GetJobStatus" in action else wire.cancel_response())

    return app
