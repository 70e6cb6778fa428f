"""The service layer on a real store with a fake clock: the watchdog's and the runners' rules decided by
the test's clock, their effect checked in the real database."""

from jobgate.domain.ports import UnitOfWorkFactory
from jobgate.services import Authenticator, AuthPolicy, JobService, Runtime
from support.fakes import FakeClock, FakeHasher

RUNTIME = Runtime(cancel_grace_s=10.0, cancel_margin_s=5.0, heartbeat_s=1.0, stale_after_s=5.0)
STALE = RUNTIME.stale_after_s + 0.001  # a heartbeat this old is stale
STUCK = RUNTIME.cancel_grace_s + RUNTIME.cancel_margin_s + 0.001  # a cancel pending this long is stuck


def job_service(uow: UnitOfWorkFactory, clock: FakeClock) -> JobService:
    hasher = FakeHasher()
    return JobService(uow, clock, hasher, Authenticator(uow, hasher, clock, AuthPolicy(), b"secret"), RUNTIME)
