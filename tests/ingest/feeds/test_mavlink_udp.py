"""The `mavlink-udp` feed: real MAVLink datagrams on 127.0.0.1 into a real store.

Packets are encoded by pymavlink itself (MAVLink 2, and MAVLink 1 where said),
or replayed byte for byte from the real ArduPilot tlog in tests/data/mavlink.
Waits poll a condition with a deadline; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ingest.adapters.mavlink import mavlink, read_tlog
from ingest.errors import ConfigError
from ingest.feeds import parse_config
from ingest.feeds.mavlink_listener import MavlinkListener
from tests.ingest.feeds.conftest import wait_for

TLOG = Path(__file__).resolve().parents[2] / "data" / "mavlink" / "ardupilot_flight_2015.tlog"
BOOT_UTC_US = 1_763_726_340_000_000  # 2025-11-21T11:59:00Z: the drone booted then (boot ms 0)

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("home")]


def feed(**settings: Any):
    table = {"name": "gcs", "kind": "mavlink-udp", "port": 0, "batch_s": 0.2, "source": "gcs-telemetry",
             "default_marking": "UNCLASSIFIED", **settings}
    return parse_config({"feed": [table]}).feeds[0]


class Drone:
    """pymavlink's encoder for one system: each method returns the packet's bytes."""

    def __init__(self, sysid: int) -> None:
        self.mav = mavlink.MAVLink(None, srcSystem=sysid, srcComponent=1)

    def heartbeat(self, mav_type: int = mavlink.MAV_TYPE_QUADROTOR) -> bytes:
        return self.mav.heartbeat_encode(mav_type, mavlink.MAV_AUTOPILOT_PX4, 0, 0, 0).pack(self.mav)

    def system_time(self, boot_ms: int) -> bytes:
        return self.mav.system_time_encode(BOOT_UTC_US + boot_ms * 1000, boot_ms).pack(self.mav)

    def position(self, boot_ms: int, lat: float, lon: float, v1: bool = False) -> bytes:
        msg = self.mav.global_position_int_encode(boot_ms, round(lat * 1e7), round(lon * 1e7), 850_000,
                                                  120_000, 300, 400, 0, 9000)
        return msg.pack(self.mav, force_mavlink1=v1)

    def gps(self, unix_us: int, lat: float, lon: float, fix_type: int = 3) -> bytes:
        return self.mav.gps_raw_int_encode(unix_us, fix_type, round(lat * 1e7), round(lon * 1e7), 900_000,
                                           120, 65535, 1250, 27000, 9).pack(self.mav)


def test_defaults_port_14550_on_loopback_and_refuse_multicast_settings():
    f = parse_config({"feed": [{"name": "gcs", "kind": "MAVLink-UDP"}]}).feeds[0]
    assert (f.kind, f.host, f.port) == ("mavlink-udp", "127.0.0.1", 14550)
    with pytest.raises(ConfigError, match="unknown setting 'group'"):
        feed(group="239.2.3.1")


def test_fixes_reach_the_store_with_vehicle_time_and_bad_packets_are_quarantined(store):
    uav, tracker = Drone(7), Drone(9)
    corrupt = bytearray(uav.position(65_000, 42.7, 21.2))
    corrupt[-2] ^= 0xFF  # CRC
    datagrams = [
        uav.heartbeat(), uav.system_time(60_000),
        uav.position(61_000, 42.6600, 21.1700),
        uav.position(62_000, 42.6605, 21.1706) + uav.position(63_000, 42.6610, 21.1712, v1=True),
        uav.gps(BOOT_UTC_US + 63_500_000, 42.66, 21.17),  # the fused position is this system's fix
        uav.position(64_000, 0, 0),  # no position yet
        bytes(corrupt),
        tracker.heartbeat(mavlink.MAV_TYPE_GROUND_ROVER),
        tracker.gps(BOOT_UTC_US + 90_000_000, 42.5, 21.0),  # Unix time_usec: used as it is
    ]
    with MavlinkListener(feed(), store) as listener, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        assert listener.address[0] == "127.0.0.1"
        for d in datagrams:
            tx.sendto(d, listener.address)
        assert wait_for(lambda: listener.stats.messages == len(datagrams) and listener.stats.stored == 4
                        and listener.stats.quarantined == 2)
    points = store.read("track_points").sort_values("time").reset_index(drop=True)
    assert list(points["track_id"]) == ["mavlink:7"] * 3 + ["mavlink:9"]
    assert list(points["time"]) == [pd.Timestamp(t) for t in (
        "2025-11-21T12:00:01Z", "2025-11-21T12:00:02Z", "2025-11-21T12:00:03Z", "2025-11-21T12:00:30Z")]
    first = points.iloc[0]
    assert (first.geometry.y, first.geometry.x) == (42.66, 21.17)
    assert (first["speed_mps"], first["heading_deg"], first["altitude_m"]) == (5.0, 90.0, 850.0)
    assert list(points["platform_type"]) == ["quadrotor"] * 3 + ["ground_rover"]
    assert set(points["marking"]) == {"UNCLASSIFIED"}
    q = store.quarantined(source="gcs-telemetry").sort_values("reason")
    assert list(q["reason"]) == ["malformed_record", "missing_geometry"]
    assert "invalid MAVLink CRC" in q["detail"].iloc[0] and q["raw"].iloc[0] == bytes(corrupt).hex()
    assert "from gcs (udp from 127.0.0.1:" in q["detail"].iloc[0]  # who sent it
    assert "lat = lon = 0" in q["detail"].iloc[1]
    assert listener.stats.events == 4 and listener.stats.rejected == 2


def test_a_replayed_real_flight_gives_the_fixes_the_tlog_reader_gives(store, tmp_path):
    """The first 2000 packets of the real flight, one per datagram, as a ground station forwards them."""
    from pymavlink import mavutil

    log = mavutil.mavlogfile(str(TLOG))
    packets, stamps = [], []
    while len(packets) < 2000 and (msg := log.recv_msg()) is not None:
        packets.append(bytes(msg.get_msgbuf()))
        stamps.append(round(msg._timestamp * 1e6))
    prefix = tmp_path / "prefix.tlog"
    prefix.write_bytes(b"".join(t.to_bytes(8, "big") + p for t, p in zip(stamps, packets)))
    expected = read_tlog(prefix, source="file").frame

    sent_at = pd.Timestamp.now(tz="UTC")
    with MavlinkListener(feed(), store) as listener, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        sent = 0
        for i in range(0, len(packets), 100):  # in bursts the socket buffer holds, each one received
            for p in packets[i:i + 100]:
                tx.sendto(p, listener.address)
                sent += 1
            assert wait_for(lambda: listener.stats.messages == sent)  # noqa: B023 - called right here
        # Live, one more fix than in the file: the first GPS_RAW_INT arrives before the system
        # is known to send GLOBAL_POSITION_INT (in a file that is known from the whole file).
        assert wait_for(lambda: listener.stats.stored == len(expected) + 1 == 59)
    points = store.read("track_points").sort_values("time")
    # The fixes that arrived before the first SYSTEM_TIME take their arrival time: the GPS_RAW_INT
    # (its altitude the GPS's MSL 582.42 m) and the first GLOBAL_POSITION_INT.
    arrived = points[points["time"] >= sent_at]
    assert len(arrived) == 2 and sorted(arrived["altitude_m"]) == [1.93, 582.42]
    # The rest get the vehicle's time, from the latest SYSTEM_TIME (the file uses the median).
    live = points[points["time"] < sent_at]
    assert [(g.x, g.y) for g in live.geometry] == [(g.x, g.y) for g in expected.geometry[1:]]
    drift = live["time"].to_numpy() - expected["time"].iloc[1:].to_numpy()
    assert abs(pd.Series(drift)).max() < pd.Timedelta(milliseconds=20)
