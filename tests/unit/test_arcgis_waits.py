"""JobWaits, the wait= extension's engine, on the service layer over fakes: a waiter wakes on this process's
announcement of a change, or on the shared re-read when another process made it; it times out otherwise; the
waiters one change wakes share one re-read. Nothing here sleeps for a condition: each test awaits the waiter."""

import asyncio
import threading

from jobgate.dialects.arcgis.waits import JobWaits
from jobgate.domain.model import Actor, JobSpec
from jobgate.domain.states import JobState
from jobgate.services import JobService, Runtime, Transitions
from support.fakes import FakeClock, FakeUnitOfWork

SLEEP = JobSpec("sleep", {"seconds": 5}, project="demo")


def test_an_announced_change_wakes_the_waiter(jobs: JobService, alice: Actor) -> None:
    job = jobs.submit(alice, SLEEP)
    waits = JobWaits(jobs, poll_s=3600)  # no re-read: only the announcement can wake it

    async def scenario() -> bool:
        waiter = asyncio.create_task(waits.changed(job.id, JobState.SUBMITTED, 30))
        while waits.waiting == 0:
            await asyncio.sleep(0)  # let the waiter register
        await asyncio.to_thread(jobs.cancel, alice, job.id)  # a request thread commits the change
        return await waiter

    assert asyncio.run(scenario()) is True
    assert waits.waiting == 0


def test_without_a_change_the_waiter_times_out(jobs: JobService, alice: Actor) -> None:
    job = jobs.submit(alice, SLEEP)
    waits = JobWaits(jobs, poll_s=3600)

    assert asyncio.run(waits.changed(job.id, JobState.SUBMITTED, 0.05)) is False
    assert waits.waiting == 0


def test_a_change_made_by_another_process_is_found_by_the_shared_re_read(
    uow: FakeUnitOfWork, clock: FakeClock, jobs: JobService, alice: Actor
) -> None:
    elsewhere = JobService(uow, clock, Transitions(uow, clock), Runtime())  # same store, its own listeners
    job = jobs.submit(alice, SLEEP)
    waits = JobWaits(jobs, poll_s=0.01)

    async def scenario() -> bool:
        waiter = asyncio.create_task(waits.changed(job.id, JobState.SUBMITTED, 30))
        while waits.waiting == 0:
            await asyncio.sleep(0)
        elsewhere.cancel(alice, job.id)  # not announced to `jobs`' listeners
        return await waiter

    assert asyncio.run(scenario()) is True


def test_the_waiters_one_change_wakes_share_one_read(jobs: JobService) -> None:
    waits, reads, gate = JobWaits(jobs, poll_s=3600), list[int](), threading.Event()

    def read() -> int:
        gate.wait(5)
        reads.append(1)
        return len(reads)

    async def scenario() -> list[int]:
        readers = [asyncio.create_task(waits.read_once("same", read)) for _ in range(50)]
        await asyncio.sleep(0)
        gate.set()
        return await asyncio.gather(*readers)

    assert asyncio.run(scenario()) == [1] * 50
    assert reads == [1]
