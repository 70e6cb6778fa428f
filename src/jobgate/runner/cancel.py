"""Cancel tokens, and the board that trips them when a held job turns Canceling."""

import threading
from typing import Final

SHUTDOWN: Final = "shutdown"  # the reason a token trips when the process stops: the job goes back to the queue
CANCEL: Final = "cancel"


class TaskCancelled(Exception):
    """Raised by a task that stopped because its token was tripped."""


class CancelToken:
    """A task's view of 'should I stop?'. Tasks wait on it instead of sleeping, so they wake at once."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self.reason = ""
        self.expired = False  # tripped because the job ran out of time

    def trip(self, reason: str) -> None:
        with self._lock:
            if not self._event.is_set():
                self.reason = reason
                self._event.set()

    def expire(self, limit_s: float) -> None:
        """Trip because the job's time limit is up (unless something else tripped it first)."""
        with self._lock:
            if not self._event.is_set():
                self.reason, self.expired = f"the time limit of {limit_s:g} s was reached", True
                self._event.set()

    @property
    def tripped(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None) -> bool:
        """Block up to `timeout` seconds; True if the token was tripped."""
        return self._event.wait(timeout)

    def check(self) -> None:
        if self._event.is_set():
            raise TaskCancelled(self.reason)


class CancelBoard:
    """The tokens of the jobs this process's runners hold (implements the CancelSignal port)."""

    def __init__(self) -> None:
        self._tokens: dict[int, CancelToken] = {}
        self._runners: dict[int, str] = {}
        self._lock = threading.Lock()

    def hold(self, job_id: int, runner_id: str) -> CancelToken:
        token = CancelToken()
        with self._lock:
            self._tokens[job_id] = token
            self._runners[job_id] = runner_id
        return token

    def release(self, job_id: int) -> None:
        with self._lock:
            self._tokens.pop(job_id, None)
            self._runners.pop(job_id, None)

    def held(self) -> dict[int, str]:
        """Held job ids and the runner holding each."""
        with self._lock:
            return dict(self._runners)

    def canceling(self, job_id: int) -> None:
        with self._lock:
            token = self._tokens.get(job_id)
        if token is not None:
            token.trip(CANCEL)

    def trip_all(self, reason: str) -> None:
        with self._lock:
            tokens = list(self._tokens.values())
        for token in tokens:
            token.trip(reason)
