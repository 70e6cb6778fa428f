"""Run the ASGI app under uvicorn: one process, or several sharing one listening socket."""

import gc
import multiprocessing
import socket
from collections.abc import Sequence

import uvicorn

from jobgate import logs
from jobgate.config import Settings
from jobgate.dialects import registry
from jobgate.dialects.common import Dialect
from jobgate.dialects.soap.spyne_apps import without_forced_collections
from jobgate.httpguard import HttpLimits, guarded_protocol


def _config(settings: Settings, migrate: bool) -> uvicorn.Config:
    from jobgate.app import create_app

    app = create_app(settings, migrate=migrate)
    limits = HttpLimits(settings.http_max_header_bytes, settings.http_max_headers, settings.http_read_timeout_s)
    # the trusted-proxy rule: X-Forwarded-For/-Proto are read only from JOBGATE_TRUSTED_PROXIES (uvicorn would
    # otherwise believe them from 127.0.0.1, or from whatever FORWARDED_ALLOW_IPS says); empty: from nobody
    return uvicorn.Config(
        app, host=settings.host, port=settings.port, access_log=False, log_config=None,
        timeout_graceful_shutdown=5, lifespan="on", http=guarded_protocol(limits),
        limit_concurrency=settings.max_connections, proxy_headers=bool(settings.trusted_proxy_list),
        forwarded_allow_ips=settings.trusted_proxy_list,
    )  # fmt: skip


def banner(settings: Settings, dialects: Sequence[Dialect]) -> str:
    """The start-up banner the README promises: the index, every dialect's endpoints, the metrics."""
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    lines = [f"jobgate serving on {base}  (database {settings.database_url})", f"  index     {base}/"]
    for dialect in dialects:
        lines += [f"  {line.label:<9} {base}{line.path}  {line.note}".rstrip() for line in dialect.banner]
    lines.append(f"  metrics   {base}/metrics")
    return "\n".join(lines)


def _banner(settings: Settings) -> None:
    print(banner(settings, registry()), flush=True)  # noqa: T201 - the start-up banner


def run(settings: Settings, migrate: bool = True) -> None:
    without_forced_collections()
    if settings.workers == 1:
        config = _config(settings, migrate)
        _banner(settings)
        server = uvicorn.Server(config)
        gc.freeze()  # objects built at start-up never need collecting again
        server.run()
        return
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    _banner(settings)
    spawn = multiprocessing.get_context("spawn")
    procs = [
        spawn.Process(target=_child, args=(settings.model_dump(), sock, migrate and n == 0), daemon=False)
        for n in range(settings.workers)
    ]
    for proc in procs:
        proc.start()
    try:
        for proc in procs:
            proc.join()
    except KeyboardInterrupt:
        for proc in procs:
            proc.terminate()
            proc.join()


def _child(values: dict[str, object], sock: socket.socket, migrate: bool) -> None:
    settings = Settings.model_validate(values)
    logs.configure(settings.log_level)
    without_forced_collections()
    config = _config(settings, migrate)
    server = uvicorn.Server(config)
    gc.freeze()
    server.run(sockets=[sock])
