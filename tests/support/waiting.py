"""Waiting on a condition with a deadline, never for a fixed time: the deadline only bounds a failure
(a loaded machine makes a test slower, never wrong)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 60.0, every: float = 0.05) -> T:
    """Poll `condition` until it is truthy; its last value (falsy if the deadline passed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    return condition()


def wait_until(condition: Callable[[], T], what: str, timeout: float = 180.0, every: float = 0.2) -> T:
    """`wait_for`, raising AssertionError naming `what` when the deadline passes."""
    value = wait_for(condition, timeout, every)
    if not value:
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
    return value
