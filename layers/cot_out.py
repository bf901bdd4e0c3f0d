"""`watchfloor feed cot-out`: stream what one account may see to a TAK endpoint, as CoT.

Every `interval_s` the sender reads the tracks seen in the last `window_h` hours, the standing
deployments and the incidents of the window, passes them through `layers.access.restrict` for the
account (the one filter the dashboard applies to every picture: a record whose marking is not
releasable to the account's nation and clearance is never turned into an event), and sends one CoT
event per record (layers/export/cot.py: 2525 unit types, stale times, the marking in the detail).
The account is looked up again every cycle, so a disabled or removed account stops the stream at
the next cycle (logged), exactly as it would lose the dashboard at its next refresh.

TCP (TAK Server's streaming input, ATAK's 4242, the project's own cot-tcp listener): events are
written one after another on one connection. A lost connection is logged and the sender reconnects
with exponential backoff (`backoff_s` doubling up to `max_backoff_s`, reset after a cycle is
delivered); before each cycle it checks whether the peer has closed the connection, so a server
that hung up between cycles costs no events. UDP: one event per datagram (ATAK's SA port 6969);
a datagram refused by the peer is logged and sent again next cycle. Nothing here raises out of
`run`: a network or store failure is a log line and a retry, never a crash.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Self

import geopandas as gpd

from ingest.errors import WatchfloorError
from ingest.store import Store
from layers.access import Viewer, load_users, restrict
from layers.export.cot import event_bytes, record_events

log = logging.getLogger("watchfloor.cot_out")

SENT_LAYERS = ("tracks", "deployments", "incidents")


class CotOutError(WatchfloorError):
    """cot-out cannot start as asked (bad address, unknown account, unknown protocol)."""


def parse_target(text: str) -> tuple[str, int]:
    """HOST:PORT (IPv6 as [::1]:PORT) -> (host, port); CotOutError naming what was expected."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CotOutError(f"--to: expected HOST:PORT (port 1-65535), found {text!r}")
    return host, int(port)


@dataclass
class SenderStats:
    """Counters for logs and tests (not persisted)."""

    cycles: int = 0  # cycles whose events were all handed to the network
    events: int = 0
    connections: int = 0  # TCP connections opened
    failures: int = 0  # cycles that failed (connection lost or refused, store error, account gone)
    uids: set[str] = field(default_factory=set)  # every uid sent, for tests and the log


class CotSender:
    """The releasable picture of `username`, sent to (host, port) every `interval_s` until `stop`."""

    def __init__(self, store: Store, host: str, port: int, *, username: str, protocol: str = "tcp",
                 interval_s: float = 10.0, window_h: float = 24.0, backoff_s: float = 1.0,
                 max_backoff_s: float = 60.0, users: Callable[[], dict] = load_users,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if protocol not in ("tcp", "udp"):
            raise CotOutError(f"--protocol: expected tcp or udp, found {protocol!r}")
        if interval_s <= 0:
            raise CotOutError(f"--interval: expected a positive number of seconds, found {interval_s}")
        self.store, self.host, self.port, self.username = store, host, port, username
        self.protocol, self.interval_s, self.window_h = protocol, interval_s, window_h
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.users, self.clock = users, clock
        self.stats = SenderStats()
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what is sent ----------------------------------------------------------------------
    def viewer(self) -> Viewer:
        """The account as it is now; CotOutError if it is missing or disabled."""
        record = self.users().get(self.username)
        if record is None:
            raise CotOutError(f"account {self.username!r}: not in the users file; nothing is sent")
        if record.disabled:
            raise CotOutError(f"account {self.username!r} is disabled; nothing is sent")
        return record.viewer()

    def picture(self, now: datetime) -> dict[str, gpd.GeoDataFrame]:
        """Tracks, units and incidents the account may see now (as the dashboard restricts them)."""
        start = now - timedelta(hours=self.window_h)
        raw = {"tracks": self.store.read("tracks", start=start, end=now),
               "deployments": self.store.read("deployments", end=now),
               "incidents": self.store.read("incidents", start=start, end=now)}
        return restrict(raw, self.viewer())

    def events(self, now: datetime) -> list[tuple[str, bytes]]:
        return [(ev.get("uid"), event_bytes(ev)) for _, ev in record_events(self.picture(now))]

    # -- sending -----------------------------------------------------------------------------
    def _connect(self) -> socket.socket:
        if self.protocol == "udp":
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            return socket.socket(family, socket.SOCK_DGRAM)
        sock = socket.create_connection((self.host, self.port), timeout=10)
        self.stats.connections += 1
        log.info("cot-out: connected to %s:%d (tcp)", self.host, self.port)
        return sock

    def _peer_closed(self, sock: socket.socket) -> bool:
        """A TCP peer that hung up shows as readable with nothing to read."""
        if self.protocol != "tcp":
            return False
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        try:
            return sock.recv(4096, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None

    def send_once(self) -> int:
        """One cycle: the events of now, over the (re)opened connection. Raises OSError,
        CotOutError or a store error for `run` to log; returns the number of events sent."""
        events = self.events(self.clock())
        if self._sock is not None and self._peer_closed(self._sock):
            log.warning("cot-out: %s:%d closed the connection; reconnecting", self.host, self.port)
            self._close()
        if self._sock is None:
            self._sock = self._connect()
        for uid, data in events:
            if self.protocol == "tcp":
                self._sock.sendall(data)
            else:
                self._sock.sendto(data, (self.host, self.port))
            self.stats.uids.add(uid)
        self.stats.events += len(events)
        self.stats.cycles += 1
        return len(events)

    def run(self) -> None:
        """Send every `interval_s` until `stop()`; failures are logged and retried with backoff."""
        delay = self.backoff_s
        while not self._stop.is_set():
            try:
                self.send_once()
                delay = self.backoff_s
                wait = self.interval_s
            except Exception as exc:  # noqa: BLE001 - a feed logs and retries; it never crashes
                self.stats.failures += 1
                self._close()
                log.warning("cot-out to %s:%d (%s) failed: %s: %s; retrying in %.1f s", self.host, self.port,
                            self.protocol, type(exc).__name__, exc, delay)
                wait, delay = delay, min(delay * 2, self.max_backoff_s)
            self._stop.wait(wait)
        self._close()

    def start(self) -> Self:
        self._thread = threading.Thread(target=self.run, name=f"cot-out {self.host}:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
