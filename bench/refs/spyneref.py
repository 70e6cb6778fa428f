"""Configurations D and D2: a bare Spyne 2.14 jobs service (Soap11 in/out, no validator; HttpRpc for the
ASMX HTTP GET binding) doing the same job statements as E. D serves it through a2wsgi (10 threads),
D2 calls the WSGI app inline on the event loop through a 30-line shim (no bridge, no threads)."""

import io
from collections.abc import Callable, Iterable
from typing import Any

from spyne import Application, Fault, Integer, Long, ServiceBase, Unicode, rpc
from spyne.protocol.http import HttpRpc
from spyne.protocol.soap import Soap11
from spyne.protocol.xml import XmlDocument
from spyne.server.wsgi import WsgiApplication

from bench.refs.common import TNS, JobTable, Receive, Scope, Send, Users, read_body

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Context:
    def __init__(self, jobs: JobTable, users: Users) -> None:
        self.jobs, self.users = jobs, users

    def owner(self, wsid: int | None, pw: str | None) -> str:
        owner = self.users.owner(str(wsid), pw)
        if owner is None:
            raise Fault("Client", "Invalid WebServicesID or password.")
        return owner


class Jobs(ServiceBase):  # type: ignore[misc]
    @rpc(Long, Unicode, Long, _returns=None)  # type: ignore[untyped-decorator]
    def CancelJob(ctx: Any, wsId: int, pw: str, jobId: int) -> None:
        call: _Context = ctx.udc
        call.jobs.cancel(call.owner(wsId, pw), jobId)

    @rpc(Long, Unicode, Long, _returns=Integer)  # type: ignore[untyped-decorator]
    def GetJobStatus(ctx: Any, wsId: int, pw: str, jobId: int) -> int:
        call: _Context = ctx.udc
        status = call.jobs.status(call.owner(wsId, pw), jobId)
        if status is None:
            raise Fault("Client", "No such job.")
        return status


def _application(in_protocol: Any, out_protocol: Any, context: _Context) -> WsgiApplication:
    app = Application([Jobs], tns=TNS, name="Jobs", in_protocol=in_protocol, out_protocol=out_protocol)
    app.event_manager.add_listener("method_call", lambda ctx: setattr(ctx, "udc", context))
    return WsgiApplication(app)


def wsgi_app(jobs: JobTable, users: Users) -> Wsgi:
    """SOAP 1.1 at the endpoint, HttpRpc at `…/jobs.asmx/<Op>`."""
    context = _Context(jobs, users)
    soap = _application(Soap11(), Soap11(), context)
    http = _application(HttpRpc(validator="soft"), XmlDocument(), context)

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        op = path.rpartition("/")[2] if path.rpartition("/")[0].lower().endswith(".asmx") else None
        if op:
            environ["PATH_INFO"] = f"/{op}"
            return http(environ, start_response)  # type: ignore[no-any-return]
        return soap(environ, start_response)  # type: ignore[no-any-return]

    return dispatch


def through_a2wsgi(jobs: JobTable, users: Users) -> object:
    from a2wsgi import WSGIMiddleware

    return WSGIMiddleware(wsgi_app(jobs, users), workers=10)  # type: ignore[arg-type]


def inline(jobs: JobTable, users: Users) -> object:
    """The WSGI app called directly on the event loop: read the body, call, send what it returned."""
    app = wsgi_app(jobs, users)

    async def shim(scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        environ = _environ(scope, body)
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., None]:
            started[:] = [status, headers]
            return lambda _data: None

        result = app(environ, start_response)
        payload = b"".join(result)
        getattr(result, "close", lambda: None)()
        status, headers = started
        kept = [(k.lower().encode(), v.encode()) for k, v in headers if k.lower() != "content-length"]
        kept.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": int(status.split(" ", 1)[0]), "headers": kept})
        await send({"type": "http.response.body", "body": payload})

    return shim


def _environ(scope: Scope, body: bytes) -> dict[str, Any]:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    server = scope.get("server") or ("127.0.0.1", 80)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": scope["path"],
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "CONTENT_TYPE": headers.get("content-type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    environ.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
    return environ
