"""The port contract: every test here runs on the fake (tests/support/fakes.py) and on the SQL store on
SQLite and on PostgreSQL, each built by Alembic. A behaviour is specified once, for all three."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.store import Store, fake_store, sql_store

IMPLEMENTATIONS = ("fake", "sqlite", "postgresql")


@pytest.fixture(params=IMPLEMENTATIONS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "fake":
        yield fake_store()
        return
    url = f"sqlite:///{tmp_path / 'ports.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with sql_store(url, request.param) as built:
        yield built
