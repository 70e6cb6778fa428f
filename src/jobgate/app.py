"""The composition root: builds the store, the service layer, the runners and one ASGI app."""

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware

from jobgate import ops
from jobgate.clock import SystemClock
from jobgate.config import Settings
from jobgate.dialects.common import DialectOptions, Mount, Mounted
from jobgate.dialects.common.soap import AsmxRoute
from jobgate.runner import RunnerPool
from jobgate.runner.tasks import SqlLimits, Task, TaskContext
from jobgate.runner.tasks.command import command_task
from jobgate.runner.tasks.extract import extract
from jobgate.runner.tasks.sandbox import limit_heap
from jobgate.runner.tasks.sleep import sleep
from jobgate.runner.tasks.sql import sql_task
from jobgate.runner.tasks.upload import upload
from jobgate.services import Authenticator, AuthPolicy, JobService, Runtime
from jobgate.store import SqlUnitOfWorkFactory, make_engine
from jobgate.store.credentials import Argon2Hasher
from jobgate.store.engine import is_sqlite, start_checkpointer
from jobgate.store.migrate import upgrade

log = logging.getLogger(__name__)


@dataclass
class Components:
    settings: Settings
    engine: Engine
    jobs: JobService
    pool: RunnerPool
    metrics: ops.Metrics


def build(settings: Settings, runners: int | None = None, *, serving: bool = False) -> Components:
    """Wire the store, the service layer and the runner pool; start nothing."""
    engine = make_engine(settings.database_url, background_checkpoint=serving)
    uow = SqlUnitOfWorkFactory(engine)
    clock = SystemClock()
    hasher = Argon2Hasher(settings.argon2_time_cost, settings.argon2_memory_kib)
    auth = Authenticator(uow, hasher, clock, AuthPolicy(cache_ttl_s=settings.auth_cache_ttl_s))
    runtime = Runtime(
        cancel_grace_s=settings.cancel_grace_s,
        cancel_margin_s=settings.cancel_margin_s,
        heartbeat_s=settings.heartbeat_s,
        stale_after_s=settings.stale_after_s,
        quick_timeout_s=settings.quick_timeout_s,
        long_timeout_s=settings.long_timeout_s,
    )
    metrics = ops.Metrics()
    jobs = JobService(uow, clock, hasher, auth, runtime, observe=metrics.observe_transition)
    limit_heap(settings.sqlite_heap_max_bytes)  # process-wide: SQLite has one heap
    limits = SqlLimits(
        value_bytes=settings.sql_value_max_bytes,
        mydb_quota_bytes=settings.mydb_quota_bytes,
        quick_bytes=settings.quick_max_bytes,
        extract_bytes=settings.extract_max_bytes,
    )
    ctx = TaskContext(settings.data_dir, settings.cancel_grace_s, limits)
    count = settings.runners if runners is None else runners
    pool = RunnerPool(jobs, task_table(settings), ctx, count, quick_places=settings.quick_runners, clock=clock)
    jobs.attach(executor=pool, signal=pool.board, submitted=pool)
    return Components(settings, engine, jobs, pool, metrics)


def task_table(settings: Settings) -> dict[str, Task]:
    tasks: dict[str, Task] = {"sleep": sleep, "sql": sql_task(settings.contexts), "extract": extract, "upload": upload}
    tasks.update({name: command_task(argv) for name, argv in settings.commands.items()})
    return tasks


def dialect_mounts() -> Sequence[Mount]:
    """Every dialect this build serves; each gets the service layer and its options, nothing else."""
    from jobgate.dialects import casjobs

    return [casjobs.mount]


def wsdl_dir() -> Path:
    checkout = Path(__file__).resolve().parents[2] / "wsdl"
    if checkout.is_dir():
        return checkout
    return Path(__file__).resolve().parent / "_data" / "wsdl"


def create_app(settings: Settings, *, migrate: bool = True, components: Components | None = None) -> Starlette:
    parts = components or build(settings, serving=True)
    if migrate:
        upgrade(parts.engine)
    inline = settings.inline_hot_path == "on" or (settings.inline_hot_path == "auto" and is_sqlite(parts.engine))
    options = DialectOptions(
        settings.max_body_bytes, settings.test_forms, settings.public_url, wsdl_dir(), inline_hot_path=inline,
        data_dir=settings.data_dir, fast_lane=settings.fast_lane,
    )  # fmt: skip
    mounted: list[Mounted] = [mount(parts.jobs, options) for mount in dialect_mounts()]
    routes = [route for dialect in mounted for route in dialect.routes]
    hot = [route for route in routes if isinstance(route, AsmxRoute)]  # the service endpoints
    parts.metrics.watch_jobs(parts.jobs)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(parts.pool.start)
        stop_checkpoints = start_checkpointer(parts.engine)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(parts.pool.stop)
            stop_checkpoints()
            parts.engine.dispose()

    app = Starlette(
        routes=[*(route for route in routes if route not in hot), *ops.routes(parts.jobs, parts.metrics, mounted)],
        middleware=[
            Middleware(ops.RequestContext, metrics=parts.metrics, enabled_log=settings.access_log),
            Middleware(ops.HotRoutes, routes=hot),
        ],
        lifespan=lifespan,
    )
    app.state.components = parts
    return app
