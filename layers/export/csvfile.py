"""CSV for spreadsheets: one layer is a plain CSV; several (or a zip asked for) a zip of one CSV
per layer plus PROVENANCE.txt.

CSV has no place for metadata, and a comment line above the header breaks Excel, GDAL and pandas
alike (each reads it as the header). So the provenance goes beside the tables: PROVENANCE.txt in
the zip, or `<name>.provenance.txt` next to a plain CSV (written by `api.export_view`). The
default file name carries the marking like every other export, and each row its own marking.

Geometry, by option (`csv_geometry`):
- "wkt": one `wkt` column (rounded to COORD_DIGITS), any geometry type;
- "lonlat": `lon`, `lat` columns (in that order) for point layers; a layer that holds other
  geometry types gets `lon`/`lat` of a point on the feature (shapely.point_on_surface) *and* the
  full `wkt`, so nothing is lost.

Spreadsheet safety (OWASP CSV injection): a *text* cell that starts with = + - @ tab or carriage
return gets a leading apostrophe, so Excel, LibreOffice and Google Sheets show it as text instead
of running it as a formula. Numeric, time and geometry columns are written as they are, so a
negative number stays a number. Times are ISO 8601 UTC text ('2026-11-21T12:00:00Z'), UTF-8 with a
byte order mark (Excel needs it to read UTF-8).
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.export.constants import (
    COORD_DIGITS,
    CSV_ENCODING,
    CSV_GEOMETRY_MODES,
    FORMULA_GUARD,
    FORMULA_TRIGGERS,
    PROVENANCE_FILE,
)
from layers.export.frames import (
    chunks,
    extra_geometry_columns,
    is_geometry,
    is_time,
    iso_strings,
    needs_zip64,
    python_values,
    wkt_strings,
)
from layers.export.job import ExportJob


def write_csv(job: ExportJob, path: Path) -> None:
    mode = job.csv_geometry
    if mode not in CSV_GEOMETRY_MODES:
        raise ValueError(f"csv geometry must be one of {CSV_GEOMETRY_MODES}, got {mode!r}")
    layers = job.non_empty()
    if len(layers) == 1 and not job.archive:
        with open(path, "w", encoding=CSV_ENCODING, newline="") as out:
            write_layer_csv(out, next(iter(layers.values())), mode)
        return
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for name, frame in layers.items():
            with (zf.open(f"{name}.csv", "w", force_zip64=needs_zip64(frame)) as raw,
                  io.TextIOWrapper(raw, encoding=CSV_ENCODING, newline="") as out):
                write_layer_csv(out, frame, mode)
        zf.writestr(PROVENANCE_FILE, job.provenance.text())


def write_layer_csv(out: io.TextIOBase, frame: gpd.GeoDataFrame, mode: str = "wkt") -> None:
    points_only = bool(len(frame)) and set(frame.geom_type.dropna().unique()) <= {"Point"}
    header_written = False
    for chunk in chunks(frame):
        table = csv_frame(chunk, mode, points_only=points_only)
        table.to_csv(out, index=False, header=not header_written, lineterminator="\r\n",
                     quoting=csv.QUOTE_MINIMAL, na_rep="")
        header_written = True


def csv_frame(chunk: gpd.GeoDataFrame, mode: str, *, points_only: bool) -> pd.DataFrame:
    """The chunk as CSV cells: text neutralised, times ISO, geometry as `mode` says."""
    geometry = chunk.geometry.name
    extra = set(extra_geometry_columns(chunk))
    data: dict[str, pd.Series] = {}
    for col in chunk.columns:
        if col == geometry:
            continue
        s = chunk[col]
        if col in extra or is_geometry(s):
            data[col] = pd.Series(wkt_strings(s.values), index=chunk.index, dtype=object)
        elif is_time(s):
            data[col] = iso_strings(s)
        elif pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
            data[col] = s
        else:
            data[col] = neutralise(s)
    geoms = np.asarray(chunk.geometry.values, dtype=object)
    if mode == "lonlat":
        missing = pd.isna(geoms)
        pts = shapely.point_on_surface(np.where(missing, None, geoms)) if not points_only else geoms
        data["lon"] = pd.Series(np.round(shapely.get_x(pts), COORD_DIGITS), index=chunk.index)
        data["lat"] = pd.Series(np.round(shapely.get_y(pts), COORD_DIGITS), index=chunk.index)
        if not points_only:
            data["wkt"] = pd.Series(wkt_strings(geoms), index=chunk.index, dtype=object)
    else:
        data["wkt"] = pd.Series(wkt_strings(geoms), index=chunk.index, dtype=object)
    return pd.DataFrame(data, index=chunk.index)


def neutralise(series: pd.Series) -> pd.Series:
    """Text cells that a spreadsheet would run as a formula, made plain text with a leading "'"."""
    if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object:
        text = series
    else:  # object columns (Python values of any kind): as text first
        text = pd.Series(python_values(series), index=series.index, dtype=object).astype("string")
    risky = text.str.startswith(FORMULA_TRIGGERS).fillna(False).astype(bool)
    if risky.any():
        text = text.where(~risky, FORMULA_GUARD + text)
    return text
