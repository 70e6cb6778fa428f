"""The server turns SQLite's auto-checkpoint off (it stalls a commit ~30 ms) and checkpoints in a thread."""

from pathlib import Path

from jobgate.store.engine import checkpoint, make_engine
from jobgate.store.migrate import upgrade

FILL = (
    "INSERT INTO filler SELECT hex(randomblob(500)) FROM "
    "(WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n < 2000) SELECT n FROM c)"
)


def test_background_checkpoint_moves_the_whole_wal_into_the_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}", background_checkpoint=True)
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE filler (x TEXT)")
        conn.exec_driver_sql(FILL)
    busy, wal_pages, moved = checkpoint(engine)
    engine.dispose()
    assert (busy, moved) == (0, wal_pages)
    assert wal_pages > 100  # nothing was checkpointed by the commits themselves
