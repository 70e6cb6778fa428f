"""The real clock; the only place the wall clock is read."""

import time
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        now = datetime.now(UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def monotonic(self) -> float:
        return time.monotonic()

    def timestamp(self) -> float:
        """Seconds since the epoch: the cheap wall-clock reading log lines are stamped with."""
        return time.time()
