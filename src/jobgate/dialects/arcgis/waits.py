"""Clients waiting for a job to change state (the `wait=` extension), at the cost of an asyncio Event each:
no thread, no database connection while they wait.

Two things wake a waiter: the service layer's announcement of a committed transition made by this process
(JobService.watch, heard on whatever thread made it and handed to the event loop), and one shared re-read of
every watched job's state per POLL_S (a single query, whatever the number of waiters) for changes made by
other processes: `jobgate worker`, another server on the same PostgreSQL, the CLI.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from starlette.concurrency import run_in_threadpool

from jobgate.domain.states import JobState
from jobgate.services import JobService

POLL_S: Final = 1.0
MAX_WAIT_S: Final = 60.0

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(eq=False, slots=True)
class _Waiter:
    seen: JobState
    woken: asyncio.Event = field(default_factory=asyncio.Event)


class JobWaits:
    def __init__(self, jobs: JobService, poll_s: float = POLL_S) -> None:
        self._jobs, self._poll_s = jobs, poll_s
        self._waiters: dict[int, set[_Waiter]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poller: asyncio.Task[None] | None = None
        self._reads: dict[Hashable, asyncio.Future[Any]] = {}
        jobs.watch(self._heard)

    async def read_once(self, key: Hashable, read: Callable[[], T]) -> T:
        """Run `read` off the loop, shared by every caller asking with the same key meanwhile: the waiters one
        change wakes together cost one read, not one each (and one thread-pool slot, not all of them)."""
        flight = self._reads.get(key)
        if flight is None:
            flight = self._reads[key] = asyncio.ensure_future(run_in_threadpool(read))
            flight.add_done_callback(lambda _: self._reads.pop(key, None))
        result: T = await asyncio.shield(flight)
        return result

    @property
    def waiting(self) -> int:
        return sum(len(waiters) for waiters in self._waiters.values())

    async def changed(self, job_id: int, seen: JobState, timeout_s: float) -> bool:
        """Wait until job `job_id` leaves state `seen`, or `timeout_s` passes; True if woken."""
        self._loop = asyncio.get_running_loop()
        waiter = _Waiter(seen)
        self._waiters.setdefault(job_id, set()).add(waiter)
        self._keep_polling()
        try:
            await asyncio.wait_for(waiter.woken.wait(), timeout_s)
        except TimeoutError:
            return False
        finally:
            waiters = self._waiters.get(job_id, set())
            waiters.discard(waiter)
            if not waiters:
                self._waiters.pop(job_id, None)
        return True

    def _heard(self, job_id: int) -> None:
        """Called by the service layer on the thread that committed the change."""
        loop = self._loop
        if loop is None or job_id not in self._waiters:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed (an app served by one loop after another)
            loop.call_soon_threadsafe(self._wake, job_id, None)

    def _wake(self, job_id: int, state: JobState | None) -> None:
        """Wake the job's waiters: all of them on an announcement (state None), else those that saw another state."""
        for waiter in self._waiters.get(job_id, ()):
            if state is None or state is not waiter.seen:
                waiter.woken.set()

    def _keep_polling(self) -> None:
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        while self._waiters:
            await asyncio.sleep(self._poll_s)
            ids = list(self._waiters)
            if not ids:
                return
            try:
                states = await run_in_threadpool(self._jobs.states_of, ids)
            except Exception:  # the store is away for a moment: the waiters still time out on their own
                log.warning("re-reading the states of waited-for jobs failed", exc_info=True)
                continue
            for job_id in ids:
                self._wake(job_id, states.get(job_id))
