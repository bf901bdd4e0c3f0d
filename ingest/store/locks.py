"""Leases: one holder at a time for a duty that several processes stand ready to do.

A shared deployment runs the same processes on several machines for availability, but some
work must be done by one of them at a time: polling or listening to a feed (two runners would
double the load on the source and race their writes), evaluating the alert rules (two
evaluators would raise, resolve and re-raise the same alerts twice). Each such duty has a name
(`feed:<name>`, `alerts`), and every store hands out a `Lease` for it (`Store.exclusive`):

    with store.exclusive("feed:partner-uav") as lease:
        if lease:            # this process holds it: do the work, asking lease.held() between steps
            ...
        # else another process holds it: stand by and try again later (that is the failover)

- PostGIS (several machines): a session advisory lock (`pg_try_advisory_lock`) on a connection
  of its own, keyed by a stable 64-bit hash of the store's schema and the name. PostgreSQL keeps
  it for as long as that session lives: it is released by `release()`, or by the server when the
  holding process dies or its connection is lost, so a standby's next attempt gets it. The
  connection's application_name says who holds it (`pid N on HOST`), for `holder()` and for
  an operator looking at `pg_stat_activity`.
- Delta (one machine): an exclusive `flock` on a file under the store folder (`.locks/`),
  released when the process dies (the kernel closes its files); the file names the holder.

Acquiring never waits. `held()` asks whether the claim still stands (PostGIS: a round trip on
the lease's connection; a lost connection is a lost lock): a holder calls it between steps and
stops when it says no, so at most one step overlaps with a successor's first one. Writes are
upserts, so even that overlap stores nothing twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Self

from filelock import FileLock, Timeout

from ingest.errors import StoreQueryError

# The lease names watchfloor uses (ingest/feeds/runner.py, layers/alerts/refresh.py).
ALERTS = "alerts"


def feed_lease(feed: str) -> str:
    """The lease of one feed: whoever holds it polls or listens to that feed."""
    return f"feed:{feed}"


def holder_id() -> str:
    """How this process is named as a holder: its pid and host (what `holder()` reports)."""
    return f"pid {os.getpid()} on {socket.gethostname()}"


def _check(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise StoreQueryError("lease name", "a non-empty name such as 'alerts' or 'feed:<name>'", name)
    return name


class Lease(ABC):
    """A named, exclusive claim that never waits to be acquired. Truthy while held; a context
    manager that tries to acquire on entry and releases on exit. Safe to share between threads."""

    def __init__(self, name: str) -> None:
        self.name = _check(name)
        self._held = False
        self._mutex = threading.Lock()

    def acquire(self) -> bool:
        """Try once: True if this lease holds the claim now (also when it already did)."""
        with self._mutex:
            if not self._held:
                self._held = self._try()
            return self._held

    def held(self) -> bool:
        """Whether the claim still stands; False from the moment it is found lost."""
        with self._mutex:
            if self._held and not self._alive():
                self._drop()
                self._held = False
            return self._held

    def release(self) -> None:
        with self._mutex:
            if self._held:
                self._drop()
                self._held = False

    @abstractmethod
    def holder(self) -> str | None:
        """Who holds the claim now (`pid N on HOST`), this process or another; None when free."""

    @abstractmethod
    def _try(self) -> bool: ...

    @abstractmethod
    def _alive(self) -> bool: ...

    @abstractmethod
    def _drop(self) -> None:
        """Give the claim up (or clean up after losing it); never raises."""

    def __bool__(self) -> bool:
        return self._held

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, held={self._held})"


# -- one machine: a file lock ------------------------------------------------------------

class FileLease(Lease):
    """A lease among the processes of one machine sharing a store folder: `flock` on
    `<folder>/<name>-<hash>.lock`, whose content names the holder."""

    def __init__(self, folder: Path, name: str) -> None:
        super().__init__(name)
        self.folder = Path(folder)
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]
        self.path = self.folder / f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:12]}.lock"
        self._lock = self._file_lock()

    def _file_lock(self) -> FileLock:
        return FileLock(self.path, thread_local=False, blocking=False, on_acquired=_write_holder)

    def _try(self) -> bool:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(blocking=False)
        except Timeout:
            return False
        return True

    def _alive(self) -> bool:
        return True  # a flock lasts as long as the process that holds it

    def _drop(self) -> None:
        self._lock.release(force=True)

    def holder(self) -> str | None:
        if self._held:
            return holder_id()
        probe = self._file_lock()
        try:
            probe.acquire(blocking=False)
        except Timeout:
            try:
                return self.path.read_text(encoding="utf-8").strip() or "another process"
            except FileNotFoundError:  # released between the two looks
                return None
        except FileNotFoundError:  # the folder does not exist yet: nobody ever held it
            return None
        probe.release(force=True)
        return None


def _write_holder(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, holder_id().encode(), 0)


# -- several machines: a PostgreSQL session advisory lock ---------------------------------

# The lease's own connection notices a dead server or network within about this many seconds
# (TCP keepalives and a send timeout), so a holder cut off from the database stops its work.
KEEPALIVE = {"keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "5",
             "keepalives_count": "3", "tcp_user_timeout": "30000"}
APP_PREFIX = "watchfloor "


def advisory_key(schema: str, name: str) -> int:
    """The lock's 64-bit key: the same on every machine and in every version (not Python's
    `hash`), and distinct per schema, so two deployments sharing a database never collide."""
    digest = hashlib.sha256(f"watchfloor\x1f{schema}\x1f{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLease(Lease):
    """A lease among the processes of every machine using one PostGIS store."""

    def __init__(self, url: str, name: str) -> None:
        super().__init__(name)
        self.url = url
        self._conn = None
        self._key: int | None = None

    def _connect(self):
        from ingest.store.postgis import connect

        conn = connect(self.url, application_name=(APP_PREFIX + holder_id())[:63], **KEEPALIVE)
        if self._key is None:
            schema = conn.execute("SELECT current_schema()").fetchone()[0] or ""
            self._key = advisory_key(schema, self.name)
        return conn

    def _try(self) -> bool:
        conn = self._connect()
        try:
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()[0]
        except Exception:
            conn.close()
            raise
        if got:
            self._conn = conn
            return True
        conn.close()
        return False

    def _alive(self) -> bool:
        import psycopg

        try:
            self._conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        import psycopg

        try:  # on a lost connection the server released the lock with the session
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
        finally:
            conn.close()

    def holder(self) -> str | None:
        if self._held:
            return holder_id()
        with self._connect() as conn:
            # a bigint advisory key shows in pg_locks as classid (high 32 bits), objid (low 32 bits), objsubid 1
            unsigned = self._key & 0xFFFFFFFFFFFFFFFF
            row = conn.execute(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid",
                (unsigned >> 32, unsigned & 0xFFFFFFFF)).fetchone()
        if row is None:
            return None
        return (row[0] or "").removeprefix(APP_PREFIX) or "another process"
