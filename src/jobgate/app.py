"""The composition root: builds the store, the service layer, the runners and one ASGI app."""

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import anyio.to_thread
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from jobgate import logs, ops
from jobgate.accesslog import AccessLog
from jobgate.clock import SystemClock
from jobgate.config import Settings
from jobgate.dialects import registry
from jobgate.dialects.common import Dialect, DialectOptions, Labelled, Services
from jobgate.runner import RunnerPool
from jobgate.runner.tasks import SqlLimits, Task, TaskContext
from jobgate.runner.tasks.command import command_task
from jobgate.runner.tasks.extract import extract
from jobgate.runner.tasks.sandbox import limit_heap
from jobgate.runner.tasks.sleep import sleep
from jobgate.runner.tasks.sql import sql_task
from jobgate.runner.tasks.upload import upload
from jobgate.services import (
    Authenticator,
    AuthPolicy,
    Identity,
    JobService,
    RunnerService,
    Runtime,
    TokenPolicy,
    TokenService,
    Transitions,
)
from jobgate.store import SqlUnitOfWorkFactory, make_engine
from jobgate.store.credentials import Argon2Hasher
from jobgate.store.engine import is_sqlite, pool_figures, start_checkpointer
from jobgate.store.migrate import upgrade
from jobgate.store.peers import PgPeers, peers_for

log = logging.getLogger(__name__)
BATCH_WORKERS = 8  # below the store's default pool of 10 connections


@dataclass
class Components:
    settings: Settings
    engine: Engine
    jobs: JobService
    runners: RunnerService
    identity: Identity
    pool: RunnerPool
    metrics: ops.Metrics
    peers: PgPeers | None = None  # PostgreSQL: LISTEN/NOTIFY between processes

    @property
    def services(self) -> Services:
        """What the dialects get."""
        return Services(self.jobs, self.identity)


def build(settings: Settings, runners: int | None = None, *, serving: bool = False) -> Components:
    """Wire the store, the service layer and the runner pool; start nothing."""
    pooled = settings.direct_database_url is not None  # database_url then goes through a transaction pooler
    engine = make_engine(
        settings.database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow,
        background_checkpoint=serving, transaction_pooler=pooled,
    )  # fmt: skip
    uow = SqlUnitOfWorkFactory(engine)
    clock = SystemClock()
    hasher = Argon2Hasher(settings.argon2_time_cost, settings.argon2_memory_kib)
    tokens = TokenService(uow, clock, {}, TokenPolicy(lifetime_s=settings.token_lifetime_s))
    metrics = ops.Metrics()
    auth = Authenticator(
        uow, hasher, clock, tokens, AuthPolicy(cache_ttl_s=settings.auth_cache_ttl_s),
        observe_check=metrics.password_checks.inc,
    )  # fmt: skip
    runtime = Runtime(
        cancel_grace_s=settings.cancel_grace_s,
        cancel_margin_s=settings.cancel_margin_s,
        heartbeat_s=settings.heartbeat_s,
        stale_after_s=settings.stale_after_s,
        quick_timeout_s=settings.quick_timeout_s,
        long_timeout_s=settings.long_timeout_s,
    )
    transitions = Transitions(uow, clock, observe=metrics.observe_transition)
    jobs = JobService(uow, clock, transitions, runtime)
    runner_service = RunnerService(uow, clock, transitions, runtime)
    identity = Identity(uow, clock, hasher, auth, tokens)
    limit_heap(settings.sqlite_heap_max_bytes)  # process-wide: SQLite has one heap
    limits = SqlLimits(
        value_bytes=settings.sql_value_max_bytes,
        mydb_quota_bytes=settings.mydb_quota_bytes,
        quick_bytes=settings.quick_max_bytes,
        extract_bytes=settings.extract_max_bytes,
    )
    ctx = TaskContext(settings.data_dir, settings.cancel_grace_s, limits)
    count = settings.runners if runners is None else runners
    peers = peers_for(engine, settings.direct_database_url)  # PostgreSQL: LISTEN/NOTIFY between processes
    pool = RunnerPool(
        runner_service, task_table(settings), ctx, count, quick_places=settings.quick_runners, clock=clock,
        peers=peers, cancel_poll_s=settings.cancel_poll_s,
    )  # fmt: skip
    jobs.attach(executor=pool, signal=pool.board, submitted=pool, peers=peers)
    return Components(settings, engine, jobs, runner_service, identity, pool, metrics, peers)


def task_table(settings: Settings) -> dict[str, Task]:
    tasks: dict[str, Task] = {"sleep": sleep, "sql": sql_task(settings.contexts), "extract": extract, "upload": upload}
    tasks.update({name: command_task(argv) for name, argv in settings.commands.items()})
    return tasks


def wsdl_dir() -> Path:
    checkout = Path(__file__).resolve().parents[2] / "wsdl"
    if checkout.is_dir():
        return checkout
    return Path(__file__).resolve().parent / "_data" / "wsdl"


def access_log(settings: Settings, metrics: ops.Metrics) -> AccessLog | None:
    """The access log, if it is on and the log level lets info lines through (JOBGATE_LOG_LEVEL=warning
    silences it, as it silences every info line)."""
    if not (settings.access_log and logging.getLogger("jobgate.access").isEnabledFor(logging.INFO)):
        return None
    return AccessLog(settings.access_log_queue, metrics.access_lines_dropped.inc, SystemClock().timestamp)


def create_app(
    settings: Settings,
    *,
    migrate: bool = True,
    components: Components | None = None,
    dialects: Sequence[Dialect] | None = None,
) -> Starlette:
    """The one ASGI app: every registered dialect (or those given), the ops endpoints, the runners."""
    parts = components or build(settings, serving=True)
    served = registry() if dialects is None else tuple(dialects)
    if migrate:
        upgrade(parts.engine, direct_url=settings.direct_database_url)
    sqlite = is_sqlite(parts.engine)
    inline = settings.inline_hot_path == "on" or (settings.inline_hot_path == "auto" and sqlite)
    options = DialectOptions(
        settings.max_body_bytes, settings.test_forms, settings.public_url, wsdl_dir(), inline_hot_path=inline,
        data_dir=settings.data_dir, fast_lane=settings.fast_lane,
        max_in_flight_per_user=settings.max_in_flight_per_user,
        batch_workers=1 if sqlite else BATCH_WORKERS,
    )  # fmt: skip
    # each dialect gets the service layer and its options, nothing else; its routes name it in the
    # request's state (the `dialect` label of the metrics and the log line)
    for dialect in served:  # each kind of token the dialects issue lives as long as its policy (or the setting) says
        for kind, policy in dialect.tokens.items():
            lifetime = settings.token_lifetimes_s.get(kind, policy.lifetime_s)
            parts.identity.tokens.register(kind, replace(policy, lifetime_s=lifetime))
    mounted = [(dialect, dialect.mount(parts.services, options)) for dialect in served]
    routes: list[BaseRoute] = []
    hot: list[BaseRoute] = []
    for dialect, parts_of in mounted:
        hot_ones = set(map(id, parts_of.hot))
        for route in parts_of.routes:
            (hot if id(route) in hot_ones else routes).append(Labelled(route, dialect.name))
    index = [ops.IndexSection(dialect.title, dialect.description, part.links) for dialect, part in mounted]
    openapi = ops.openapi_document(dialect.openapi() for dialect in served if dialect.openapi is not None)
    parts.metrics.watch_jobs(parts.jobs)
    parts.metrics.watch(
        "jobgate_db_connections", "This process's database pool: connections in use, idle; its size and overflow",
        "state", lambda: pool_figures(parts.engine),
    )  # fmt: skip
    if parts.peers is not None:
        peers = parts.peers
        parts.metrics.watch(
            "jobgate_peer_listening", "1 while the LISTEN session for other processes' cancels and new jobs is open",
            None, lambda: {"": 1.0 if peers.connected.is_set() else 0.0},
        )  # fmt: skip
        parts.metrics.watch(
            "jobgate_peer_messages", "Cancels and new jobs told to (sent) and heard from (heard) other processes",
            "direction", lambda: {"sent": float(peers.sent), "heard": float(peers.heard)},
        )  # fmt: skip
    access = access_log(settings, parts.metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if access is not None:
            access.start(logs.stream())
        await anyio.to_thread.run_sync(parts.pool.start)
        stop_checkpoints = start_checkpointer(parts.engine)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(parts.pool.stop)
            stop_checkpoints()
            parts.engine.dispose()
            if access is not None:
                await anyio.to_thread.run_sync(access.close)  # every queued line, after every request

    app = Starlette(
        routes=[*routes, *ops.routes(parts.jobs, parts.metrics, index, openapi)],
        middleware=[
            Middleware(ops.RequestContext, metrics=parts.metrics, access=access),
            Middleware(ops.HotRoutes, routes=hot),
        ],
        lifespan=lifespan,
    )
    app.state.components = parts
    return app
