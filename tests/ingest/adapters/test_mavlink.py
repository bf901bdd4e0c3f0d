"""MAVLink telemetry logs (.tlog) through adapter -> validate -> store.

The sample is the first 640 KB of a real ArduPilot quadcopter flight (Canberra,
2015-07-18) shipped in a PyPI package (tests/data/README.md): 676
GLOBAL_POSITION_INT fixes of system 1 and two autopilot reboots. Expected values
were read off the packets with pymavlink and checked by hand: a fix's time is
its boot time plus the SYSTEM_TIME offset of its boot (e.g. the last fix:
time_boot_ms 32656 + 1437196172974 ms = 05:10:05.630Z).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pandas as pd
import pytest

from ingest.adapters import detect, read
from ingest.errors import UnreadableInputError
from ingest.pipeline import ingest

os.environ.setdefault("MAVLINK20", "1")
from pymavlink import mavutil

TLOG = Path(__file__).resolve().parents[2] / "data" / "mavlink" / "ardupilot_flight_2015.tlog"


def records(path: Path) -> list[tuple[int, bytes]]:
    """(receive time in us, packet bytes) of every record of a tlog, read by pymavlink."""
    log = mavutil.mavlogfile(str(path))
    out = []
    while (msg := log.recv_msg()) is not None:
        out.append((round(msg._timestamp * 1e6), bytes(msg.get_msgbuf())))
    return out


def write_tlog(path: Path, recs: list[tuple[int, bytes]]) -> Path:
    path.write_bytes(b"".join(struct.pack(">Q", t) + packet for t, packet in recs))
    return path


def test_a_real_tlog_is_stored_whole_with_vehicle_time_across_two_reboots(store):
    result = read(TLOG, source="gcs-log")
    summary = ingest(store, result, source="gcs-log", default_marking="UNCLASSIFIED")
    assert (summary.read, summary.stored, summary.quarantined) == (676, 676, 0)
    points = store.read("track_points").sort_values("time").reset_index(drop=True)
    assert set(points["track_id"]) == {"mavlink:1"}
    assert set(points["platform_type"]) == {"quadrotor"}  # from system 1's HEARTBEAT (MAV_TYPE 2)
    first, last = points.iloc[0], points.iloc[-1]
    # The first fix precedes the first SYSTEM_TIME, yet gets the vehicle's time
    # (05:05:28.427), not the ground station's receive time (05:05:28.006).
    assert first["time"] == pd.Timestamp("2015-07-18T05:05:28.427Z")
    assert (first.geometry.y, first.geometry.x) == (-35.2080891, 149.0435193)
    assert first["altitude_m"] == pytest.approx(1.93)
    assert first["heading_deg"] == pytest.approx(318.06)
    assert first["speed_mps"] == pytest.approx((0.40**2 + 0.26**2) ** 0.5)  # vx -40, vy -26 cm/s
    assert last["time"] == pd.Timestamp("2015-07-18T05:10:05.630Z")
    assert (last.geometry.y, last.geometry.x) == (-35.2080786, 149.0434948)
    # time_boot_ms falls back to ~16 s at each reboot; the times still only go forward.
    assert points["time"].is_monotonic_increasing and points["time"].is_unique
    # The only silences longer than 2 s are the two reboots: 16.4 s and 22.1 s without a fix.
    gaps = points["time"].diff().dt.total_seconds()
    assert list(gaps[gaps > 2].round(3)) == [16.415, 22.102]
    # first fix after the second reboot: time_boot_ms 17548 + 1437196172974 ms
    assert points["time"].iloc[gaps.idxmax()] == pd.Timestamp("2015-07-18T05:09:50.522Z")
    tracks = store.read("tracks")
    assert list(tracks["point_count"]) == [676] and list(tracks["track_id"]) == ["mavlink:1"]


def test_reingesting_the_same_log_changes_nothing(store):
    ingest(store, read(TLOG, source="gcs-log"), source="gcs-log")
    again = ingest(store, read(TLOG, source="gcs-log"), source="gcs-log")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 676)


def test_corrupt_and_truncated_packets_are_quarantined_with_their_bytes(store, tmp_path):
    recs = records(TLOG)[:400]
    bad = bytearray(recs[100][1])
    bad[-1] ^= 0xFF  # a CRC byte: pymavlink refuses the packet
    damaged = recs[:100] + [(recs[100][0], bytes(bad))] + recs[101:]
    path = write_tlog(tmp_path / "damaged.tlog", damaged)
    path.write_bytes(path.read_bytes() + struct.pack(">Q", recs[-1][0] + 1000) + recs[5][1][:9])
    expected_fixes = sum(1 for _, p in recs if _msgid(p) == 33) - (_msgid(recs[100][1]) == 33)

    result = read(path, source="gcs-log")
    summary = ingest(store, result, source="gcs-log")
    assert summary.stored == expected_fixes
    assert summary.stored + summary.quarantined == summary.read == expected_fixes + 2
    q = store.quarantined(source="gcs-log")
    assert list(q["reason"]) == ["malformed_record", "malformed_record"]
    crc = q[q["detail"].str.contains("invalid MAVLink CRC")].iloc[0]
    assert f"found {len(bad)} byte(s) pymavlink cannot frame" in crc["detail"]
    assert crc["raw"] == bytes(bad).hex()
    cut = q[q["detail"].str.contains("incomplete packet at the end of the file")].iloc[0]
    assert "found 9 byte(s)" in cut["detail"] and cut["raw"] == recs[5][1][:9].hex()


def _msgid(packet: bytes) -> int:
    return packet[5] if packet[0] == 0xFE else int.from_bytes(packet[7:10], "little")


def test_a_system_that_sends_no_global_position_is_read_from_gps_raw_int(store, tmp_path):
    recs = [r for r in records(TLOG) if _msgid(r[1]) != 33]  # drop GLOBAL_POSITION_INT
    raw_fixes = sum(1 for _, p in recs if _msgid(p) == 24)
    summary = ingest(store, read(write_tlog(tmp_path / "gps.tlog", recs), source="gps"), source="gps")
    assert summary.stored + summary.quarantined == summary.read == raw_fixes
    points = store.read("track_points").sort_values("time")
    first = points.iloc[0]
    # GPS_RAW_INT: time_usec is boot time here (103632000 us), so the SYSTEM_TIME offset applies
    assert first["time"] == pd.Timestamp("2015-07-18T05:05:28.427Z")
    assert first["altitude_m"] == pytest.approx(582.42)  # GPS altitude, MSL, mm -> m
    assert first["speed_mps"] == pytest.approx(0.14) and first["heading_deg"] == 0.0


def test_a_tlog_is_detected_by_extension_and_by_its_first_bytes(tmp_path):
    assert detect(TLOG) == "mavlink-tlog"
    renamed = tmp_path / "capture.bin"
    renamed.write_bytes(TLOG.read_bytes()[:4096])
    assert detect(renamed) == "mavlink-tlog"


def test_a_file_without_mavlink_is_refused(tmp_path):
    junk = tmp_path / "junk.tlog"
    junk.write_bytes(b"this is a text file, not telemetry\n" * 20)
    with pytest.raises(UnreadableInputError, match="found no MAVLink packet"):
        read(junk, source="x")
