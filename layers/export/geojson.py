"""GeoJSON (RFC 7946): one FeatureCollection per layer; several layers (or a zip asked for) go into one zip.

Written by hand rather than through GDAL so the output is exactly RFC 7946 and carries our
provenance: each Feature's `id` is its record's source id; WGS 84 lon/lat with no `crs` member,
coordinates rounded to COORD_DIGITS with valid shapes kept valid, times as ISO 8601 UTC strings
with their microseconds, NaN as null (GDAL writes ms and GDAL-specific members). The provenance is the top-level foreign member `"watchfloor": {...}` (RFC 7946 section
6.1 allows foreign members; readers that do not know it ignore it).

Streams: features are converted and written CHUNK_ROWS at a time, straight into the file or into
the zip entry, so the document is never held in memory.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.export.constants import PROVENANCE_FILE, PROVENANCE_KEY
from layers.export.frames import chunks, needs_zip64, python_values, round_geometries
from layers.export.job import ExportJob

_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def write_geojson(job: ExportJob, path: Path) -> None:
    layers = job.non_empty()
    if len(layers) == 1 and not job.archive:
        name, frame = next(iter(layers.items()))
        with open(path, "w", encoding="utf-8", newline="\n") as out:
            write_collection(out, name, frame, job.provenance.to_dict())
        return
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for name, frame in layers.items():
            with (zf.open(f"{name}.geojson", "w", force_zip64=needs_zip64(frame)) as raw,
                  io.TextIOWrapper(raw, encoding="utf-8", newline="\n") as out):
                write_collection(out, name, frame, job.provenance.to_dict())
        zf.writestr(PROVENANCE_FILE, job.provenance.text())


def write_collection(out: IO[str], layer: str, frame: gpd.GeoDataFrame, provenance: Mapping) -> None:
    """One FeatureCollection, chunk by chunk; `provenance` becomes the foreign member."""
    out.write('{"type":"FeatureCollection","' + PROVENANCE_KEY + '":')
    out.write(_DUMPS({**provenance, "layer": layer}))
    out.write(',"features":[\n')
    first = True
    for chunk in chunks(frame):
        if not first:
            out.write(",\n")
        out.write(",\n".join(features(chunk)))
        first = False
    out.write("\n]}\n")


def encoded(series: pd.Series) -> np.ndarray:
    """Each value of a column as JSON text. Values are factorised first, so a column that repeats
    a few values (source, marking, severity) is encoded a few times, not once per row."""
    values = pd.Series(python_values(series), dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = np.array([_DUMPS(u) for u in uniques] + ["null"], dtype=object)
    return texts[codes]  # code -1 (missing) picks the trailing "null"


def features(chunk: gpd.GeoDataFrame) -> list[str]:
    """Each row as one serialised Feature (properties first, as most readers expect)."""
    geometry = chunk.geometry.name
    names = [c for c in chunk.columns if c != geometry]
    props = np.full(len(chunk), "{", dtype=object)
    for i, name in enumerate(names):
        props = props + (("," if i else "") + _DUMPS(str(name)) + ":") + encoded(chunk[name])
    props = props + "}"
    geoms = np.asarray(chunk.geometry.values, dtype=object)
    missing = pd.isna(geoms)
    rounded = round_geometries(np.where(missing, None, geoms))
    if np.isin(shapely.get_type_id(rounded), (3, 6)).any():  # RFC 7946 3.1.6: exterior rings counterclockwise
        rounded = shapely.orient_polygons(rounded, exterior_cw=False)
    geo_json = np.where(missing, "null", shapely.to_geojson(rounded)).astype(object)
    return ('{"type":"Feature",' + _ids(chunk) + '"properties":' + props + ',"geometry":' + geo_json + "}").tolist()


def _ids(chunk: gpd.GeoDataFrame) -> np.ndarray | str:
    """The record's source id as the Feature's `id` (RFC 7946 3.2), the member GIS tools and our
    own GeoJSON reader take a feature's identity from: an export read back is the same records.
    A record without one gets no `id` member (its value may only be a string or a number)."""
    if "source_id" not in chunk:
        return ""
    ids = encoded(chunk["source_id"].astype("string"))
    return np.where(ids == "null", "", '"id":' + ids + ",").astype(object)
