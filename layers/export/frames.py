"""Column and geometry conversions the writers share, so every format says the same thing.

Pure functions over (chunks of) GeoDataFrames. Nothing here copies a whole layer: writers call
them chunk by chunk (`chunks`), so a large export holds one layer plus one converted chunk.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ingest.precision import on_grid
from layers.export.constants import (
    CHUNK_ROWS,
    COORD_DIGITS,
    DEFAULT_ID_COLUMNS,
    ID_COLUMNS,
    ZIP64_THRESHOLD,
    ZIP_BYTES_PER_COORD,
    ZIP_BYTES_PER_ROW,
)


def id_columns(layer: str, frame: pd.DataFrame) -> list[str]:
    return [c for c in ID_COLUMNS.get(layer, DEFAULT_ID_COLUMNS) if c in frame]


def chunks(frame: gpd.GeoDataFrame, size: int | None = None) -> Iterator[gpd.GeoDataFrame]:
    """Consecutive row slices (views, not copies) of at most `size` (default CHUNK_ROWS) rows."""
    size = size or CHUNK_ROWS
    for start in range(0, len(frame), size):
        yield frame.iloc[start:start + size]


def round_geometries(values: Any, digits: int = COORD_DIGITS) -> np.ndarray:
    """Coordinates on the store's grid (`ingest.precision.on_grid`): stored geometries already are,
    so this costs a comparison; anything else is snapped, valid shapes kept valid."""
    return on_grid(values, digits)


def is_time(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(series.dtype)


def is_geometry(series: pd.Series) -> bool:
    return isinstance(series.dtype, gpd.array.GeometryDtype)


def extra_geometry_columns(frame: gpd.GeoDataFrame) -> list[str]:
    active = frame.geometry.name
    return [c for c in frame.columns if c != active and is_geometry(frame[c])]


def utc(series: pd.Series) -> pd.Series:
    """Tz-aware UTC (a naive time is taken as UTC, as the schema stores nothing else)."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC")
    return pd.to_datetime(series).dt.tz_localize("UTC")


def iso_strings(series: pd.Series) -> pd.Series:
    """'2026-11-21T12:00:00Z', microseconds kept when present; missing stays missing (object dtype).

    numpy's datetime_as_string and Arrow's regex kernels: a million times in well under a second
    (pandas' strftime formats in Python, ten times slower)."""
    s = utc(series)
    naive = s.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    text = pd.Series(np.datetime_as_string(naive, unit="us"), index=series.index, dtype="string[pyarrow]")
    text = text.str.replace(r"(\.\d*?)0+$", r"\1", regex=True).str.replace(r"\.$", "", regex=True) + "Z"
    return text.astype(object).where(s.notna(), None)


def wkt_strings(values: Any, digits: int = COORD_DIGITS) -> list[str | None]:
    """WKT of each geometry, rounded; None for a missing one."""
    arr = np.asarray(values, dtype=object)
    missing = pd.isna(arr)
    out = shapely.to_wkt(round_geometries(np.where(missing, None, arr), digits), rounding_precision=-1,
                         trim=True)
    return [None if m else w for m, w in zip(missing, out)]


def python_values(series: pd.Series) -> list[Any]:
    """Column as JSON-ready Python values: None for every kind of missing, ints as int, times as
    ISO strings, geometries as WKT, containers as JSON text. Typed columns take a vectorised path;
    only object columns are looked at value by value."""
    dtype = series.dtype
    if is_time(series):
        return iso_strings(series).tolist()
    if is_geometry(series):
        return wkt_strings(series.values)
    if pd.api.types.is_float_dtype(dtype) and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        values = series.to_numpy(dtype="float64")
        out = values.astype(object)
        out[~np.isfinite(values)] = None
        return out.tolist()
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and (
            pd.api.types.is_string_dtype(dtype) or pd.api.types.is_integer_dtype(dtype)
            or pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_float_dtype(dtype)):
        out = series.to_numpy(dtype=object, na_value=None)
        if pd.api.types.is_float_dtype(dtype):
            out = np.array([None if v is None or not math.isfinite(v) else float(v) for v in out], dtype=object)
        return out.tolist()
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return series.to_numpy().tolist()
    return [_python_value(v) for v in series.tolist()]


def _python_value(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(v, (str, bool, int)):
        return v
    if isinstance(v, np.generic):
        item = v.item()
        return None if isinstance(item, float) and not math.isfinite(item) else item
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, ensure_ascii=False, default=str)
    if isinstance(v, shapely.Geometry):
        return wkt_strings([v])[0]
    if isinstance(v, pd.Timestamp):
        return iso_strings(pd.Series([v])).iloc[0]
    return str(v)


def text_values(series: pd.Series) -> pd.Series:
    """A column of Python objects (str, number, None) as `python_values`, keeping the index."""
    return pd.Series(python_values(series), index=series.index, dtype=object)


def for_gdal(frame: gpd.GeoDataFrame, *, times: str = "keep") -> gpd.GeoDataFrame:
    """A chunk ready for a GDAL driver: one geometry column (others as WKT text), containers as
    JSON text, times kept as datetimes or made ISO text (`times="iso"`). Geometries are not
    rounded: GeoPackage and Shapefile store binary doubles, so full precision costs nothing.
    """
    geometry = frame.geometry.name
    data: dict[str, Any] = {}
    for col in frame.columns:
        if col == geometry:
            continue
        s = frame[col]
        if is_geometry(s):
            data[col] = pd.Series(wkt_strings(s.values), index=frame.index, dtype="string")
        elif is_time(s):
            data[col] = utc(s) if times == "keep" else pd.Series(iso_strings(s), index=frame.index,
                                                                 dtype="string")
        elif s.dtype == object:
            data[col] = pd.Series(python_values(s), index=frame.index, dtype=object).astype("string")
        else:
            data[col] = s
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(frame.geometry.values, index=frame.index,
                                                          crs="EPSG:4326"), crs="EPSG:4326")


def text_columns(frame: pd.DataFrame) -> list[str]:
    """Columns holding text (the ones a spreadsheet could read as a formula)."""
    return [c for c in frame.columns if pd.api.types.is_string_dtype(frame[c].dtype)
            or frame[c].dtype == object]


def needs_zip64(*frames: gpd.GeoDataFrame) -> bool:
    """Whether a zip entry written from these frames could pass 2 GiB (the plain zip limit).

    Zip64 entries cannot be read by libkml (Google Earth, GDAL's LIBKML) and some older unzip
    tools, so they are used only when an entry might need them: a generous estimate from rows
    and coordinates, since a streamed entry's size is not known before it is written."""
    estimate = 0
    for frame in frames:
        coords = int(shapely.get_num_coordinates(np.asarray(frame.geometry.values, dtype=object)).sum())
        estimate += len(frame) * ZIP_BYTES_PER_ROW + coords * ZIP_BYTES_PER_COORD
    return estimate > ZIP64_THRESHOLD
