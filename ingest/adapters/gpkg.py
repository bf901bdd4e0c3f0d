"""GeoPackage (OGC GPKG, read with pyogrio/GDAL) -> `deployments`, `infrastructure` or any layer.

Partners' GIS staff export GeoPackages with their own table and column
names. Which table: the `table=` option; else a table named like the target
layer ("deployments"); else the only table in the file; several tables and
no choice is an error that lists them. Columns are matched exactly as for
CSV (`layer_csv.resolve_columns`: canonical names, per-layer aliases,
`columns=` overrides), so a GeoPackage and a spreadsheet from the same
partner map the same way.

    feature geometry      -> geometry (reprojected from the table's CRS to EPSG:4326)
    the table's FID       -> source_id when no id column is mapped, as
                             f"{file stem}:{table}#{fid}" for reference layers,
                             f"{nation}/{unit_name}" for deployments (see layer_csv)
    a WKT text column     -> `area` for deployments (GPKG allows one geometry
                             column per table); taken to be in the table's CRS
    date-time columns     -> read as ISO text with their offset (GDAL's
                             datetime_as_string), so naive times reach validate
                             as naive and are refused there, not guessed

Geometries are read as WKB and decoded one by one: a feature whose WKB GEOS
refuses (e.g. a ring of two points) is rejected with the reason, instead of
the whole table failing (pyogrio's read_dataframe raises) or the geometry
silently becoming null. A table with no CRS makes every feature a rejection
(MISSING_CRS): better no data than data in the wrong place.

The path is checked by `gdalpath.guard` first (plain local file, SQLite
magic), so no GDAL virtual path or disguised VRT reaches GDAL.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pyproj
import shapely

from ingest import reasons
from ingest.adapters import gdalpath
from ingest.adapters.base import ReadResult, rejection, rejections
from ingest.adapters.common import (
    MAX_INPUT_BYTES,
    check_size,
    frame_from_rows,
    reproject,
    text_or_none,
    wgs84_transformer,
)
from ingest.adapters.layer_csv import RowError, build_row, location, resolve_columns
from ingest.errors import UnreadableInputError
from ingest.schema import spec


def _plain(v: Any) -> Any:
    """numpy scalars -> Python values; NaN -> None; text stripped (empty -> None)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, str):
        return text_or_none(v)
    return v


def pick_table(path: Path, layer: str, table: str | None) -> str:
    """The table to read; UnreadableInputError listing the tables when it is ambiguous."""
    try:
        tables = [str(t[0]) for t in pyogrio.list_layers(path)]
    except Exception as exc:  # noqa: BLE001 - pyogrio raises DataSourceError and others
        raise UnreadableInputError(path, f"not a readable GeoPackage ({exc})") from None
    if table is not None:
        if table not in tables:
            raise UnreadableInputError(path, f"no table {table!r}; the GeoPackage has {tables}")
        return table
    if layer in tables:
        return layer
    if len(tables) == 1:
        return tables[0]
    raise UnreadableInputError(
        path, f"GeoPackage has {len(tables)} tables {tables}; say which with table="
    )


def _transformer(crs: str | None) -> pyproj.Transformer | None | str:
    if not crs:
        return "the table has no coordinate reference system; cannot place its features"
    try:
        return wgs84_transformer(crs)
    except pyproj.exceptions.CRSError:
        return f"the table's CRS {crs!r} is not one PROJ knows"


def read_gpkg(
    path: Path,
    *,
    source: str,
    layer: str,
    table: str | None = None,
    columns: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    max_bytes: int = MAX_INPUT_BYTES,
    **_: Any,
) -> ReadResult:
    """Read one table of a GeoPackage into `layer`; see the module docstring for the rules.

    `columns` maps canonical fields to column names; `defaults` gives values
    for fields a feature leaves empty (e.g. {"kind": "hospital"}).
    """
    spec(layer)
    path = gdalpath.guard(path, "gpkg")
    check_size(path, max_bytes)
    name = pick_table(path, layer, table)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            meta, fids, wkb, fields = pyogrio.raw.read(
                path, layer=name, datetime_as_string=True, return_fids=True
            )
    except Exception as exc:  # noqa: BLE001 - pyogrio's DataSourceError, FieldError...
        raise UnreadableInputError(path, f"cannot read table {name!r}: {exc}") from None
    headers = [str(f) for f in meta["fields"]]
    cols = resolve_columns(headers, layer, columns, path)
    by_header = dict(zip(headers, fields))
    has_geometry = wkb is not None
    if not has_geometry and not any(f in cols for f in ("lat", "lon", "mgrs", "wkt")):
        raise UnreadableInputError(
            path, f"table {name!r} has no geometry column and no lat/lon, mgrs or wkt column"
        )
    # An attribute-only table places records by lat/lon (degrees) or WKT taken
    # as EPSG:4326, so its own (absent) CRS does not matter.
    t = _transformer(meta.get("crs")) if has_geometry else None
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    rejected: list[dict[str, Any]] = []
    n = len(fids)
    decoded = shapely.from_wkb(wkb, on_invalid="ignore") if has_geometry else None
    for i in range(n):

        def get(field: str, i: int = i) -> Any:
            h = cols.get(field)
            return _plain(by_header[h][i]) if h is not None else None

        def get_text(field: str) -> str | None:
            v = get(field)
            return text_or_none(str(v)) if v is not None else None

        raw = {h: _plain(by_header[h][i]) for h in headers}
        raw["fid"] = int(fids[i])
        sid = get_text("source_id")
        if isinstance(t, str):
            code = reasons.MISSING_CRS if "no coordinate" in t else reasons.UNKNOWN_CRS
            rejected.append(rejection(layer, source, sid, code, t, raw))
            continue
        try:
            if has_geometry:
                geom = decoded[i]
                if geom is None and wkb[i] is not None:
                    raise RowError(
                        reasons.MALFORMED_RECORD,
                        "geometry could not be decoded (GEOS refused the feature's WKB, e.g. a "
                        "ring with fewer than 4 points)",
                    )
                geom = reproject(geom, t)
            else:
                geom = location(get_text)
            row = build_row(
                layer,
                get,
                source=source,
                fallback_id=f"{path.stem}:{name}#{int(fids[i])}",
                defaults=defaults,
            )
        except RowError as exc:
            rejected.append(rejection(layer, source, sid, exc.reason, exc.detail, raw))
            continue
        for col in spec(layer).extra_geometry_columns:
            row[col] = reproject(row.get(col), t)
        rows.append(row)
        geoms.append(geom)
    frame = frame_from_rows(layer, rows, geoms)
    return ReadResult(layer, frame, rejections(rejected), records_read=n)
