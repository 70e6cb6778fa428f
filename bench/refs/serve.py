"""Run one reference configuration under uvicorn (1 worker, no access log, graceful shutdown 2 s).

python -m bench.refs.serve {A,D,D2,E} --port P (--db PATH | --url POSTGRESQL_URL) --user WSID:PW:NAME [--user …]

With --url (E_pg), the same statements go to PostgreSQL through psycopg 3 with SQLAlchemy's pool of 10.
"""

import argparse
from collections.abc import Callable
from typing import Any, Final

import uvicorn
from sqlalchemy import create_engine

from bench.refs import hand, raw, spyneref
from bench.refs.common import JobTable, Users, sqlite_engine

CONFIGS: Final[dict[str, Callable[[JobTable, Users], Any]]] = {
    "A": lambda jobs, users: raw.make_app(),
    "D": spyneref.through_a2wsgi,
    "D2": spyneref.inline,
    "E": hand.make_app,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", choices=sorted(CONFIGS))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", help="SQLite file holding jobgate's jobs table")
    parser.add_argument("--url", help="or a PostgreSQL URL (postgresql+psycopg://…) of a jobgate store")
    parser.add_argument("--user", action="append", default=[], help="WSID:PASSWORD:NAME (repeatable)")
    args = parser.parse_args()
    jobs = JobTable(create_engine(args.url, pool_size=10) if args.url else sqlite_engine(args.db))
    app = _with_readiness(CONFIGS[args.config](jobs, Users.parse(args.user)))
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, workers=1, access_log=False, log_level="warning",
        timeout_graceful_shutdown=2, lifespan="off",
    )  # fmt: skip


def _with_readiness(app: Any) -> Any:
    """GET /readyz → 200, so the harness waits for every server the same way."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/readyz":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
            await send({"type": "http.response.body", "body": b"ready"})
            return
        await app(scope, receive, send)

    return wrapped


if __name__ == "__main__":
    main()
