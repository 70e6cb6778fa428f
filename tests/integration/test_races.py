"""Concurrent requests on one job: the compare-and-set lets exactly one win, and the others get an answer."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from jobgate.app import Components
from jobgate.domain.model import Actor, Outcome
from jobgate.domain.states import JobState
from support.factories import sleep_job

S = JobState
T = TypeVar("T")
CANCELLERS = 32


def all_at_once(count: int, call: Callable[[int], T]) -> list[T]:
    """Run call(0..count-1) on `count` threads released together by a barrier; re-raise any error."""
    barrier = threading.Barrier(count)

    def released(n: int) -> T:
        barrier.wait(timeout=30)
        return call(n)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(released, range(count)))


class TestConcurrentCancel:
    def test_32_simultaneous_cancels_write_one_event_and_all_get_an_answer(
        self, parts: Components, alice: Actor, admin: Actor
    ) -> None:
        job = sleep_job(parts, alice)
        claimed = parts.runners.claim_next("runner-1", {"sleep"})
        assert claimed is not None
        callers = [alice, admin]

        outcomes: list[Outcome] = all_at_once(
            CANCELLERS, lambda n: parts.jobs.cancel(callers[n % 2], job.id, reason=f"caller {n}")
        )

        assert len(outcomes) == CANCELLERS
        assert sum(o.changed for o in outcomes) == 1
        assert {(o.current, o.changed) for o in outcomes} == {(S.CANCELING, True), (S.CANCELING, False)}
        winner = next(o for o in outcomes if o.changed)
        assert winner.prior is S.EXECUTING
        _, events = parts.jobs.history(admin, job.id)
        assert [e.stage for e in events].count("cancel") == 1

        parts.runners.cancel_done(claimed)  # the runner's side completes the cancel
        final, events = parts.jobs.history(admin, job.id)
        assert final.state is S.CANCELLED
        assert [e.seq for e in events] == [1, 2, 3, 4]
        assert [e.stage for e in events] == ["submit", "start", "cancel", "cancel_done"]


class TestConcurrentClaim:
    def test_two_runners_racing_for_one_job_yield_exactly_one_winner(self, parts: Components, alice: Actor) -> None:
        for _ in range(5):
            job = sleep_job(parts, alice)
            claims = all_at_once(2, lambda n: parts.runners.claim_next(f"runner-{n}", {"sleep"}))
            winners = [c for c in claims if c is not None]
            assert len(winners) == 1, claims
            assert winners[0].id == job.id
            _, events = parts.jobs.history(alice, job.id)
            assert [e.stage for e in events] == ["submit", "start"]
            assert events[-1].to_state is S.EXECUTING
            parts.jobs.cancel(alice, job.id)  # out of the way of the next round
