"""PX4 ULog flight logs through adapter -> validate -> store.

No registry package ships a real .ulg, so the samples are pyulog-written
re-encodings of the first 60 fixes of the real ArduPilot flight in
tests/data/mavlink (tests/data/README.md, tests/data/ulog/make_ulog_samples.py):
so the expected times and positions are those of that flight, and a ULog fix
must land at the same instant as the same fix read from the tlog.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ingest.adapters import detect, read
from ingest.errors import UnreadableInputError
from ingest.pipeline import ingest

DATA = Path(__file__).resolve().parents[2] / "data"
ULOG = DATA / "ulog"
UUID = "000600000000373833333430510d002c0035"


def test_global_position_with_utc_from_the_gps_and_the_vehicle_as_the_track(store):
    path = ULOG / "px4_global_position.ulg"
    assert detect(path) == "ulog"
    summary = ingest(store, read(path, source="sd-card"), source="sd-card")
    assert (summary.read, summary.stored, summary.quarantined) == (60, 60, 0)
    points = store.read("track_points").sort_values("time").reset_index(drop=True)
    assert set(points["track_id"]) == {f"ulog:{UUID}"}  # the log's sys_uuid
    assert set(points["platform_type"]) == {"quadrotor"}  # parameter MAV_TYPE = 2
    first, last = points.iloc[0], points.iloc[-1]
    # boot timestamp 103632000 us + the median of sensor_gps time_utc_usec - timestamp
    assert first["time"] == pd.Timestamp("2015-07-18T05:05:28.427Z")
    assert (first.geometry.y, first.geometry.x) == (-35.2080891, 149.0435193)
    assert first["altitude_m"] == pytest.approx(24.43, abs=1e-5)  # alt_ellipsoid before alt
    assert last["time"] == pd.Timestamp("2015-07-18T05:05:55.228Z")
    assert points["speed_mps"].isna().all()  # the fused position carries no velocity


def test_the_same_fix_from_the_ulog_and_the_tlog_lands_at_the_same_instant(store):
    ulog = read(ULOG / "px4_global_position.ulg", source="a").frame
    tlog = read(DATA / "mavlink" / "ardupilot_flight_2015.tlog", source="b").frame
    shared = ulog.merge(tlog, on="time", suffixes=("_ulog", "_tlog"))
    assert len(shared) == 60
    assert (shared["geometry_ulog"].x == shared["geometry_tlog"].x).all()


def test_an_old_gps_only_log_quarantines_the_samples_without_a_fix(store):
    summary = ingest(store, read(ULOG / "px4_gps_only.ulg", source="sd"), source="sd")
    assert (summary.read, summary.stored, summary.quarantined) == (60, 55, 5)
    assert dict(summary.reasons) == {"missing_geometry": 5}
    q = store.quarantined(source="sd")
    assert q["detail"].str.contains("vehicle_gps_position sample [0-4] .* has fix_type 1").all()
    points = store.read("track_points").sort_values("time")
    # No sys_uuid in this log: sys_name + ver_hw name the vehicle.
    assert set(points["track_id"]) == {"ulog:PX4-AUAV_X21"}
    assert set(points["platform_type"]) == {"fixed wing"}
    first = points.iloc[0]
    assert first["time"] == pd.Timestamp("2015-07-18T05:05:32.825Z")
    assert first["altitude_m"] == pytest.approx(581.54)  # int32 millimetres
    # the 6th GPS_RAW_INT of the flight: lat -352080916, lon 1490435214 (degE7)
    assert (round(first.geometry.y, 7), round(first.geometry.x, 7)) == (-35.2080916, 149.0435214)
    assert first["speed_mps"] == pytest.approx(0.09)


def test_a_log_with_no_utc_is_refused_unless_its_start_time_is_given(store):
    path = ULOG / "px4_sitl_no_gps.ulg"
    with pytest.raises(UnreadableInputError, match="no UTC time in the log.*start_time"):
        read(path, source="sitl")
    result = read(path, source="sitl", defaults={"start_time": "2024-05-01T10:00:00Z"})
    summary = ingest(store, result, source="sitl")
    assert summary.stored == 60
    times = store.read("track_points")["time"].sort_values()
    assert times.iloc[0] == pd.Timestamp("2024-05-01T10:00:00Z")  # the log's first sample
    assert times.iloc[-1] == pd.Timestamp("2024-05-01T10:00:26.801Z")  # 26.801 s later
    assert set(store.read("track_points")["track_id"]) == {"ulog:PX4-PX4_SITL"}
    with pytest.raises(UnreadableInputError, match="naive time would be a guess"):
        read(path, source="sitl", defaults={"start_time": "2024-05-01T10:00:00"})


def test_defaults_name_the_vehicle_and_unknown_defaults_are_refused():
    result = read(ULOG / "px4_gps_only.ulg", source="sd", defaults={"track_id": "UAV-7", "callsign": "RAVEN"})
    assert set(result.frame["track_id"]) == {"UAV-7"} and set(result.frame["callsign"]) == {"RAVEN"}
    with pytest.raises(UnreadableInputError, match=r"defaults \['altitude'\]"):
        read(ULOG / "px4_gps_only.ulg", source="sd", defaults={"altitude": "100"})


def test_a_file_that_is_not_a_ulog_is_refused(tmp_path):
    fake = tmp_path / "flight.ulg"
    fake.write_bytes((DATA / "gpx" / "route.gpx").read_bytes())
    with pytest.raises(UnreadableInputError, match="not a readable ULog file"):
        read(fake, source="x")
