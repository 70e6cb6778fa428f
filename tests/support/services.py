"""The service layer on a real store (or a fake) with a fake clock: the watchdog's and the runners' rules
decided by the test's clock, their effect checked in the database."""

from typing import Any

from jobgate.domain.ports import UnitOfWorkFactory
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
from support.fakes import FakeClock, FakeHasher

RUNTIME = Runtime(cancel_grace_s=10.0, cancel_margin_s=5.0, heartbeat_s=1.0, stale_after_s=5.0)
STALE = RUNTIME.stale_after_s + 0.001  # a heartbeat this old is stale
STUCK = RUNTIME.cancel_grace_s + RUNTIME.cancel_margin_s + 0.001  # a cancel pending this long is stuck


class Services:
    """The service layer's parts (what clients ask, what runners do, users and tokens) as one object, for
    tests that play every caller against one store."""

    def __init__(self, jobs: JobService, runners: RunnerService, identity: Identity) -> None:
        self.jobs, self.runners, self.identity = jobs, runners, identity

    def __getattr__(self, name: str) -> Any:
        part = next((p for p in (self.jobs, self.runners, self.identity) if hasattr(p, name)), None)
        if part is None:
            raise AttributeError(name)
        return getattr(part, name)


def services(
    uow: UnitOfWorkFactory, clock: FakeClock, transitions: Transitions | None = None, runtime: Runtime = RUNTIME
) -> Services:
    hasher = FakeHasher()
    moves = transitions or Transitions(uow, clock)
    tokens = TokenService(uow, clock, {}, TokenPolicy())
    identity = Identity(uow, clock, hasher, Authenticator(uow, hasher, clock, tokens, AuthPolicy(), b"s"), tokens)
    return Services(JobService(uow, clock, moves, runtime), RunnerService(uow, clock, moves, runtime), identity)


def job_service(uow: UnitOfWorkFactory, clock: FakeClock) -> Any:
    """Every caller's service on this store and clock (typed loosely: the tests call all three parts)."""
    return services(uow, clock)
