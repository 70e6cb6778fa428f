"""Timing rules the runners, the watchdog and quick jobs apply."""

from dataclasses import dataclass

from jobgate.domain.model import LONG_QUEUE, QUICK_QUEUE, Job


@dataclass(frozen=True, slots=True)
class Runtime:
    cancel_grace_s: float = 10.0
    cancel_margin_s: float = 5.0
    heartbeat_s: float = 1.0
    stale_after_s: float = 5.0
    quick_timeout_s: float = 60.0  # queue "quick", and every synchronous job
    long_timeout_s: float = 500.0  # queue "long"

    def time_limit_s(self, job: Job) -> float | None:
        """The time limit a job runs under: its queue's (what a dialect advertises), none for other queues."""
        if job.synchronous or job.queue == QUICK_QUEUE:
            return self.quick_timeout_s
        return self.long_timeout_s if job.queue == LONG_QUEUE else None
