"""Timing rules the runners, the watchdog and quick jobs apply."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Runtime:
    cancel_grace_s: float = 10.0
    cancel_margin_s: float = 5.0
    heartbeat_s: float = 1.0
    stale_after_s: float = 5.0
    quick_timeout_s: float = 60.0
