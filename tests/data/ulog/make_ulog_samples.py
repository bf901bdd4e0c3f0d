"""Write the `.ulg` samples of this folder with pyulog's own ULog writer.

Not run by the tests: it documents how the files were made (see tests/data/README.md).
No package on PyPI, npm or Debian ships a real PX4 flight log, so these are
re-encodings: the fixes are the first 60 GLOBAL_POSITION_INT / GPS_RAW_INT of the
real ArduPilot flight in ../mavlink/ardupilot_flight_2015.tlog (before its first
reboot), their UTC time from that log's SYSTEM_TIME messages, written as the PX4
topics and info messages a PX4 log carries, by `pyulog.ULog.write_ulog`.

    PYTHONPATH=. python tests/data/ulog/make_ulog_samples.py
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from types import SimpleNamespace

import numpy as np

os.environ.setdefault("MAVLINK20", "1")
from pymavlink import mavutil
from pyulog import ULog

HERE = Path(__file__).resolve().parent
TLOG = HERE.parent / "mavlink" / "ardupilot_flight_2015.tlog"
N = 60


def flight() -> tuple[list, list, float]:
    """The first N fused and N raw fixes of the first boot, and the boot -> UTC offset (us)."""
    log = mavutil.mavlogfile(str(TLOG))
    fused, raw, offsets, last = [], [], [], 0
    while (m := log.recv_msg()) is not None:
        kind = m.get_type()
        boot = getattr(m, "time_boot_ms", None)
        if boot is not None and boot < last - 10_000:
            break  # the autopilot rebooted
        last = max(last, boot or 0)
        if kind == "SYSTEM_TIME" and m.time_unix_usec:
            offsets.append(m.time_unix_usec - m.time_boot_ms * 1000)
        elif kind == "GLOBAL_POSITION_INT" and len(fused) < N:
            fused.append(m)
        elif kind == "GPS_RAW_INT" and len(raw) < N:
            raw.append(m)
    return fused, raw, statistics.median(offsets)


def dataset(name: str, msg_id: int, fields: list[tuple[str, str]], rows: dict[str, list]):
    """What `write_ulog` reads of a logged topic: its format and its samples."""
    dtypes = {"uint64_t": np.uint64, "int32_t": np.int32, "uint8_t": np.uint8, "float": np.float32,
              "double": np.float64}
    return (SimpleNamespace(name=name, fields=[(t, 0, f) for f, t in fields]),
            SimpleNamespace(name=name, msg_id=msg_id, multi_id=0,
                            field_data=[ULog._FieldData(f, t) for f, t in fields],
                            data={f: np.asarray(rows[f], dtype=dtypes[t]) for f, t in fields}))


def write(path: Path, info: dict[str, str | int], params: dict[str, int], topics: list) -> None:
    ulog = ULog(None)
    ulog._file_version = 1
    ulog._start_timestamp = int(min(t[1].data["timestamp"][0] for t in topics))
    ulog._msg_info_dict = dict(info)
    ulog._msg_info_dict_types = {k: "uint32_t" if isinstance(v, int) else f"char[{len(v)}]"
                                 for k, v in info.items()}
    ulog._initial_parameters = dict(params)
    ulog._message_formats = {fmt.name: fmt for fmt, _ in topics}
    ulog._data_list = [data for _, data in topics]
    ulog.write_ulog(str(path))
    ULog(str(path))  # it reads back


def main() -> None:
    fused, raw, offset = flight()
    gpos_fields = [("timestamp", "uint64_t"), ("timestamp_sample", "uint64_t"), ("lat", "double"),
                   ("lon", "double"), ("alt", "float"), ("alt_ellipsoid", "float"),
                   ("eph", "float"), ("epv", "float")]
    gpos = {"timestamp": [m.time_boot_ms * 1000 for m in fused],
            "timestamp_sample": [m.time_boot_ms * 1000 - 2000 for m in fused],
            "lat": [m.lat / 1e7 for m in fused], "lon": [m.lon / 1e7 for m in fused],
            "alt": [m.alt / 1000 for m in fused], "alt_ellipsoid": [m.alt / 1000 + 22.5 for m in fused],
            "eph": [1.2] * len(fused), "epv": [2.0] * len(fused)}
    boot_us = [m.time_usec for m in raw]
    sensor_fields = [("timestamp", "uint64_t"), ("time_utc_usec", "uint64_t"),
                     ("latitude_deg", "double"), ("longitude_deg", "double"),
                     ("altitude_msl_m", "double"), ("vel_m_s", "float"), ("cog_rad", "float"),
                     ("fix_type", "uint8_t")]
    sensor = {"timestamp": boot_us, "time_utc_usec": [int(t + offset) for t in boot_us],
              "latitude_deg": [m.lat / 1e7 for m in raw], "longitude_deg": [m.lon / 1e7 for m in raw],
              "altitude_msl_m": [m.alt / 1000 for m in raw], "vel_m_s": [m.vel / 100 for m in raw],
              "cog_rad": [np.radians(m.cog / 100) for m in raw], "fix_type": [m.fix_type for m in raw]}
    px4 = {"sys_name": "PX4", "ver_hw": "PX4_FMU_V5", "ver_sw_release": 0x010E00FF,  # v1.14.0
           "sys_uuid": "000600000000373833333430510d002c0035"}
    write(HERE / "px4_global_position.ulg", px4, {"MAV_TYPE": 2},
          [dataset("vehicle_global_position", 0, gpos_fields, gpos),
           dataset("sensor_gps", 1, sensor_fields, sensor)])

    # An older PX4 (v1.8) logging only vehicle_gps_position, in its integer units; its
    # first 5 samples are from before the GPS had a fix (fix_type 1, no time, lat = lon = 0).
    old_fields = [("timestamp", "uint64_t"), ("time_utc_usec", "uint64_t"), ("lat", "int32_t"),
                  ("lon", "int32_t"), ("alt", "int32_t"), ("vel_m_s", "float"), ("cog_rad", "float"),
                  ("fix_type", "uint8_t")]
    nofix = [i < 5 for i in range(len(raw))]
    old = {"timestamp": boot_us,
           "time_utc_usec": [0 if n else int(t + offset) for n, t in zip(nofix, boot_us)],
           "lat": [0 if n else m.lat for n, m in zip(nofix, raw)],
           "lon": [0 if n else m.lon for n, m in zip(nofix, raw)],
           "alt": [m.alt for m in raw], "vel_m_s": sensor["vel_m_s"], "cog_rad": sensor["cog_rad"],
           "fix_type": [1 if n else m.fix_type for n, m in zip(nofix, raw)]}
    write(HERE / "px4_gps_only.ulg", {"sys_name": "PX4", "ver_hw": "AUAV_X21", "ver_sw_release": 0x010802FF},
          {"MAV_TYPE": 1}, [dataset("vehicle_gps_position", 0, old_fields, old)])

    # A simulator log: a global position but no GPS topic, so no UTC time anywhere.
    write(HERE / "px4_sitl_no_gps.ulg", {"sys_name": "PX4", "ver_hw": "PX4_SITL"}, {"MAV_TYPE": 2},
          [dataset("vehicle_global_position", 0, gpos_fields, gpos)])


if __name__ == "__main__":
    main()
