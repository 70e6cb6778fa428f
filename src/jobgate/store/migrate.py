"""Schema migrations: `jobgate db upgrade` and serve's start-up upgrade run Alembic to head."""

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


def alembic_dir() -> Path:
    """`alembic/` beside `src/` in a checkout, or the copy shipped inside the wheel."""
    checkout = Path(__file__).resolve().parents[3] / "alembic"
    if (checkout / "env.py").is_file():
        return checkout
    return Path(str(resources.files("jobgate") / "_data" / "alembic"))


def alembic_config(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(alembic_dir()))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head", direct_url: str | None = None) -> None:
    """Upgrade the schema; through `direct_url` when given (the migrations hold a session-level advisory lock,
    which a transaction-mode pooler would not keep on one server connection)."""
    if direct_url is not None:
        from jobgate.store.engine import make_engine

        direct = make_engine(direct_url, pool_size=1)
        try:
            upgrade(direct, revision)
        finally:
            direct.dispose()
        return
    with engine.connect() as conn:
        command.upgrade(alembic_config(conn), revision)
        conn.commit()
        if engine.dialect.name == "sqlite":
            conn.invalidate()  # migrations turn SQLite's foreign-key checks off on it (alembic/env.py): never reused


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config(None)).get_current_head()
