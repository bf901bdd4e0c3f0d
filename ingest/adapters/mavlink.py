"""MAVLink telemetry -> `track_points`: telemetry logs (`.tlog`) here; the live UDP
listener (`ingest.feeds.mavlink_listener`) feeds datagrams through the same `FixStream`.

A `.tlog` is what QGroundControl, Mission Planner and MAVProxy record: every
MAVLink packet the ground station received, each behind the 8-byte big-endian
microsecond Unix time it arrived. pymavlink reads it (`mavutil.mavlogfile`),
MAVLink 1 and 2 alike; nothing of the framing is parsed here.

Which messages are records: position fixes. `GLOBAL_POSITION_INT` (the
autopilot's fused estimate) is the fix of a system that sends it; a system
that never does (a bare GPS tracker) is read from `GPS_RAW_INT` instead, so
one vehicle never gets two interleaved fixes per instant. In a file that is
decided over the whole file; live, `GPS_RAW_INT` is used until the first
`GLOBAL_POSITION_INT` of that system arrives. Other messages (attitude,
battery, parameters...) are not fixes and not records; `HEARTBEAT` gives the
platform type and `SYSTEM_TIME` the clock. Bytes pymavlink cannot frame
(bad CRC, truncated packets) are records that could not be read: one
quarantine row per run of them, with the bytes in hex.

    system id              -> track_id  f"mavlink:{sysid}" (alias it in track_ids.toml)
    lat, lon (degE7)       -> geometry
    alt (mm)               -> altitude_m  (as the autopilot reports it: MSL, or relative
                                           on some ArduPilot versions)
    vx, vy (cm/s) | vel    -> speed_mps   (ground speed)
    hdg | cog (cdeg)       -> heading_deg (65535 = unknown -> empty)
    HEARTBEAT.type         -> platform_type, e.g. "quadrotor" (MAV_TYPE without its prefix)
    source_id = f"mavlink:{sysid}@{time}"

Time: the vehicle's own clock when it can be had, else the ground station's.
`GLOBAL_POSITION_INT` carries only milliseconds since boot; `SYSTEM_TIME`
pairs that boot time with Unix time (from GPS), so time = boot ms + offset.
An autopilot that reboots mid-log starts counting from zero again; a boot
time that falls back by more than `REBOOT_SLACK_MS` starts a new boot
segment with its own offset. In a file the offset of a segment is the
median over all its `SYSTEM_TIME` messages (so fixes logged before the first
one get the vehicle time too); live it is the latest one. A fix for which
no offset is known takes the time it was received: the tlog's timestamp,
or the listener's clock. `GPS_RAW_INT.time_usec` is used as Unix time when
the sender filled it so (after 2001), else as boot time.

A fix with no position (lat = lon = 0 from an autopilot without GPS lock,
`GPS_RAW_INT.fix_type` below 2D) is quarantined as missing_geometry with the
reason; everything else goes to validate.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

# The MAVLink 2.0 parser reads MAVLink 1 packets too; the 1.0 one drops MAVLink 2
# packets as bad data. pymavlink picks its parser from this variable.
os.environ.setdefault("MAVLINK20", "1")
from pymavlink import mavutil

from ingest import reasons
from ingest.adapters.base import ReadResult, rejection
from ingest.adapters.common import MAX_INPUT_BYTES, check_size
from ingest.adapters.cot import result_from_parsed
from ingest.errors import UnreadableInputError

if not mavutil.mavlink.__name__.startswith("pymavlink.dialects.v20."):
    mavutil.set_dialect(mavutil.current_dialect)  # mavutil was imported before we set MAVLINK20
mavlink = mavutil.mavlink

LAYER = "track_points"
POSITION_TYPES = ("GLOBAL_POSITION_INT", "GPS_RAW_INT")
WANTED = (*POSITION_TYPES, "SYSTEM_TIME", "HEARTBEAT", "BAD_DATA")
UNKNOWN_U16 = 65535
REBOOT_SLACK_MS = 10_000
UNIX_US_AFTER = 1_000_000_000_000_000  # GPS_RAW_INT.time_usec above this is Unix time (2001-09)
MAX_RAW_HEX = 2000
_NO_FIX = {0: "NO_GPS", 1: "NO_FIX"}


def track_id(sysid: int) -> str:
    return f"mavlink:{sysid}"


def platform_name(mav_type: int) -> str | None:
    """'quadrotor' for MAV_TYPE_QUADROTOR; None for types the dialect does not name."""
    entry = mavlink.enums.get("MAV_TYPE", {}).get(int(mav_type))
    return entry.name.removeprefix("MAV_TYPE_").lower() if entry is not None else None


@dataclass
class BootClock:
    """One system's boot time -> Unix time, from its SYSTEM_TIME messages, across reboots."""

    segment: int = 0
    last_boot_ms: float | None = None
    offsets: dict[int, list[float]] = field(default_factory=dict)  # segment -> unix ms - boot ms

    def boot(self, boot_ms: float) -> int:
        """The boot segment a message with this boot time belongs to (a reboot starts a new one)."""
        if self.last_boot_ms is not None and boot_ms < self.last_boot_ms - REBOOT_SLACK_MS:
            self.segment += 1
            self.last_boot_ms = boot_ms
        elif self.last_boot_ms is None or boot_ms > self.last_boot_ms:
            self.last_boot_ms = boot_ms
        return self.segment

    def system_time(self, unix_us: int, boot_ms: int) -> None:
        segment = self.boot(boot_ms)
        if unix_us > 0:  # 0: the vehicle does not know the time yet
            self.offsets.setdefault(segment, []).append(unix_us / 1000 - boot_ms)

    def offset(self, segment: int, *, whole_file: bool) -> float | None:
        found = self.offsets.get(segment)
        if not found:
            return None
        return statistics.median_low(found) if whole_file else found[-1]


def _utc(ms: float) -> pd.Timestamp:
    return pd.Timestamp(round(ms * 1000), unit="us", tz="UTC")


@dataclass
class _Fix:
    """A position message, before its time is known."""

    sysid: int
    kind: str
    fields: dict[str, Any]
    received_ms: float
    boot_ms: float | None  # None when the message carries Unix time itself
    unix_ms: float | None
    segment: int = 0


class FixStream:
    """MAVLink messages in, `track_points` rows and rejections out; one per file or listener.

    `whole_file=True` (files) collects the fixes and resolves their times at
    `finish()`, when every SYSTEM_TIME of the file is known; live (`False`)
    each fix is resolved as it arrives and `message()` returns it at once.
    """

    def __init__(self, source: str, *, whole_file: bool = False) -> None:
        self.source, self.whole_file = source, whole_file
        self.clocks: dict[int, BootClock] = {}
        self.platforms: dict[int, str | None] = {}
        self.fused: set[int] = set()  # systems that send GLOBAL_POSITION_INT
        self.messages = 0
        self._held: list[_Fix | dict[str, Any]] = []

    def _clock(self, sysid: int) -> BootClock:
        return self.clocks.setdefault(sysid, BootClock())

    def message(self, msg: Any, received_s: float, origin: str | None = None) -> list[dict[str, Any]]:
        """Take one decoded message; return the rows or rejections it completes (live).

        `origin` (e.g. the sending address) is named in the detail of bytes that are not MAVLink.
        """
        self.messages += 1
        kind = msg.get_type()
        if kind == "BAD_DATA":
            return self._emit(self._bad(bytes(msg.get_msgbuf()), getattr(msg, "reason", ""), origin))
        if kind not in WANTED:
            return []
        sysid = msg.get_srcSystem()
        if kind == "HEARTBEAT":
            if msg.get_srcComponent() == 1 or sysid not in self.platforms:
                self.platforms[sysid] = platform_name(msg.type)
            return []
        if kind == "SYSTEM_TIME":
            self._clock(sysid).system_time(int(msg.time_unix_usec), int(msg.time_boot_ms))
            return []
        if kind == "GLOBAL_POSITION_INT":
            self.fused.add(sysid)
            boot_ms, unix_ms = float(msg.time_boot_ms), None
        elif sysid in self.fused and not self.whole_file:
            return []  # live: this system's fused fixes are the records
        elif msg.time_usec >= UNIX_US_AFTER:
            boot_ms, unix_ms = None, msg.time_usec / 1000
        else:
            boot_ms, unix_ms = msg.time_usec / 1000, None
        fix = _Fix(sysid, kind, msg.to_dict(), received_s * 1000, boot_ms, unix_ms)
        if boot_ms is not None:
            fix.segment = self._clock(sysid).boot(boot_ms)
        return self._emit(fix)

    def _emit(self, item: _Fix | dict[str, Any]) -> list[dict[str, Any]]:
        if self.whole_file:
            self._held.append(item)
            return []
        return [item if isinstance(item, dict) else self._row(item)]

    def finish(self) -> list[dict[str, Any]]:
        """Rows and rejections held for the end of a file (nothing, live)."""
        held, self._held = self._held, []
        out = []
        for item in held:
            if isinstance(item, dict):
                out.append(item)
            elif not (item.kind == "GPS_RAW_INT" and item.sysid in self.fused):
                out.append(self._row(item))
        return out

    def _time(self, fix: _Fix) -> pd.Timestamp:
        if fix.unix_ms is not None:
            return _utc(fix.unix_ms)
        offset = self._clock(fix.sysid).offset(fix.segment, whole_file=self.whole_file)
        if offset is None or fix.boot_ms is None:
            return _utc(fix.received_ms)
        return _utc(fix.boot_ms + offset)

    def _row(self, fix: _Fix) -> dict[str, Any]:
        f, tid = fix.fields, track_id(fix.sysid)
        time = self._time(fix)
        sid = f"{tid}@{time.isoformat()}"
        lat, lon = f["lat"] / 1e7, f["lon"] / 1e7
        if fix.kind == "GPS_RAW_INT" and f["fix_type"] < 2:
            return rejection(LAYER, self.source, sid, reasons.MISSING_GEOMETRY,
                             f"GPS_RAW_INT from system {fix.sysid} reports fix_type {f['fix_type']} "
                             f"({_NO_FIX[f['fix_type']]}): no position", f)
        if fix.kind == "GLOBAL_POSITION_INT" and f["lat"] == 0 and f["lon"] == 0:
            return rejection(LAYER, self.source, sid, reasons.MISSING_GEOMETRY,
                             f"GLOBAL_POSITION_INT from system {fix.sysid} has lat = lon = 0: "
                             "the autopilot has no position yet", f)
        if fix.kind == "GLOBAL_POSITION_INT":
            speed = (f["vx"] ** 2 + f["vy"] ** 2) ** 0.5 / 100
            heading = f["hdg"]
        else:
            speed = None if f["vel"] == UNKNOWN_U16 else f["vel"] / 100
            heading = f["cog"]
        return {
            "source": self.source,
            "source_id": sid,
            "marking": None,
            "track_id": tid,
            "time": time,
            "altitude_m": f["alt"] / 1000,
            "speed_mps": speed,
            "heading_deg": None if heading == UNKNOWN_U16 else heading / 100,
            "callsign": None,
            "platform_type": self.platforms.get(fix.sysid),
            "stale_at": None,
            "lon": lon,
            "lat": lat,
        }

    def _bad(self, data: bytes, why: str, origin: str | None) -> dict[str, Any]:
        text = data.hex()
        if len(text) > MAX_RAW_HEX:
            text = text[:MAX_RAW_HEX] + "...[truncated]"
        where = f" from {origin}" if origin else ""
        return rejection(LAYER, self.source, None, reasons.MALFORMED_RECORD,
                         f"expected MAVLink packets{where}, found {len(data)} byte(s) pymavlink "
                         f"cannot frame ({why or 'bad data'})", text)


def merge_bad_runs(messages: Iterable[Any]) -> Iterator[Any]:
    """Consecutive BAD_DATA messages (pymavlink reports junk a byte or a packet at a time) as one."""
    run: list[Any] = []
    for msg in messages:
        if msg.get_type() == "BAD_DATA":
            run.append(msg)
            continue
        if run:
            yield _joined(run)
            run = []
        yield msg
    if run:
        yield _joined(run)


def _joined(run: list[Any]) -> Any:
    if len(run) == 1:
        return run[0]
    return _bad_data(b"".join(bytes(m.get_msgbuf()) for m in run), run[0].reason, run[0]._timestamp)


def _bad_data(data: bytes, why: str, received_s: float) -> Any:
    msg = mavlink.MAVLink_bad_data(bytearray(data), why)
    msg._timestamp = received_s
    return msg


def read_tlog(path: Path, *, source: str, max_bytes: int = MAX_INPUT_BYTES, **_: Any) -> ReadResult:
    """Read the position fixes of a MAVLink telemetry log (`.tlog`).

    Raises UnreadableInputError for a missing or oversized file, or one in which
    pymavlink finds no MAVLink packet at all (not a tlog).
    """
    path = Path(path)
    check_size(path, max_bytes)
    stream = FixStream(source, whole_file=True)
    try:
        log = mavutil.mavlogfile(str(path), robust_parsing=True)
    except OSError as exc:
        raise UnreadableInputError(path, f"cannot open: {exc.strerror or exc}") from None
    good = 0
    try:
        def decoded() -> Iterator[Any]:
            while (msg := log.recv_msg()) is not None:
                yield msg
            rest = bytes(log.mav.buf[log.mav.buf_index:])  # a packet cut off by the end of the file
            if rest:
                yield _bad_data(rest, "incomplete packet at the end of the file", log._timestamp)

        for msg in merge_bad_runs(decoded()):
            good += msg.get_type() != "BAD_DATA"
            stream.message(msg, msg._timestamp)
    finally:
        log.close()
    if not good and path.stat().st_size:
        raise UnreadableInputError(path, "expected a MAVLink telemetry log (8-byte timestamp + packet "
                                         "records), found no MAVLink packet")
    parsed = stream.finish()
    return result_from_parsed(parsed)
