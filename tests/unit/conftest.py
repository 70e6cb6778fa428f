"""The unit tier: the domain and the service layer on fakes of the ports; no I/O."""

import pytest

from jobgate.domain.model import ADMIN_GROUP, Actor, Channel
from jobgate.services import Authenticator, AuthPolicy, JobService, Runtime
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
def jobs(uow: FakeUnitOfWork, clock: FakeClock, hasher: FakeHasher, signal: FakeCancelSignal) -> JobService:
    auth = Authenticator(uow, hasher, clock, POLICY, secret=b"unit-test-secret")
    return JobService(uow, clock, hasher, auth, RUNTIME, signal=signal)


@pytest.fixture
def alice() -> Actor:
    return Actor("alice", Channel.CASJOBS)


@pytest.fixture
def bob() -> Actor:
    return Actor("bob", Channel.TRANSWS)


@pytest.fixture
def admin() -> Actor:
    return Actor("root", Channel.CISCO, frozenset({ADMIN_GROUP}))
