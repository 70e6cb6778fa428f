"""Races with the interleaving forced, not hoped for: a UnitOfWorkFactory over the real one that runs
another request's whole step right after the service's read returns and before the service writes.

This is a decorator of the port, as a fake is, not a patch: the service code runs unchanged on the real
store, and the step in between runs on its own connection (so on PostgreSQL it commits between the
service's SELECT and its compare-and-set UPDATE; on SQLite only a read unit of work lets it in)."""

from collections.abc import Callable
from types import TracebackType
from typing import Any

from jobgate.domain.ports import UnitOfWork, UnitOfWorkFactory


class Interleaved:
    """Runs `between()` once, right after the first call of `repository.method` (e.g. "jobs", "stuck")
    returns inside a unit of work made here. `fired` tells whether it ran."""

    def __init__(self, inner: UnitOfWorkFactory, method: str, between: Callable[[], object], repository: str = "jobs"):
        self._inner, self._method, self._between, self._repository = inner, method, between, repository
        self.fired = False

    def __call__(self, *, write: bool = True) -> UnitOfWork:
        return _Hooked(self._inner(write=write), self)  # type: ignore[return-value]

    def after(self, repository: str, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        if self.fired or (repository, name) != (self._repository, self._method):
            return method

        def then_the_other_request(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if not self.fired:
                self.fired = True
                self._between()
            return result

        return then_the_other_request


class _Hooked:
    def __init__(self, inner: UnitOfWork, plan: Interleaved) -> None:
        self._inner, self._plan = inner, plan

    def __enter__(self) -> "_Hooked":
        self._inner.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        self._inner.commit()

    @property
    def jobs(self) -> Any:
        return _Repository(self._inner.jobs, "jobs", self._plan)

    @property
    def users(self) -> Any:
        return _Repository(self._inner.users, "users", self._plan)

    @property
    def tokens(self) -> Any:
        return _Repository(self._inner.tokens, "tokens", self._plan)


class _Repository:
    def __init__(self, inner: object, name: str, plan: Interleaved) -> None:
        self._inner, self._name, self._plan = inner, name, plan

    def __getattr__(self, method: str) -> Any:
        return self._plan.after(self._name, method, getattr(self._inner, method))
