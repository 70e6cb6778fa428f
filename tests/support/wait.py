"""Wait for a condition against a deadline, never for a fixed time."""

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 5.0,
    interval: float = 0.01,
    message: str | Callable[[], str] = "the condition to hold",
) -> T:
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout` seconds.

    `message` may be a callable, so that the failure can describe the state seen last.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout:g} s waiting for {text}")
        time.sleep(interval)  # the poll interval, not a wait for the condition


def blocked_in(thread_name: str, function: Callable[..., Any]) -> bool:
    """True while the live thread named `thread_name` is inside `function` (somewhere on its stack)."""
    idents = [t.ident for t in threading.enumerate() if t.name == thread_name]
    frame = sys._current_frames().get(idents[0]) if idents else None
    while frame is not None:
        if frame.f_code is function.__code__:
            return True
        frame = frame.f_back
    return False
