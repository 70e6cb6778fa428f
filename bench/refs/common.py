"""What the reference servers share: the job statements (SQLAlchemy Core on SQLite, WAL,
synchronous=NORMAL), the credential look-up, and the raw ASGI plumbing. Stand-alone: imports no jobgate."""

import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    select,
    update,
)

TNS: Final = "http://Services.Cas.jhu.edu"
SOAP11: Final = "http://schemas.xmlsoap.org/soap/envelope/"
STATUS: Final = {"Submitted": 0, "Suspended": 0, "Executing": 1, "Canceling": 2, "Cancelled": 3, "Failed": 4}
STATUS_FINISHED: Final = 5

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_jobs = Table(
    "jobs",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("owner", String),
    Column("state", String),
    Column("state_changed_at", DateTime),
    Column("version", Integer),
)
# The compare-and-set of perf-ceiling.md D/E, on jobgate's own table.
_CANCEL: Final = (
    update(_jobs)
    .where(
        _jobs.c.id == bindparam("job"), _jobs.c.owner == bindparam("who"), _jobs.c.state.in_(["Submitted", "Executing"])
    )
    .values(state="Canceling", state_changed_at=bindparam("at"), version=_jobs.c.version + 1)
)
_STATE: Final = select(_jobs.c.state).where(_jobs.c.id == bindparam("job"), _jobs.c.owner == bindparam("who"))


def sqlite_engine(path: str, pool_size: int = 10) -> Engine:
    engine = create_engine(
        f"sqlite:///{path}", pool_size=pool_size, connect_args={"check_same_thread": False, "timeout": 10}
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


@dataclass
class JobTable:
    engine: Engine

    def cancel(self, owner: str, job_id: int) -> bool:
        at = datetime.now(UTC).replace(tzinfo=None)
        with self.engine.begin() as conn:
            return conn.execute(_CANCEL, {"job": job_id, "who": owner, "at": at}).rowcount == 1

    def status(self, owner: str, job_id: int) -> int | None:
        with self.engine.connect() as conn:
            state = conn.execute(_STATE, {"job": job_id, "who": owner}).scalar()
        return None if state is None else STATUS.get(state, STATUS_FINISHED)


@dataclass
class Users:
    """(wsid, password) → user name: what a verified-credential cache hit gives (no hashing here)."""

    known: dict[tuple[str, str], str]

    @classmethod
    def parse(cls, specs: list[str]) -> "Users":
        known = {}
        for spec in specs:
            wsid, password, name = spec.split(":", 2)
            known[(wsid, password)] = name
        return cls(known)

    def owner(self, wsid: str | None, password: str | None) -> str | None:
        return self.known.get((wsid or "", password or ""))

    def named(self, name: str, password: str) -> str | None:
        """The user of an HTTP Basic pair (Cisco), found by name instead of wsid."""
        return name if any(user == name and pw == password for (_, pw), user in self.known.items()) else None


def query_args(scope: Scope) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(scope["query_string"].decode("latin-1")))


def operation_of_path(scope: Scope) -> str | None:
    """`…/jobs.asmx/<Op>` (the ASMX HTTP GET binding) → Op; the SOAP endpoint itself → None."""
    path: str = scope["path"]
    head, _, tail = path.rpartition("/")
    return tail if head.lower().endswith(".asmx") else None


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def respond(send: Send, status: int, body: bytes, content_type: bytes = b"text/xml; charset=utf-8") -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
