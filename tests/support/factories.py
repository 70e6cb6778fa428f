"""Build real components for integration tests: settings, the wired app parts, users and jobs."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobgate.app import Components, build
from jobgate.config import Settings
from jobgate.domain.model import ADMIN_GROUP, Actor, Channel, Job, JobSpec

CHEAP_ARGON2: dict[str, Any] = {"argon2_time_cost": 1, "argon2_memory_kib": 8}


def settings_for(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test: cheap hashing, no runners unless asked, everything else explicit."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "runners": 0,
        "cancel_grace_s": 2.0,
        "heartbeat_s": 0.2,
        "stale_after_s": 5.0,
        "cancel_margin_s": 5.0,
        "access_log": False,
        **CHEAP_ARGON2,
    }
    values.update(overrides)
    return Settings(**values)


@contextmanager
def components(settings: Settings) -> Iterator[Components]:
    """build(settings), with the runner pool stopped and the engine disposed afterwards."""
    parts = build(settings)
    try:
        yield parts
    finally:
        parts.pool.stop()
        parts.engine.dispose()


def user_actor(parts: Components, name: str, *, admin: bool = False) -> Actor:
    """Add a user and return them as a CLI actor."""
    groups = [ADMIN_GROUP] if admin else []
    user = parts.identity.add_user(name, f"{name}-password", groups, numbered={"wsid": None})  # as `user add` does
    return Actor.of(user, Channel.CLI)


def sleep_job(parts: Components, actor: Actor, seconds: float = 60, project: str = "p") -> Job:
    return parts.jobs.submit(actor, JobSpec("sleep", {"seconds": seconds}, project))


def expired_token(engine: Any, owner: str, kind: str) -> str:
    """A token of `kind` for `owner` that expired an hour ago, written straight into the store (the token
    service issues live tokens only)."""
    from datetime import UTC, datetime, timedelta
    from secrets import token_hex

    from jobgate.services.tokens import digest
    from jobgate.store import SqlUnitOfWorkFactory

    token, past = token_hex(16), datetime.now(UTC) - timedelta(hours=2)
    with SqlUnitOfWorkFactory(engine)() as uow:
        uow.tokens.add(digest(token), owner, kind, past, past + timedelta(hours=1))
        uow.commit()
    return token
