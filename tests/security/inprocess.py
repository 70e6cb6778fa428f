"""The app built in this process (`create_app(Settings(...))`) and driven through httpx's ASGI transport, so a
test can choose the client address the gateway sees, or watch what the request does inside the process."""

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from jobgate.app import create_app
from jobgate.domain.model import ADMIN_GROUP, Actor, Channel, JobSpec, User
from support.factories import settings_for

LOOPBACK = ("127.0.0.1", 50123)
REMOTE = ("203.0.113.9", 5555)  # TEST-NET-3: never a local address


@contextmanager
def app_in_process(tmp_path: Path, **overrides: Any) -> Iterator[Starlette]:
    """A fresh app on a SQLite file in tmp_path (schema by Alembic, no runners, cheap hashing)."""
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'jobgate.db'}", tmp_path / "data", **overrides))
    try:
        yield app
    finally:
        app.state.components.engine.dispose()


def add_user(app: Starlette, name: str, password: str, wsid: int, *, admin: bool = False) -> User:
    groups = [ADMIN_GROUP] if admin else []
    user: User = app.state.components.identity.add_user(name, password, groups, numbered={"wsid": wsid})
    return user


def submit_sleep(app: Starlette, user: User) -> int:
    job = app.state.components.jobs.submit(Actor.of(user, Channel.CLI), JobSpec("sleep", {"seconds": 60}, "p"))
    return int(job.id)


def request(
    app: Starlette,
    method: str,
    url: str,
    *,
    client: tuple[str, int] = LOOPBACK,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """One request through the ASGI app, from `client` as the scope's peer address."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.request(method, url, content=content, headers=headers)

    return asyncio.run(send())
