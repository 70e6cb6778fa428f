"""The stores the benchmark runs on: users through `jobgate user add`, jobs by bulk SQL (never the API).

Jobs are written with the columns the app writes (src/jobgate/store/tables.py) and their first history
events: `submit` (seq 1) and, for Executing jobs, `start` (seq 2, version 2), as a runner's claim leaves
them. Seeded Executing jobs have no heartbeat, so the stale-runner sweep leaves them alone.
"""

import json
import secrets
import sqlite3
import time
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, create_engine, func, insert, select, text
from sqlalchemy.pool import NullPool

from bench.plan import ADMIN_USER, ARCGIS_TOKEN, BENCH_SPACE, BENCH_USER, BIRST_TOKEN, Account
from bench.servers import add_user
from jobgate.services.tokens import digest
from jobgate.store.tables import job_events, jobs, tokens

PG_BASE: Final = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SEED_RUNNER: Final = "bench:seed"
SLEEP_PARAMS: Final = json.dumps({"seconds": "3600"})

_SEED_JOBS: Final = text(
    """
    INSERT INTO jobs (id, key, owner, project, task, name, params, state, queue, synchronous, system, deleted,
                      submitted_at, started_at, state_changed_at, runner_id, heartbeat_at, attempts, version)
    WITH RECURSIVE n(id) AS (SELECT :first UNION ALL SELECT id + 1 FROM n WHERE id < :last)
    SELECT id, printf('%032x', id), :owner, :project, 'sleep', '', :params, 'Executing', 'default', 0, 0, 0,
           :now, :now, :now, :runner, NULL, 1, 2
    FROM n
    """
)
_SEED_EVENTS: Final = text(
    """
    INSERT INTO job_events (job_id, seq, stage, status, from_state, to_state, at, actor, protocol, reason)
    SELECT id, 1, 'submit', 'ok', NULL, 'Submitted', :now, owner, 'cli', NULL
    FROM jobs WHERE id BETWEEN :first AND :last
    UNION ALL
    SELECT id, 2, 'start', 'ok', 'Submitted', 'Executing', :now, 'system', 'runner', NULL
    FROM jobs WHERE id BETWEEN :first AND :last
    """
)
# Undo what a run did: drop the later events of moved jobs, then put the jobs back to Executing.
_MOVED: Final = "state IN ('Submitted', 'Suspended', 'Canceling', 'Cancelled', 'Failed', 'Finished')"  # index
_RESET_EVENTS: Final = text(f"DELETE FROM job_events WHERE seq > 2 AND job_id IN (SELECT id FROM jobs WHERE {_MOVED})")
_RESET_JOBS: Final = text(
    f"""
    UPDATE jobs SET state = 'Executing', version = 2, state_changed_at = :now, ended_at = NULL, error = NULL,
                    runner_id = :runner
    WHERE {_MOVED}
    """
)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def sqlite_engine(path: Path) -> Engine:
    return create_engine(sqlite_url(path), poolclass=NullPool, connect_args={"timeout": 30})


def _stamp(at: datetime) -> str:
    """How SQLAlchemy's DateTime stores a (naive UTC) time in SQLite."""
    return at.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def make_template(path: Path, log_dir: Path) -> Path:
    """A SQLite store with the schema (`jobgate user add` upgrades it) and the bench users."""
    for account in (BENCH_USER, ADMIN_USER):
        add_user(account, sqlite_url(path), log_dir)
    seed_token(path, BENCH_USER.name, "birst", BIRST_TOKEN)
    seed_token(path, BENCH_USER.name, "arcgis", ARCGIS_TOKEN)
    return path


def seed_token(path: Path, owner: str, kind: str, token: str) -> None:
    """A live login token (years from expiry: no sliding renewal writes during a run) for the Birst and
    ArcGIS rows."""
    now = datetime.now(UTC)
    engine = sqlite_engine(path)
    with engine.begin() as conn:
        conn.execute(insert(tokens).values(token_hash=digest(token), owner=owner, kind=kind, created_at=now,
                                           expires_at=now.replace(year=now.year + 10)))  # fmt: skip
    engine.dispose()


def copy_store(template: Path, path: Path) -> Path:
    """A consistent copy (SQLite's backup API: no stray WAL to carry along)."""
    with sqlite3.connect(template) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    return path


def seed_executing(path: Path, first: int, last: int, owner: str = BENCH_USER.name) -> float:
    """Jobs `first..last`, Executing and owned by `owner`, in one transaction; returns the seconds it took."""
    started = time.monotonic()
    values = {"first": first, "last": last, "owner": owner, "params": SLEEP_PARAMS, "runner": SEED_RUNNER}
    values |= {"now": _stamp(datetime.now(UTC)), "project": BENCH_SPACE}
    engine = sqlite_engine(path)
    with engine.begin() as conn:
        conn.execute(_SEED_JOBS, values)
        conn.execute(_SEED_EVENTS, values)
    engine.dispose()
    return time.monotonic() - started


def reset(path: Path) -> None:
    """Put moved jobs back to Executing, then checkpoint and truncate the WAL: every measured run starts
    from the same store, and neither this bulk rewrite nor the previous run (often another server's) leaves
    checkpoint work behind for the next server to do while it is measured."""
    engine = sqlite_engine(path)
    with engine.begin() as conn:
        conn.execute(_RESET_EVENTS)
        conn.execute(_RESET_JOBS, {"now": _stamp(datetime.now(UTC)), "runner": SEED_RUNNER})
    deadline = time.monotonic() + 30
    with engine.connect() as conn:
        # busy while another connection runs a checkpoint (jobgate's background checkpointer): try again
        while conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()[0]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path}: the WAL could not be truncated within 30 s")
            time.sleep(0.02)
    engine.dispose()


def count_state(path: Path, state: str) -> int:
    """Jobs in one state (an index range scan: cheap even on a store of a million jobs)."""
    engine = sqlite_engine(path)
    with engine.connect() as conn:
        found = conn.execute(select(func.count()).select_from(jobs).where(jobs.c.state == state)).scalar_one()
    engine.dispose()
    return int(found)


def count_states(path: Path) -> dict[str, int]:
    engine = sqlite_engine(path)
    with engine.connect() as conn:
        rows = conn.execute(select(jobs.c.state, func.count()).group_by(jobs.c.state)).tuples().all()
    engine.dispose()
    return dict(rows)


# -- PostgreSQL: a throwaway schema per case ---------------------------------------------------------------


@contextmanager
def postgres_schema(log_dir: Path) -> Iterator[str]:
    """A fresh schema in database `test`, its URL (search_path set), the bench users; dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_BASE, poolclass=NullPool)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = f"{PG_BASE}?options=-csearch_path%3D{schema}"
        add_user(BENCH_USER, url, log_dir)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def postgres_version() -> str:
    try:
        engine = create_engine(PG_BASE, poolclass=NullPool)
        with engine.connect() as conn:
            version = str(conn.execute(text("SHOW server_version")).scalar_one())
        engine.dispose()
        return version
    except Exception as exc:  # reported in the machine facts, never fatal here
        return f"unreachable ({type(exc).__name__})"


# -- one job at a time, on either backend (the cancel-latency cases) ---------------------------------------


@dataclass
class JobStore:
    """Core statements on jobgate's own tables, for one database URL."""

    engine: Engine

    @classmethod
    def open(cls, url: str) -> "JobStore":
        args: dict[str, Any] = {"timeout": 30} if url.startswith("sqlite") else {}
        return cls(create_engine(url, pool_size=2, connect_args=args))  # pooled: polls must not reconnect

    def submit(self, owner: Account, task: str, params: dict[str, str]) -> int:
        now = datetime.now(UTC)
        row = {
            "key": secrets.token_hex(16), "owner": owner.name, "project": "", "task": task, "name": "bench",
            "params": params, "state": "Submitted", "queue": "long", "synchronous": False, "system": False,
            "deleted": False, "submitted_at": now, "state_changed_at": now, "attempts": 0, "version": 1,
        }  # fmt: skip
        event = {"seq": 1, "stage": "submit", "status": "ok", "to_state": "Submitted", "at": now}
        with self.engine.begin() as conn:
            job_id = int(conn.execute(insert(jobs).values(row).returning(jobs.c.id)).scalar_one())
            conn.execute(insert(job_events).values(job_id=job_id, actor=owner.name, protocol="cli", **event))
        return job_id

    def state(self, job_id: int) -> str:
        with self.engine.connect() as conn:
            return str(conn.execute(select(jobs.c.state).where(jobs.c.id == job_id)).scalar_one())

    def wait_state(self, job_id: int, states: Collection[str], timeout_s: float, poll_s: float = 0.005) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            state = self.state(job_id)
            if state in states or time.monotonic() > deadline:
                return state
            time.sleep(poll_s)

    def event_times(self, job_id: int) -> dict[str, datetime]:
        """stage → time of the job's history events (aware UTC, millisecond resolution)."""
        query = select(job_events.c.stage, job_events.c.at).where(job_events.c.job_id == job_id)
        with self.engine.connect() as conn:
            return {stage: at for stage, at in conn.execute(query).tuples()}

    def close(self) -> None:
        self.engine.dispose()
