"""The integration tier: the real store on SQLite and PostgreSQL (db_url), the real runners and the CLI."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobgate.app import Components
from jobgate.domain.model import Actor
from support.factories import components, settings_for, user_actor


@pytest.fixture
def parts(db_url: str, tmp_path: Path) -> Iterator[Components]:
    """The wired store and service layer (no runner threads) on each backend."""
    with components(settings_for(db_url, tmp_path / "data")) as built:
        yield built


@pytest.fixture
def alice(parts: Components) -> Actor:
    return user_actor(parts, "alice")


@pytest.fixture
def bob(parts: Components) -> Actor:
    return user_actor(parts, "bob")


@pytest.fixture
def admin(parts: Components) -> Actor:
    return user_actor(parts, "root", admin=True)
