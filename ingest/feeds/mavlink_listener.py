"""Receive MAVLink telemetry over UDP (`kind = "mavlink-udp"`) and ingest the position fixes.

Ground stations and autopilots forward telemetry as UDP datagrams, one or
more MAVLink packets each (QGroundControl and MAVProxy use port 14550).
Everything but the parsing is the CoT UDP listener's: binding (127.0.0.1
unless the config says otherwise: MAVLink without signing is as open as plain
CoT), batching, store retries, feed status. What differs is `_message`: each
datagram goes through pymavlink's parser (one per sending address, since a
packet may in principle span datagrams) and then through the same
`FixStream` the `.tlog` reader uses, so a live fix and a logged one get the
same track id, time rule and quarantine reasons. Bytes pymavlink cannot frame
are quarantined (malformed_record, hex in `raw`); messages that are not fixes
are counted in `stats.messages` only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from ingest.adapters.mavlink import FixStream, mavlink, merge_bad_runs
from ingest.feeds.config import CotFeed, MavlinkFeed
from ingest.feeds.cot_listener import CotListener, utcnow
from ingest.store.base import Store

MAX_PEERS = 1024  # parsers kept for this many sending addresses (the least recent go first)


class MavlinkListener(CotListener):
    """One `mavlink-udp` feed. `start()`, `stop()`, `stats`, `address` as for `CotListener`."""

    def __init__(self, feed: MavlinkFeed, store: Store, *, write_lock: threading.Lock | None = None,
                 clock=utcnow) -> None:
        super().__init__(feed, store, write_lock=write_lock, clock=clock)
        self.fixes = FixStream(feed.source)
        self._parsers: OrderedDict[str, Any] = OrderedDict()

    def _parser(self, peer: str) -> Any:
        parser = self._parsers.pop(peer, None)
        if parser is None:
            parser = mavlink.MAVLink(None)
            parser.robust_parsing = True  # junk becomes BAD_DATA messages, not exceptions
        self._parsers[peer] = parser
        while len(self._parsers) > MAX_PEERS:
            self._parsers.popitem(last=False)
        return parser

    def _message(self, data: bytes, name: str) -> bool:
        """Parse one datagram and queue its fixes and rejections."""
        self.stats.messages += 1
        received = self.clock().timestamp()
        for msg in merge_bad_runs(self._parser(name).parse_buffer(data) or []):
            for item in self.fixes.message(msg, received, origin=name):
                if "reason" in item and "quarantined_at" in item:
                    self.stats.rejected += 1
                else:
                    self.stats.events += 1
                self._queue(item)
        return True


def listener_class(feed: CotFeed) -> type[CotListener]:
    """The listener for a listening feed's kind."""
    return MavlinkListener if isinstance(feed, MavlinkFeed) else CotListener
