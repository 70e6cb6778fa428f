"""Tables, indexes and constraints: the only place column names live."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)

from jobgate.domain.model import Channel
from jobgate.domain.states import JobState

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (no time zones) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], datetime | None] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def from_text(value: str | None) -> datetime | None:
            # SQLite keeps naive UTC as ISO text; one C-level parse instead of the regex-based processor plus
            # process_result_value, which cost several times more (five of them per job row)
            return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)

        return from_text


def _one_of(column: str, values: list[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


STATES = [s.value for s in JobState]
PROTOCOLS = [p.value for p in Channel]

users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("password_hash", String(255), nullable=False),
    Column("groups", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("password_changed_at", UtcDateTime, nullable=False),
)

user_aliases = Table(
    "user_aliases",
    metadata,
    Column("kind", String(32), primary_key=True),  # the namespace, owned by a dialect: CasJobs' "wsid"
    Column("value", String(128), primary_key=True),
    Column("user_name", String(64), ForeignKey("users.name"), nullable=False),
    UniqueConstraint("user_name", "kind"),  # one alias of each kind per user
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(32), nullable=False, unique=True),
    Column("owner", String(64), nullable=False),
    Column("project", String(255), nullable=False),
    Column("task", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("params", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("queue", String(64), nullable=False, server_default="default"),
    Column("synchronous", Boolean, nullable=False, server_default=false()),
    Column("system", Boolean, nullable=False, server_default=false()),
    Column("deleted", Boolean, nullable=False, server_default=false()),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime),
    Column("ended_at", UtcDateTime),
    Column("state_changed_at", UtcDateTime, nullable=False),
    Column("rows", BigInteger),
    Column("result", Text),
    Column("error", Text),
    Column("output_loc", Text),
    Column("runner_id", String(128)),
    Column("heartbeat_at", UtcDateTime),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("version", Integer, nullable=False, server_default="1"),
    CheckConstraint(_one_of("state", STATES), name="state"),
    Index(None, "state", "id"),  # the runners' claim: oldest Submitted first
    Index(None, "owner", "id"),  # a user's own jobs, newest or oldest first
    Index(None, "project", "id"),  # Birst spaces, ArcGIS services, Trans-WS projects
    Index(None, "state", "heartbeat_at"),  # the sweep of dead runners' jobs
    Index(None, "state", "state_changed_at"),  # the watchdog of jobs stuck Canceling
)

job_events = Table(
    "job_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job_id", Id, ForeignKey("jobs.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("stage", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("protocol", String(16), nullable=False),
    Column("reason", Text),
    UniqueConstraint("job_id", "seq"),
    CheckConstraint(_one_of("to_state", STATES), name="to_state"),
    CheckConstraint(_one_of("protocol", PROTOCOLS), name="protocol"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("owner", String(64), ForeignKey("users.name"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index(None, "owner"),
    Index(None, "expires_at"),
)
