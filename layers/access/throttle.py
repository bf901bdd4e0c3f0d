"""The sign-in throttle: password guessing slowed per username."""

from __future__ import annotations

import threading
from datetime import UTC, datetime


class SignInThrottle:
    """Slows password guessing: after ``free`` consecutive failures for one username the next
    attempt waits ``base`` seconds, doubling per further failure up to ``cap``. A success
    clears the name. Applied to every name alike, known or not, so it reveals nothing about
    which accounts exist. One per dashboard process (shared by its sessions), thread-safe."""

    def __init__(self, free: int = 5, base: float = 30.0, cap: float = 900.0) -> None:
        self.free, self.base, self.cap = free, base, cap
        self._lock = threading.Lock()
        self._fails: dict[str, tuple[int, datetime]] = {}

    def _key(self, username: object) -> str:
        return username.strip().lower()[:64] if isinstance(username, str) else ""

    def wait_seconds(self, username: object, now: datetime | None = None) -> float:
        """How long before ``username`` may try again (0: now)."""
        now = now or datetime.now(UTC)
        with self._lock:
            count, last = self._fails.get(self._key(username), (0, now))
        if count < self.free:
            return 0.0
        delay = min(self.cap, self.base * 2 ** (count - self.free))
        return max(0.0, delay - (now - last).total_seconds())

    def failed(self, username: object, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        with self._lock:
            count, _ = self._fails.get(self._key(username), (0, now))
            self._fails[self._key(username)] = (count + 1, now)
            if len(self._fails) > 10_000:  # a flood of made-up names must not grow this forever
                oldest = sorted(self._fails, key=lambda k: self._fails[k][1])[: len(self._fails) // 2]
                for k in oldest:
                    del self._fails[k]

    def succeeded(self, username: object) -> None:
        with self._lock:
            self._fails.pop(self._key(username), None)
