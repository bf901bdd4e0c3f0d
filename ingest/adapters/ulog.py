"""PX4 ULog flight logs (`.ulg`) -> `track_points`, read with pyulog.

One sample of the position topic is one record. The topic is
`vehicle_global_position` (the estimator's fused position), or when the log
has none the GPS itself: `vehicle_gps_position`, then `sensor_gps` (instance 0).
Field names changed across PX4 versions; both spellings are read (the
ones pyulog's own ulog2kml knows):

    lat, lon (deg, or degE7 integers in old GPS topics) | latitude_deg, longitude_deg
                                   -> geometry
    alt_ellipsoid | alt | altitude_msl_m (or alt in mm)  -> altitude_m
    vel_m_s                        -> speed_mps   (GPS topics only)
    cog_rad                        -> heading_deg (GPS topics only)
    sys_uuid, else sys_name + ver_hw (info messages)     -> track_id f"ulog:{...}"
    MAV_TYPE parameter, else ver_hw -> platform_type (e.g. "quadrotor")
    source_id = f"{track_id}@{time}"

Time: ULog timestamps are microseconds since the autopilot booted. The UTC
offset comes from the GPS: the GPS topics carry `time_utc_usec` beside their
boot-time `timestamp`, and offset = median(time_utc_usec - timestamp) over
the samples that have a UTC time. A log without any (a simulator, a flight
without GPS lock) has no way to place its fixes in time, and is refused with
that reason, unless the caller gives the UTC time the log started
(`defaults={"start_time": "2024-05-01T10:00:00Z"}`, CLI `--default
start_time=...`); a default never overrides the GPS. `defaults` may also
give `track_id`, `callsign` and `platform_type` for logs whose info names no
vehicle (or to name it as the site does).

A GPS sample without a fix (`fix_type` below 2, lat = lon = 0) is
quarantined as missing_geometry; everything else goes to validate (NaN
positions from an estimator that has not converged become nan_coordinates).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyulog import ULog
from pyulog.exceptions import ULogException
from pyulog.px4 import PX4ULog

from ingest import reasons
from ingest.adapters.base import ReadResult, rejection, rejections
from ingest.adapters.common import MAX_INPUT_BYTES, check_size, frame_from_columns
from ingest.errors import UnreadableInputError
from ingest.schema import CRS

LAYER = "track_points"
POSITION_TOPICS = ("vehicle_global_position", "vehicle_gps_position", "sensor_gps")
GPS_TOPICS = ("vehicle_gps_position", "sensor_gps")
MAGIC = b"ULog\x01\x12\x35"
_DEFAULT_KEYS = {"start_time", "track_id", "callsign", "platform_type"}


def _field(data: dict[str, np.ndarray], *names: str) -> np.ndarray | None:
    return next((data[n] for n in names if n in data), None)


def _datasets(log: ULog) -> dict[str, dict[str, np.ndarray]]:
    """Topic name -> its samples (instance 0: the primary GPS when there are two)."""
    return {d.name: d.data for d in log.data_list if d.multi_id == 0 and d.name in POSITION_TOPICS}


def _utc_offset_us(topics: dict[str, dict[str, np.ndarray]], log: ULog, path: Path,
                   defaults: Mapping[str, Any]) -> float:
    for name in GPS_TOPICS:
        data = topics.get(name)
        utc = _field(data, "time_utc_usec") if data else None
        if utc is not None and (utc > 0).any():
            ok = utc > 0
            return float(np.median(utc[ok].astype("float64") - data["timestamp"][ok].astype("float64")))
    start = defaults.get("start_time")
    if start is None:
        have = ", ".join(n for n in POSITION_TOPICS if n in topics) or "no position topic"
        raise UnreadableInputError(
            path, f"no UTC time in the log: expected a GPS topic ({' or '.join(GPS_TOPICS)}) with "
                  f"time_utc_usec, found {have}; give the UTC time the log started with "
                  "defaults={'start_time': '2024-05-01T10:00:00Z'} (CLI: --default start_time=...)")
    try:
        t = pd.Timestamp(start)
    except (ValueError, TypeError):
        raise UnreadableInputError(path, f"default start_time: expected an ISO 8601 time, found "
                                         f"{start!r}") from None
    if t.tzinfo is None:
        raise UnreadableInputError(path, f"default start_time: expected a time with Z or an offset "
                                         f"(a naive time would be a guess), found {start!r}")
    return t.value / 1000 - log.start_timestamp


def _vehicle(log: ULog, defaults: Mapping[str, Any], path: Path) -> tuple[str, str | None]:
    info = log.msg_info_dict
    name = defaults.get("track_id")
    if name is None:
        uuid = str(info.get("sys_uuid") or "").strip()
        parts = [str(info.get(k) or "").strip() for k in ("sys_name", "ver_hw")]
        if not uuid and not any(parts):
            raise UnreadableInputError(path, "the log names no vehicle (no sys_uuid, sys_name or ver_hw "
                                             "info message); give one with defaults={'track_id': ...}")
        name = f"ulog:{uuid}" if uuid else "ulog:" + "-".join(p for p in parts if p)
    platform = defaults.get("platform_type")
    if platform is None:
        mav_type = PX4ULog(log).get_mav_type()
        platform = mav_type.lower() if mav_type != "unknown type" else info.get("ver_hw")
    return str(name), platform


def read_ulog(path: Path, *, source: str, max_bytes: int = MAX_INPUT_BYTES,
              defaults: Mapping[str, Any] | None = None, **_: Any) -> ReadResult:
    """Read the position fixes of a PX4 ULog file.

    Raises UnreadableInputError for a missing, oversized or non-ULog file, a log
    with no position topic, or one with no UTC time and no `start_time` default.
    """
    path = Path(path)
    defaults = dict(defaults or {})
    unknown = sorted(set(defaults) - _DEFAULT_KEYS)
    if unknown:
        raise UnreadableInputError(path, f"defaults {unknown}: expected only {sorted(_DEFAULT_KEYS)}")
    check_size(path, max_bytes)
    try:
        log = ULog(str(path), message_name_filter_list=list(POSITION_TOPICS))
    except ULogException as exc:
        raise UnreadableInputError(path, f"not a readable ULog file: {exc}") from None
    except (OSError, ValueError, IndexError, KeyError) as exc:  # pyulog on a truncated definition
        raise UnreadableInputError(path, f"not a readable ULog file: {type(exc).__name__}: {exc}") from None
    topics = _datasets(log)
    topic = next((t for t in POSITION_TOPICS if t in topics), None)
    if topic is None:
        raise UnreadableInputError(path, f"expected a position topic ({', '.join(POSITION_TOPICS)}), "
                                         f"found none in {len(log.data_list)} logged topic(s)")
    offset = _utc_offset_us(topics, log, path, defaults)
    tid, platform = _vehicle(log, defaults, path)
    data = topics[topic]
    stamp = data["timestamp"].astype("float64")
    times = pd.Series(pd.to_datetime(np.round(stamp + offset).astype("int64"), unit="us", utc=True))
    source_ids = tid + "@" + times.map(pd.Timestamp.isoformat)
    lat, lon = _field(data, "lat", "latitude_deg"), _field(data, "lon", "longitude_deg")
    alt = _field(data, "alt_ellipsoid", "alt", "altitude_msl_m")
    scale = 1.0
    if topic != "vehicle_global_position" and np.issubdtype(lat.dtype, np.integer):
        lat, lon, scale = lat / 1e7, lon / 1e7, 1e-3  # old GPS topics: degE7 and millimetres
    lat, lon = lat.astype("float64"), lon.astype("float64")
    fix = _field(data, "fix_type")
    nofix = (fix < 2) if fix is not None else np.zeros(len(lat), bool)
    vel, cog = _field(data, "vel_m_s"), _field(data, "cog_rad")
    keep = ~nofix
    columns: dict[str, Any] = {
        "source": [source] * int(keep.sum()),
        "source_id": source_ids[keep],
        "track_id": [tid] * int(keep.sum()),
        "time": times[keep],
        "altitude_m": alt[keep].astype("float64") * scale if alt is not None else None,
        "speed_mps": vel[keep].astype("float64") if vel is not None else None,
        "heading_deg": np.degrees(cog[keep].astype("float64")) % 360 if cog is not None else None,
        "callsign": [defaults.get("callsign")] * int(keep.sum()),
        "platform_type": [platform] * int(keep.sum()),
    }
    columns = {k: v for k, v in columns.items() if v is not None}
    frame = frame_from_columns(LAYER, columns, gpd.GeoSeries(shapely.points(lon[keep], lat[keep]),
                                                             crs=CRS))
    rejected = [
        rejection(LAYER, source, source_ids.iat[i], reasons.MISSING_GEOMETRY,
                  f"{topic} sample {i} (timestamp {int(stamp[i])} us) has fix_type {int(fix[i])}: "
                  "the GPS had no fix", {k: v[i].item() for k, v in data.items()})
        for i in np.flatnonzero(nofix)
    ]
    return ReadResult(LAYER, frame, rejections(rejected), records_read=len(stamp))
