"""The unit tier: the domain and the service layer on fakes of the ports; no I/O."""

import pytest

from jobgate.domain.model import ADMIN_GROUP, Actor, Channel
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
from support.fakes import FakeCancelSignal, FakeClock, FakeHasher, FakeUnitOfWork

RUNTIME = Runtime(cancel_grace_s=10.0, cancel_margin_s=5.0, heartbeat_s=1.0, stale_after_s=5.0)
POLICY = AuthPolicy(cache_ttl_s=60.0, free_failures=3, backoff_base_s=1.0, backoff_max_s=8.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hasher() -> FakeHasher:
    return FakeHasher()


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def signal() -> FakeCancelSignal:
    return FakeCancelSignal()


@pytest.fixture
def transitions(uow: FakeUnitOfWork, clock: FakeClock) -> Transitions:
    return Transitions(uow, clock)


@pytest.fixture
def jobs(uow: FakeUnitOfWork, clock: FakeClock, transitions: Transitions, signal: FakeCancelSignal) -> JobService:
    return JobService(uow, clock, transitions, RUNTIME, signal=signal)


@pytest.fixture
def runners(uow: FakeUnitOfWork, clock: FakeClock, transitions: Transitions) -> RunnerService:
    return RunnerService(uow, clock, transitions, RUNTIME)


@pytest.fixture
def tokens(uow: FakeUnitOfWork, clock: FakeClock) -> TokenService:
    policies = {"birst": TokenPolicy(lifetime_s=600, sliding=True), "arcgis": TokenPolicy(3600, max_lifetime_s=86400)}
    return TokenService(uow, clock, policies, TokenPolicy(lifetime_s=3600))


@pytest.fixture
def identity(uow: FakeUnitOfWork, clock: FakeClock, hasher: FakeHasher, tokens: TokenService) -> Identity:
    auth = Authenticator(uow, hasher, clock, tokens, POLICY, secret=b"unit-test-secret")
    return Identity(uow, clock, hasher, auth, tokens)


@pytest.fixture
def alice() -> Actor:
    return Actor("alice", Channel.CASJOBS)


@pytest.fixture
def bob() -> Actor:
    return Actor("bob", Channel.TRANSWS)


@pytest.fixture
def admin() -> Actor:
    return Actor("root", Channel.CISCO, frozenset({ADMIN_GROUP}))
