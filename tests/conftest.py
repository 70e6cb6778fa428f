"""Fixtures every tier shares: no stray network, PostgreSQL schemas, databases built by Alembic, and a
real `jobgate serve` subprocess. Helpers live in tests/support/ (import them as `support.…`)."""

import socket
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("support")

from jobgate.store import make_engine  # noqa: E402
from jobgate.store.migrate import upgrade  # noqa: E402
from support import postgres  # noqa: E402 - after the assert-rewrite registration
from support.kits import DialectKit  # noqa: E402
from support.kits.base import KitWorld, World, world_of  # noqa: E402
from support.network import loopback_only  # noqa: E402
from support.server import JobgateServer, jobgate_env  # noqa: E402

BACKENDS = ("sqlite", "postgresql")
_SERVERS = pytest.StashKey[list[JobgateServer]]()


# -- no network beyond the loopback ---------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse connections to anything but 127.0.0.1, ::1, localhost and unix sockets."""
    monkeypatch.setattr(socket.socket, "connect", loopback_only(socket.socket.connect))
    monkeypatch.setattr(socket.socket, "connect_ex", loopback_only(socket.socket.connect_ex))


# -- PostgreSQL ------------------------------------------------------------------------------------------
_NEEDS_POSTGRES = frozenset({"postgres_server", "pg_url", "pg_module_url", "db_url", "empty_db_url", "store"})


def _require_postgres() -> None:
    """The test PostgreSQL answers, or the whole run stops with an error (PostgreSQL tests never skip)."""
    reason = postgres.unreachable_reason()
    if reason is not None:
        pytest.exit(
            f"PostgreSQL at {postgres.HOST}:{postgres.PORT} (user {postgres.USER}, database "
            f"{postgres.DATABASE}) is not reachable: {reason}. The suite runs every store test on "
            "PostgreSQL too and never skips them: start PostgreSQL and run again.",
            returncode=pytest.ExitCode.TESTS_FAILED,
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Check PostgreSQL once, before any test runs, if a collected test needs it."""
    if any(_NEEDS_POSTGRES.intersection(getattr(item, "fixturenames", ())) for item in items):
        _require_postgres()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    _require_postgres()  # again: a test may have been selected in a way the collection check missed
    return postgres.DSN


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty, uniquely named schema in database `test`, dropped (CASCADE) afterwards."""
    with postgres.throwaway_schema() as url:
        yield url


@pytest.fixture(scope="module")
def pg_module_url(postgres_server: str) -> Iterator[str]:
    """Like pg_url, shared by the tests of one module."""
    with postgres.throwaway_schema("m") as url:
        yield url


def _empty_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / f'jobgate-{uuid.uuid4().hex[:8]}.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend: a SQLite file in tmp_path, or a fresh PostgreSQL schema."""
    return _empty_database(request.param, tmp_path, request)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database on each backend with the schema Alembic builds (upgrade to head)."""
    url = _empty_database(request.param, tmp_path, request)
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return url


# -- a real server ---------------------------------------------------------------------------------------
class ServerFactory:
    """Starts `jobgate serve` subprocesses: factory(database_url=…, JOBGATE_X=…) → a ready server."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.servers = directory, list[JobgateServer]()

    def __call__(
        self,
        database_url: str | None = None,
        *,
        args: tuple[str, ...] = (),
        env: Mapping[str, Any] | None = None,
        **variables: Any,
    ) -> JobgateServer:
        n, where = len(self.servers), self.directory
        overrides: dict[str, Any] = {
            "JOBGATE_DATABASE_URL": database_url or f"sqlite:///{where / f'server{n}.db'}",
            "JOBGATE_DATA_DIR": where / f"server{n}-data",
            **(env or {}),
            **variables,
        }
        server = JobgateServer(jobgate_env(overrides), where / f"server{n}.log", args=args, cwd=where)
        self.servers.append(server)
        return server.start()

    def kill_all(self) -> None:
        for server in self.servers:
            server.kill()


@pytest.fixture
def jobgate_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start servers for one test; every one is killed at teardown, and a failing test's report carries their logs."""
    factory = ServerFactory(tmp_path)
    request.node.stash[_SERVERS] = factory.servers
    yield factory
    factory.kill_all()


@pytest.fixture(scope="module")
def module_jobgate_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerFactory]:
    """Like jobgate_server, for servers that the tests of one module share."""
    factory = ServerFactory(tmp_path_factory.mktemp("servers"))
    request.node.stash[_SERVERS] = factory.servers
    yield factory
    factory.kill_all()


@pytest.fixture(scope="module")
def server_world(module_jobgate_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KitWorld]:
    """A dialect kit's world on a real `jobgate serve` (one per kit for the module, no runners, debug logs, a long
    credential-cache TTL so that the legitimate logins, verified first, never meet the back-off bad ones trigger):
    its users are added and its store read through an app on the server's database; its requests go to the server."""
    with ExitStack() as stack:
        built: dict[str, World] = {}

        def world(kit: DialectKit) -> World:
            if kit.name not in built:
                server = module_jobgate_server(JOBGATE_RUNNERS=0, JOBGATE_AUTH_CACHE_TTL_S=3600,
                                               JOBGATE_LOG_LEVEL="debug")  # fmt: skip
                http = stack.enter_context(server.client())
                found = stack.enter_context(world_of(
                    kit, tmp_path_factory.mktemp(kit.name), http, database_url=server.env["JOBGATE_DATABASE_URL"],
                    data_dir=Path(server.env["JOBGATE_DATA_DIR"]),
                ))  # fmt: skip
                found.state["server"] = server
                built[kit.name] = found
            return built[kit.name]

        yield world


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed:
        servers = [server for node in item.listchain() for server in node.stash.get(_SERVERS, [])]
        for n, server in enumerate(servers):
            report.sections.append((f"jobgate server {n} log ({server.log_path})", server.log_text()))
    return report
