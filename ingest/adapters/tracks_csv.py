"""CSV of track points (drone logs, ADS-B/AIS exports, partner spreadsheets) -> `track_points`.

Headers are matched case-insensitively against common names (see
`DEFAULT_HEADERS`); `columns={"track_id": "Tail No", ...}` overrides any of
them. Required: a track id, a time, and latitude+longitude (or an `mgrs`
column). Everything is vectorised (pandas' pyarrow CSV engine, numpy,
shapely.points): a million rows take about a second.

Decisions worth knowing:
- Every field is read as text, so nothing is guessed before we look at it.
- Lines with the wrong number of fields are captured by an `on_bad_lines`
  callable and returned as rejections with the line's text; the pyarrow engine
  also catches short lines, which pandas' C engine would pad with NaN.
- Latitude/longitude text that is not a plain number goes through the DMS/MGRS
  parser in `coords`; what still does not parse is rejected (BAD_COORDINATE_TEXT)
  with the value in the detail. An empty latitude or longitude gives a null
  geometry, which validate quarantines as missing.
- Times: passed through as the text found, except when EVERY value in the time
  column is a plain number in the range of Unix epoch seconds (1e8..1e10, i.e.
  1973-2286) or milliseconds (1e11..1e13): then the column is converted here to
  tz-aware UTC, because only here do we know it is an epoch column. Override with
  time_unit="s" / "ms" (always convert) or "none" (never).
- Units: speed in m/s and altitude in metres unless the header says otherwise
  (speed_kmh, speed_kts, speed_mph, alt_ft...; see HEADER_UNITS) or
  speed_unit= / altitude_unit= is passed. Values are converted here.
- Numeric columns become floats; a value that is not a number is passed on as its
  text so validate can quarantine it (BAD_VALUE) showing the value.
- source_id: a `source_id` column if mapped, else f"{track_id}@{time text}".
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from ingest import reasons
from ingest.adapters import coords
from ingest.adapters.base import ReadResult, rejection, rejections
from ingest.adapters.common import MAX_INPUT_BYTES, check_size, frame_from_columns
from ingest.errors import ConfigError, UnreadableInputError
from ingest.schema import CRS, TIME_DTYPE

LAYER = "track_points"

# Canonical field -> header names recognised (lower case), in order of preference.
DEFAULT_HEADERS: dict[str, tuple[str, ...]] = {
    "track_id": ("track_id", "trackid", "id", "uid", "icao24", "mmsi", "track id"),
    "time": ("time", "timestamp", "datetime", "date_time", "time_utc", "dtg"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "lng", "long", "longitude"),
    "mgrs": ("mgrs",),
    "altitude_m": (
        "alt",
        "alt_m",
        "altitude",
        "altitude_m",
        "hae",
        "ele",
        "elevation",
        "geoaltitude",
        "alt_ft",
        "altitude_ft",
    ),
    "speed_mps": (
        "speed",
        "speed_mps",
        "velocity",
        "spd",
        "speed_kmh",
        "speed_kph",
        "speed_kn",
        "speed_kts",
        "speed_knots",
        "speed_mph",
    ),
    "heading_deg": ("heading", "heading_deg", "course", "track", "cog", "true_track", "bearing"),
    "callsign": ("callsign", "call_sign"),
    "marking": ("marking", "classification"),
    "platform_type": ("platform_type", "type", "platform"),
    "stale_at": ("stale_at", "stale"),
    "source_id": ("source_id", "fix_id", "point_id"),
}
REQUIRED = ("track_id", "time")
SPEED_UNITS: dict[str, float] = {
    "m/s": 1.0,
    "mps": 1.0,
    "km/h": 1 / 3.6,
    "kmh": 1 / 3.6,
    "kn": 1852 / 3600,
    "kt": 1852 / 3600,
    "mph": 0.44704,
}
ALTITUDE_UNITS: dict[str, float] = {"m": 1.0, "ft": 0.3048}
# Headers that state their unit; used unless speed_unit/altitude_unit is given.
HEADER_UNITS: dict[str, str] = {
    "speed_kmh": "km/h",
    "speed_kph": "km/h",
    "speed_kn": "kn",
    "speed_kts": "kn",
    "speed_knots": "kn",
    "speed_mph": "mph",
    "alt_ft": "ft",
    "altitude_ft": "ft",
}
_EPOCH_RANGES = {"s": (1e8, 1e10), "ms": (1e11, 1e13)}


def resolve_columns(
    headers: list[str], columns: Mapping[str, str] | None, path: Path
) -> dict[str, str]:
    """Map canonical field -> actual header, from `columns` then the defaults.

    Raises UnreadableInputError naming the headers found when a required field
    has no column, or when `columns` names a header that is not there.
    """
    by_lower: dict[str, str] = {}
    for h in headers:
        by_lower.setdefault(str(h).strip().lower(), h)
    found: dict[str, str] = {}
    used: set[str] = set()
    for field, header in (columns or {}).items():
        if field not in DEFAULT_HEADERS:
            raise UnreadableInputError(
                path,
                f"column mapping key {field!r} is not a field; expected one of {sorted(DEFAULT_HEADERS)}",
            )
        actual = by_lower.get(str(header).strip().lower())
        if actual is None:
            raise UnreadableInputError(
                path, f"column mapping {field}={header!r}: no such header; found headers {headers}"
            )
        found[field] = actual
        used.add(actual)
    for field, names in DEFAULT_HEADERS.items():
        if field in found:
            continue
        for name in names:
            actual = by_lower.get(name)
            if actual is not None and actual not in used:
                found[field] = actual
                used.add(actual)
                break
    missing = [f for f in REQUIRED if f not in found]
    if not (("lat" in found and "lon" in found) or "mgrs" in found):
        missing.append("lat/lon (or mgrs)")
    if missing:
        raise UnreadableInputError(
            path,
            f"expected columns for {', '.join(missing)}; found headers {headers} "
            "(pass columns={'track_id': 'My Id', ...} to map them)",
        )
    return found


def _text(s: pd.Series) -> pd.Series:
    """Stripped text; empty becomes null."""
    s = s.str.strip()
    return s.mask(s == "")


def _to_float(raw: pd.Series) -> np.ndarray:
    """Float array of stripped text; NaN where empty or not a number.

    pyarrow's cast is ~7x faster than pd.to_numeric on Arrow strings; it
    refuses the whole column if one value is not a number, and then the
    slower per-value coercion runs (only for columns that need it).
    """
    try:
        arr = pa.array(raw, type=pa.large_string(), from_pandas=True)
        return (
            pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False).astype("float64", copy=True)
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pd.to_numeric(raw, errors="coerce").astype("float64").to_numpy(copy=True)


def _numeric_or_raw(raw: pd.Series, factor: float = 1.0) -> pd.Series:
    """Floats (times `factor`); non-numeric text kept as text for validate to judge."""
    num = pd.Series(_to_float(raw) * factor)
    bad = raw.notna() & num.isna()
    if not bad.any():
        return num
    out = num.astype(object)
    out[bad] = raw[bad]
    return out


def _epoch_unit(raw: pd.Series, time_unit: str) -> tuple[str | None, np.ndarray | None]:
    """(unit, seconds-or-ms array) if the time column is to be read as epoch numbers."""
    if time_unit == "none":
        return None, None
    first = raw.dropna()
    if time_unit == "auto" and (
        first.empty or not str(first.iat[0]).lstrip("+-").replace(".", "", 1).isdigit()
    ):
        return None, None  # cheap early exit for ISO text
    num = _to_float(raw)
    if time_unit in ("s", "ms"):
        return time_unit, num
    if (np.isnan(num) & raw.notna().to_numpy()).any():
        return None, None
    mag = float(np.nanmedian(np.abs(num)))
    for unit, (lo, hi) in _EPOCH_RANGES.items():
        if lo <= mag < hi:
            return unit, num
    return None, None


def _epoch_to_utc(epoch: np.ndarray, unit: str) -> pd.Series:
    """Epoch seconds or milliseconds -> tz-aware UTC microseconds (NaN -> NaT).

    Done in numpy because pd.to_datetime on a float array costs ~0.5 s per
    million values; this is ~20 ms.
    """
    us = np.round(epoch * (1e6 if unit == "s" else 1e3))
    missing = ~np.isfinite(us)
    vals = np.where(missing, 0, us).astype("int64").view("datetime64[us]")
    vals[missing] = np.datetime64("NaT")
    return pd.Series(pd.DatetimeIndex(vals).tz_localize("UTC")).astype(TIME_DTYPE)


def read_tracks_csv(
    path: Path,
    *,
    source: str,
    columns: Mapping[str, str] | None = None,
    time_unit: Literal["auto", "s", "ms", "none"] = "auto",
    speed_unit: str | None = None,
    altitude_unit: str | None = None,
    sep: str = ",",
    encoding: str = "utf-8",
    max_bytes: int = MAX_INPUT_BYTES,
    **_: Any,
) -> ReadResult:
    """Read a CSV of track points; see the module docstring for the rules."""
    path = Path(path)
    check_size(path, max_bytes)
    if speed_unit is not None and speed_unit not in SPEED_UNITS:
        raise ConfigError("speed_unit", f"one of {sorted(SPEED_UNITS)}", speed_unit)
    if altitude_unit is not None and altitude_unit not in ALTITUDE_UNITS:
        raise ConfigError("altitude_unit", f"one of {sorted(ALTITUDE_UNITS)}", altitude_unit)
    if time_unit not in ("auto", "s", "ms", "none"):
        raise ConfigError("time_unit", "'auto', 's', 'ms' or 'none'", time_unit)

    bad_lines: list[dict[str, Any]] = []

    def on_bad_line(row: Any) -> str:
        where = f" on line {row.number}" if getattr(row, "number", None) else ""
        bad_lines.append(
            rejection(
                LAYER,
                source,
                None,
                reasons.MALFORMED_RECORD,
                f"expected {row.expected_columns} fields (as in the header), found {row.actual_columns}{where}",
                row.text,
            )
        )
        return "skip"

    try:
        df = pd.read_csv(
            path,
            engine="pyarrow",
            dtype=str,
            sep=sep,
            encoding=encoding,
            keep_default_na=False,
            na_values=[""],
            on_bad_lines=on_bad_line,
        )
    except pd.errors.EmptyDataError:
        raise UnreadableInputError(
            path, "empty file; expected a header row and track points"
        ) from None
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError, LookupError) as exc:
        raise UnreadableInputError(
            path, f"not a readable CSV: {str(exc).splitlines()[0]}"
        ) from None

    cols = resolve_columns([str(c) for c in df.columns], columns, path)

    def col(field: str) -> pd.Series | None:
        return _text(df[cols[field]]) if field in cols else None

    # Coordinates: vectorised for plain numbers; the rare rest (DMS, MGRS) row by row.
    n = len(df)
    lat_raw, lon_raw, mgrs_raw = col("lat"), col("lon"), col("mgrs")
    empty = pd.Series([None] * n, dtype=object)
    lat_raw = lat_raw if lat_raw is not None else empty
    lon_raw = lon_raw if lon_raw is not None else empty
    lat = _to_float(lat_raw)
    lon = _to_float(lon_raw)
    slow = (lat_raw.notna() & np.isnan(lat)) | (lon_raw.notna() & np.isnan(lon))
    if mgrs_raw is not None:
        slow |= mgrs_raw.notna() & lat_raw.isna() & lon_raw.isna()
    reject = np.zeros(n, dtype=bool)
    coord_rejects: list[tuple[int, str]] = []
    for i in np.flatnonzero(slow.to_numpy()):
        la, lo_ = lat_raw.iat[i], lon_raw.iat[i]
        mg = mgrs_raw.iat[i] if mgrs_raw is not None else None
        try:
            ll = coords.parse_lon_lat(
                None if pd.isna(la) else la,
                None if pd.isna(lo_) else lo_,
                None if pd.isna(mg) else mg,
            )
        except coords.CoordinateTextError as exc:
            reject[i] = True
            coord_rejects.append((int(i), str(exc)))
            continue
        if ll is not None:
            lon[i], lat[i] = ll
    # No coordinate text at all -> null geometry (validate: missing geometry);
    # one of the two missing -> a NaN coordinate, which validate also names.
    has_point = (lat_raw.notna() | lon_raw.notna()).to_numpy() | ~(np.isnan(lat) & np.isnan(lon))
    geoms = shapely.points(lon, lat)
    geoms[~has_point] = None

    track = col("track_id")
    time_raw = col("time")
    source_id = col("source_id")
    if source_id is None:
        source_id = track + "@" + time_raw.fillna("")
    unit, epoch = _epoch_unit(time_raw, time_unit)
    if unit and epoch is not None:
        time = _epoch_to_utc(epoch, unit)
        not_numbers = time_raw.notna().to_numpy() & np.isnan(epoch)
        if not_numbers.any():  # only with an explicit time_unit: keep the text for validate
            time = time.astype(object)
            time[not_numbers] = time_raw[not_numbers]
    else:
        time = time_raw

    out: dict[str, Any] = {
        "source": pd.Series(np.full(n, source, dtype=object)),
        "source_id": source_id,
        "track_id": track,
        "time": time,
    }
    for field in ("marking", "callsign", "platform_type", "stale_at"):
        if field in cols:
            out[field] = col(field)
    if "altitude_m" in cols:
        unit_a = altitude_unit or HEADER_UNITS.get(cols["altitude_m"].strip().lower(), "m")
        out["altitude_m"] = _numeric_or_raw(col("altitude_m"), ALTITUDE_UNITS[unit_a])  # type: ignore[arg-type]
    if "speed_mps" in cols:
        unit_s = speed_unit or HEADER_UNITS.get(cols["speed_mps"].strip().lower(), "m/s")
        out["speed_mps"] = _numeric_or_raw(col("speed_mps"), SPEED_UNITS[unit_s])  # type: ignore[arg-type]
    if "heading_deg" in cols:
        out["heading_deg"] = _numeric_or_raw(col("heading_deg"))  # type: ignore[arg-type]

    rejected_rows = list(bad_lines)
    if reject.any():
        header = list(df.columns)
        for i, detail in coord_rejects:
            raw = {h: (None if pd.isna(v) else v) for h, v in zip(header, df.iloc[i].tolist())}
            sid = source_id.iat[i]
            rejected_rows.append(
                rejection(
                    LAYER,
                    source,
                    None if pd.isna(sid) else sid,
                    reasons.BAD_COORDINATE_TEXT,
                    detail,
                    raw,
                )
            )
        keep = ~reject
        out = {k: v[keep].reset_index(drop=True) for k, v in out.items()}
        geoms = geoms[keep]

    frame = frame_from_columns(LAYER, out, gpd.GeoSeries(geoms, crs=CRS))
    return ReadResult(LAYER, frame, rejections(rejected_rows), records_read=n + len(bad_lines))
