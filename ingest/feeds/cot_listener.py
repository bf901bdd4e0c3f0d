"""Receive Cursor-on-Target over UDP and TCP, and ingest it in batches.

TAK conventions: UDP carries one `<event>` per datagram (port 6969; the SA
multicast group is 239.2.3.1), TCP carries events concatenated on a stream
(port 8087) that `iter_cot_events` splits, whatever the send() boundaries.

Why batches: every `pipeline.ingest` call is a store transaction, and a
drone swarm sends several fixes a second. Parsed events are buffered and
ingested every `batch_s` seconds or every `batch_max` events, whichever comes
first, and once more when the listener stops.

Nothing is dropped silently:
- an event that is not a usable `<event>` (no point, text coordinates, not
  XML) becomes a quarantine row with its reason, via the pipeline;
- hostile XML (DOCTYPE, entity declarations: entity expansion, XXE) is refused
  by the parser, counted in `stats.hostile` and quarantined with reason
  `hostile_input` and the offending bytes (truncated); a TCP peer that sends it
  is disconnected, since nothing it sends after that can be trusted;
- if the store fails, the batch is kept and retried at the next flush, up to
  `MAX_PENDING` events; beyond that the oldest are counted in `stats.dropped`
  and named in the feed status, never just forgotten.

Binding: 127.0.0.1 unless the config says otherwise. Plain CoT has no
authentication: anyone who can reach the port can put tracks on the picture,
so exposing it beyond the host must be a deliberate setting (and should sit
behind a network the operation controls). Multicast: the socket binds the
group address and joins it on `interface`.

Position reports (CoT types `a-*`, friendly ones too) are stored as `track_points`;
drawings (`u-d-*`, routes `b-m-r`, range and bearing `u-rb-a`) as shapes on `overlays`,
events of our own data package in their record's layer (ingest/adapters/cot_drawings.py),
and any other type (chat, markers) is quarantined as `unsupported_type`.
"""

from __future__ import annotations

import logging
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

import pandas as pd

from ingest.adapters import cot_drawings
from ingest.adapters.base import ReadResult, rejection, rejections
from ingest.adapters.cot import LAYER, iter_cot_events, parse_cot_message, result_from_parsed
from ingest.errors import HostileInputError
from ingest.feeds.config import CotFeed
from ingest.feeds.errors import FeedError
from ingest.feeds.health import to_utc
from ingest.pipeline import IngestSummary, ingest_results
from ingest.store.base import FeedStatus, Store

log = logging.getLogger("watchfloor.feeds")

from ingest.reasons import HOSTILE_INPUT

MAX_DATAGRAM = 65535
MAX_RAW_CHARS = 4000  # bytes of a hostile message kept as evidence
MAX_PENDING = 200_000  # events held while the store is failing
_POLL_S = 0.2  # how often blocking loops look at the stop flag


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ListenerStats:
    """Counters since start; read them for tests and logs (not persisted)."""

    messages: int = 0  # datagrams, or events cut from TCP streams
    events: int = 0  # parsed into a track point
    rejected: int = 0  # malformed: quarantined through the pipeline
    hostile: int = 0  # refused XML (DOCTYPE/entities), quarantined
    stored: int = 0
    quarantined: int = 0
    batches: int = 0
    dropped: int = 0  # only if the store failed for longer than MAX_PENDING events
    connections: int = 0
    connections_refused: int = 0  # over max_connections
    connections_dropped: int = 0  # for hostile input


class CotListener:
    """One CoT feed: a UDP socket or a TCP server, plus a thread that flushes batches.

    `start()` binds (raising FeedError if it cannot) and returns; `stop()` stops
    receiving, ingests what is pending and records the feed as stopped. Use as a
    context manager in tests."""

    def __init__(self, feed: CotFeed, store: Store, *, write_lock: threading.Lock | None = None,
                 clock=utcnow) -> None:
        self.feed, self.store, self.clock = feed, store, clock
        self.write_lock = write_lock
        self.stats = ListenerStats()
        self._pending: list[dict[str, Any]] = []
        self._pending_since: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()
        self._sock: socket.socket | None = None
        self._last_status = 0.0
        self._state: str | None = None
        self.last_success: pd.Timestamp | None = None
        self.consecutive_failures = 0
        self.last_error: str | None = None
        self.started_at: pd.Timestamp | None = None

    # -- lifecycle -------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound; port 0 in the config means any free port."""
        if self._sock is None:
            raise RuntimeError("listener not started")
        host, port = self._sock.getsockname()[:2]
        return host, port

    def start(self) -> CotListener:
        feed = self.feed
        try:
            self._sock = self._bind()
        except OSError as exc:
            where = f"{feed.group or feed.host}:{feed.port}"
            raise FeedError(feed.name, f"cannot listen on {feed.kind} {where}: {exc.strerror or exc}") from None
        self._stop.clear()
        self.started_at = pd.Timestamp(self.clock())
        self._resume_status()
        receiver = self._udp_loop if feed.kind.endswith("-udp") else self._accept_loop
        for target, label in ((receiver, "receive"), (self._flush_loop, "flush")):
            t = threading.Thread(target=target, name=f"cot-{label}-{feed.name}", daemon=True)
            t.start()
            self._threads.append(t)
        log.info("feed %s: listening for CoT on %s %s:%d", feed.name, feed.kind, *self.address)
        self._write_status(force=True)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop receiving, ingest what is pending, record the feed as stopped."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for t in list(self._threads):
            t.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            _close(c)
        if self._sock is not None:
            _close(self._sock)
        self.flush()
        self._state = "stopped"
        self._write_status(force=True, state="stopped")
        self._threads.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _bind(self) -> socket.socket:
        feed = self.feed
        if feed.kind.endswith("-udp"):  # cot-udp, and mavlink-udp (a subclass)
            if feed.group:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TAK clients share the port
                # Binding the group (POSIX) receives that group's datagrams only; Windows
                # cannot bind a multicast address and binds all interfaces instead.
                s.bind(("" if sys.platform == "win32" else feed.group, feed.port))
                mreq = struct.pack("4s4s", socket.inet_aton(feed.group), socket.inet_aton(feed.interface))
                s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            else:
                s = socket.socket(_family(feed.host), socket.SOCK_DGRAM)
                s.bind((feed.host, feed.port))
            try:  # room for a burst while the flusher holds the store
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            except OSError:
                pass
        else:
            s = socket.socket(_family(feed.host), socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((feed.host, feed.port))
            s.listen(min(feed.max_connections, 128))
        s.settimeout(_POLL_S)
        return s

    # -- receiving ---------------------------------------------------------------
    def _udp_loop(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stop.is_set():
            try:
                data, addr = sock.recvfrom(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError as exc:
                if self._stop.is_set():
                    break
                log.warning("feed %s: receive error: %s", self.feed.name, exc)
                time.sleep(_POLL_S)
                continue
            self._message(data, f"{self.feed.name} (udp from {addr[0]}:{addr[1]})")

    def _accept_loop(self) -> None:
        server = self._sock
        assert server is not None
        while not self._stop.is_set():
            try:
                conn, addr = server.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if self._stop.is_set():
                    break
                log.warning("feed %s: accept error: %s", self.feed.name, exc)
                time.sleep(_POLL_S)
                continue
            with self._lock:
                full = len(self._conns) >= self.feed.max_connections
                if not full:
                    self._conns.add(conn)
            if full:
                self.stats.connections_refused += 1
                log.warning("feed %s: refused connection from %s: %d connections open (max_connections)",
                            self.feed.name, addr[0], self.feed.max_connections)
                _close(conn)
                continue
            self.stats.connections += 1
            t = threading.Thread(target=self._serve, args=(conn, addr), daemon=True,
                                 name=f"cot-conn-{self.feed.name}-{addr[0]}:{addr[1]}")
            t.start()
            self._threads = [x for x in self._threads if x.is_alive()] + [t]

    def _serve(self, conn: socket.socket, addr: tuple[Any, ...]) -> None:
        """Read one TCP peer's stream until EOF, idle timeout, stop, or hostile input."""
        peer = f"{addr[0]}:{addr[1]}"
        name = f"{self.feed.name} (tcp from {peer})"
        tail = bytearray()  # the last bytes received: evidence if the stream turns hostile
        conn.settimeout(_POLL_S)

        def chunks() -> Iterator[bytes]:
            last = time.monotonic()
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    if time.monotonic() - last > self.feed.idle_timeout_s:
                        log.info("feed %s: closing %s, silent for %g s", self.feed.name, peer,
                                 self.feed.idle_timeout_s)
                        return
                    continue
                except OSError:
                    return
                if not data:
                    return
                last = time.monotonic()
                tail.extend(data)
                del tail[:-MAX_RAW_CHARS]
                yield data

        try:
            for event in iter_cot_events(chunks(), name=name):
                if not self._message(event, name):
                    self.stats.connections_dropped += 1  # hostile: drop the peer
                    log.warning("feed %s: dropped %s after hostile input", self.feed.name, peer)
                    break
        except HostileInputError as exc:
            self._hostile(exc, bytes(tail), name)
            self.stats.connections_dropped += 1
            log.warning("feed %s: dropped %s: %s", self.feed.name, peer, exc.reason)
        except Exception:  # one peer's bug must not take the listener down
            log.exception("feed %s: error on connection from %s", self.feed.name, peer)
        finally:
            with self._lock:
                self._conns.discard(conn)
            _close(conn)

    def _message(self, data: bytes, name: str) -> bool:
        """Parse one event and queue it (row or rejection). False if it was hostile."""
        self.stats.messages += 1
        try:
            layer, parsed = parse_cot_message(data, source=self.feed.source, name=name)
        except HostileInputError as exc:
            self._hostile(exc, data, name)
            return False
        if "reason" in parsed and "quarantined_at" in parsed:
            self.stats.rejected += 1
        else:
            self.stats.events += 1
            if layer != LAYER:
                parsed["_layer"] = layer  # a drawing, or a record of our own data package
        self._queue(parsed)
        return True

    def _hostile(self, exc: HostileInputError, raw: bytes, name: str) -> None:
        self.stats.hostile += 1
        log.warning("feed %s: refused hostile CoT from %s: %s", self.feed.name, name, exc.reason)
        text = raw.decode("utf-8", errors="replace")
        if len(text) > MAX_RAW_CHARS:
            text = text[:MAX_RAW_CHARS] + "...[truncated]"
        self._queue(rejection(LAYER, self.feed.source, None, HOSTILE_INPUT,
                              f"refused from {name}: {exc.reason}", text))

    def _queue(self, item: dict[str, Any]) -> None:
        with self._lock:
            if not self._pending:
                self._pending_since = time.monotonic()
            self._pending.append(item)
            full = len(self._pending) >= self.feed.batch_max
        if full:
            self._wake.set()

    # -- batching ------------------------------------------------------------------
    def _flush_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(min(_POLL_S, self.feed.batch_s))
            self._wake.clear()
            if self._stop.is_set():
                break
            with self._lock:
                n = len(self._pending)
                since = self._pending_since
            due = n >= self.feed.batch_max or (
                n > 0 and since is not None and time.monotonic() - since >= self.feed.batch_s)
            try:
                if due:
                    self.flush()
                elif time.monotonic() - self._last_status >= self.feed.interval_s:
                    self._write_status(force=True)  # heartbeat: the listener is alive
            except Exception:  # keep flushing whatever happens
                log.exception("feed %s: flush failed", self.feed.name)

    def flush(self, now: datetime | None = None) -> IngestSummary | None:
        """Ingest what is pending now. On a store failure the batch is kept for the next flush."""
        with self._lock:
            batch, self._pending, self._pending_since = self._pending, [], None
        if not batch:
            return None
        now = now or self.clock()
        try:
            results = _results(batch)
            with self.write_lock or nullcontext():
                summary = ingest_results(self.store, results, source=self.feed.source,
                                         default_marking=self.feed.default_marking, now=now)
        except Exception as exc:  # noqa: BLE001 - a store outage must not lose the events
            self.consecutive_failures += 1
            self.last_error = f"could not store {len(batch)} CoT event(s): {type(exc).__name__}: {exc}"
            log.error("feed %s: %s", self.feed.name, self.last_error)
            with self._lock:
                self._pending = batch + self._pending
                over = len(self._pending) - MAX_PENDING
                if over > 0:
                    del self._pending[:over]
                    self.stats.dropped += over
                    self.last_error += f"; {self.stats.dropped} event(s) dropped so far (buffer full)"
                self._pending_since = self._pending_since or time.monotonic()
            self._write_status(force=True)
            return None
        self.stats.batches += 1
        self.stats.stored += summary.stored
        self.stats.quarantined += summary.quarantined
        self.consecutive_failures = 0
        if summary.stored:
            self.last_success = pd.Timestamp(now)
        self.last_error = (f"last batch: {summary.quarantined} of {summary.read} event(s) quarantined: "
                           + ", ".join(f"{k} {v}" for k, v in summary.reasons.most_common())
                           if summary.quarantined else None)
        log.info("feed %s: %s", self.feed.name, summary.line())
        self._write_status(records=summary.read, quarantined=summary.quarantined, now=now)
        return summary

    # -- status ----------------------------------------------------------------------
    def _resume_status(self) -> None:
        """Carry the last success over a restart, so staleness is measured from real data."""
        try:
            table = self.store.feed_status()
            rows = table[table["feed"] == self.feed.name] if len(table) else table
            if len(rows) and self.last_success is None:
                self.last_success = to_utc(rows.iloc[0]["last_success"])
        except Exception:  # no status yet is not an error
            log.debug("feed %s: no previous status", self.feed.name, exc_info=True)

    def _write_status(self, *, force: bool = False, state: str | None = None, records: int = 0,
                      quarantined: int = 0, now: datetime | None = None) -> None:
        """Record the feed's status; after a flush at most every few seconds (each write is a
        store transaction), always on start, stop, failure and heartbeat."""
        state = state or ("failing" if self.consecutive_failures else "ok")
        every = min(5.0, self.feed.interval_s)
        if not force and state == self._state and time.monotonic() - self._last_status < every:
            return
        ts = pd.Timestamp(now or self.clock())
        status = FeedStatus(
            feed=self.feed.name, kind=self.feed.kind, state=state,
            last_attempt=ts,  # for a listener: last time it was known to be alive
            last_success=to_utc(self.last_success),
            last_error=self.last_error, consecutive_failures=self.consecutive_failures,
            records_last=records, quarantined_last=quarantined,
            interval_s=self.feed.interval_s, next_attempt=None, marking=self.feed.default_marking,
        )
        try:
            with self.write_lock or nullcontext():
                self.store.put_feed_status(status)
            self._state, self._last_status = state, time.monotonic()
        except Exception:
            log.exception("feed %s: could not record the feed status", self.feed.name)


def _results(batch: list[dict[str, Any]]) -> list[ReadResult]:
    """The batch as one ReadResult per layer: track points (and every rejection of a track point)
    first, as `result_from_parsed` builds them, then drawings and our own records by layer."""
    points = [dict(item) for item in batch  # copies: result_from_parsed pops keys
              if "_layer" not in item and item.get("layer", LAYER) == LAYER]
    out = [result_from_parsed(points)] if points else []
    others: dict[str, list[dict[str, Any]]] = {}
    bad: dict[str, list[dict[str, Any]]] = {}
    for item in batch:
        if "_layer" in item:
            row = dict(item)
            others.setdefault(row.pop("_layer"), []).append(row)
        elif item.get("layer", LAYER) != LAYER:
            bad.setdefault(item["layer"], []).append(item)
    for layer in sorted(set(others) | set(bad)):
        out.append(ReadResult(layer, cot_drawings.frame_of(layer, others.get(layer, [])), rejections(bad.get(layer, []))))
    return out


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _close(s: socket.socket) -> None:
    try:
        s.close()
    except OSError:
        pass
