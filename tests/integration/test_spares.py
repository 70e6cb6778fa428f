"""Spare SQLite connections (store/unit_of_work.py): at most `keep` of them, only idle ones, last in first out."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from jobgate.store.engine import make_engine
from jobgate.store.unit_of_work import Spares


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    built = make_engine(f"sqlite:///{tmp_path / 'spares.db'}")
    yield built
    built.dispose()


def test_at_most_keep_idle_connections_stay_out_of_the_pool_for_reuse(engine: Engine) -> None:
    spares = Spares(engine, keep=2)
    taken = [spares.take() for _ in range(3)]
    for raw in taken:
        spares.give_back(raw)
    assert engine.pool.checkedout() == 2  # the third went back to the pool
    assert spares.take() is taken[1]  # last kept, first reused


def test_a_connection_handed_back_inside_a_transaction_is_not_kept(engine: Engine) -> None:
    spares = Spares(engine, keep=2)
    raw = spares.take()
    raw.driver_connection.execute("BEGIN")
    spares.give_back(raw)
    assert engine.pool.checkedout() == 0
