"""The sign-in throttle: password guessing slowed per account and per client."""

from __future__ import annotations

import threading
from datetime import UTC, datetime


class _FailureTable:
    """Failures per key with a bounded size that can never be used to forget a locked key.

    A flood of made-up names must not grow memory without bound, and must not push a
    locked-out name out of the table either (that would reset its lockout: the attack the
    bound invites). So when the table is full, forgotten first are keys whose last failure
    is older than their own wait (they would not be throttled now anyway), then unlocked keys,
    oldest first; locked keys are never dropped early. A key that finds the table full of
    locked keys is counted in one shared overflow entry, which throttles all such keys
    together: a flood slows itself down."""

    OVERFLOW = "\x00overflow"

    def __init__(self, free: int, base: float, cap: float, max_entries: int) -> None:
        self.free, self.base, self.cap, self.max_entries = free, base, cap, max_entries
        self._fails: dict[str, tuple[int, datetime]] = {}

    def _delay(self, count: int) -> float:
        return 0.0 if count < self.free else min(self.cap, self.base * 2 ** (count - self.free))

    def _remaining(self, entry: tuple[int, datetime], now: datetime) -> float:
        count, last = entry
        return max(0.0, self._delay(count) - (now - last).total_seconds())

    def _slot(self, key: str) -> str:
        return key if key in self._fails or len(self._fails) < self.max_entries else self.OVERFLOW

    def wait(self, key: str, now: datetime) -> float:
        entry = self._fails.get(key)
        if entry is None and len(self._fails) >= self.max_entries:
            entry = self._fails.get(self.OVERFLOW)  # an untracked key shares the flood's wait
        return self._remaining(entry, now) if entry else 0.0

    def failed(self, key: str, now: datetime) -> None:
        if key not in self._fails and len(self._fails) >= self.max_entries:
            self._make_room(now)
        slot = self._slot(key)
        count, _ = self._fails.get(slot, (0, now))
        self._fails[slot] = (count + 1, now)

    def clear(self, key: str) -> None:
        self._fails.pop(key, None)

    def _make_room(self, now: datetime) -> None:
        """Drop what may be dropped (see the class doc) until a tenth of the table is free."""
        target = self.max_entries - max(1, self.max_entries // 10)
        # 1. keys that would not be throttled now and whose wait has long passed
        stale = [k for k, e in self._fails.items() if k != self.OVERFLOW and self._remaining(e, now) == 0
                 and (now - e[1]).total_seconds() > max(self.cap, self.base)]
        for k in stale:
            del self._fails[k]
        if len(self._fails) <= target:
            return
        # 2. unlocked keys, oldest first
        unlocked = sorted((e[1], k) for k, e in self._fails.items()
                          if k != self.OVERFLOW and self._remaining(e, now) == 0)
        for _, k in unlocked[: len(self._fails) - target]:
            del self._fails[k]

    def __len__(self) -> int:
        return len(self._fails)


class SignInThrottle:
    """Slows password guessing, per account and per client.

    Per account: after ``free`` consecutive failures for one username the next attempt waits
    ``base`` seconds, doubling per further failure up to ``cap``; applied to every name alike,
    known or not, so it reveals nothing about which accounts exist; a success clears the name.
    Per client (its network address): the same with ``client_free`` failures, whatever names
    they tried, so one client cannot spray guesses across many names; a success does not clear
    it. Both tables are bounded and never evict a locked entry early (`_FailureTable`). One per
    dashboard process (shared by its sessions), thread-safe."""

    def __init__(self, free: int = 5, base: float = 30.0, cap: float = 900.0, *, client_free: int = 20,
                 max_entries: int = 10_000) -> None:
        self.free, self.base, self.cap = free, base, cap
        self._lock = threading.Lock()
        self._accounts = _FailureTable(free, base, cap, max_entries)
        self._clients = _FailureTable(client_free, base, cap, max_entries)

    @staticmethod
    def _key(username: object) -> str:
        return username.strip().lower()[:64] if isinstance(username, str) else ""

    def wait_seconds(self, username: object, now: datetime | None = None, *, client: str | None = None) -> float:
        """How long before ``username`` (from ``client``) may try again (0: now)."""
        now = now or datetime.now(UTC)
        with self._lock:
            wait = self._accounts.wait(self._key(username), now)
            if client:
                wait = max(wait, self._clients.wait(client, now))
        return wait

    def failed(self, username: object, now: datetime | None = None, *, client: str | None = None) -> None:
        now = now or datetime.now(UTC)
        with self._lock:
            self._accounts.failed(self._key(username), now)
            if client:
                self._clients.failed(client, now)

    def succeeded(self, username: object) -> None:
        with self._lock:
            self._accounts.clear(self._key(username))

    def sizes(self) -> tuple[int, int]:
        """Entries held (accounts, clients): bounded by ``max_entries`` each."""
        with self._lock:
            return len(self._accounts), len(self._clients)
