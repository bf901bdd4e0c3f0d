"""Zipped ESRI Shapefile: one shapefile per layer and geometry family, FIELDS.txt, PROVENANCE.txt.

Shapefiles hold one geometry type each and dBASE field names of at most 10 characters, so:

- each layer is split by geometry family into `<layer>_<family>.shp` (point, multipoint, line,
  polygon: Polygon and MultiPolygon share a polygon shapefile, as the format allows). The suffix
  is always there, so a script can rely on `incidents_point.shp` whatever the data's mix;
- a second geometry column (a deployment's `area`) becomes its own shapefile
  `<layer>_<column>_<family>.shp` with the record's id columns and marking, since WKT in a
  254-character dBASE field would be cut;
- field names are shortened by `shapefile_field_names` (deterministic: the same columns always
  give the same names) and the mapping is written to FIELDS.txt inside the zip, and for programs
  to FIELDS.json (each .shp -> layer, column, field names, geometry type), which is how
  `watchfloor ingest auto` takes the zip back in as the layers it came from;
- geometry types a shapefile cannot tell apart (Polygon vs a one-part MultiPolygon, LineString vs
  MultiLineString) are kept in FIELDS.json and restored on the way back in;
- times are ISO 8601 UTC text (dBASE dates have no time of day); text longer than 254 bytes is
  cut, and FIELDS.txt says how many values were;
- the encoding is UTF-8, declared in each .cpg file; the .prj says WGS 84.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from ingest.exchange import SHP_FIELDS_JSON
from layers.export.atomic import scratch_dir
from layers.export.constants import (
    FIELDS_FILE,
    PROVENANCE_FILE,
    SHP_ABBREVIATIONS,
    SHP_FAMILIES,
    SHP_MAX_FIELD,
    SHP_MAX_TEXT,
)
from layers.export.frames import chunks, extra_geometry_columns, for_gdal, id_columns
from layers.export.job import ExportJob

SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
_GDAL_TYPE = {"point": "Point", "multipoint": "MultiPoint", "line": "LineString", "polygon": "Polygon"}

FIELD_RULE = f"""Shapefile field names are at most {SHP_MAX_FIELD} characters (dBASE). Each layer's column
names are shortened by this rule, in the layer's column order, so the same columns always get the
same names:
  1. a fixed abbreviation for long schema names (e.g. occurred_at -> occurred), else the name;
  2. characters other than letters, digits and _ become _, and a name not starting with a letter
     gets an 'f' in front;
  3. cut to {SHP_MAX_FIELD} characters;
  4. if that name (ignoring case) is already taken in the layer, the shortest free name of the form
     <cut name>_1, _2, ... (still {SHP_MAX_FIELD} characters at most) is used.
Times are ISO 8601 UTC text. Text longer than {SHP_MAX_TEXT} bytes (UTF-8) is cut at that length.
{SHP_FIELDS_JSON} says the same for programs: for each .shp its layer (and, for a second geometry,
its column), its field names -> column names, and the geometry type its records had (a shapefile
cannot tell a Polygon from a one-part MultiPolygon); `watchfloor ingest auto` reads it to take the
export back in.
"""


def shapefile_field_names(columns: Sequence[str]) -> dict[str, str]:
    """Column -> dBASE field name (see FIELD_RULE). Pure and deterministic."""
    used: set[str] = set()
    out: dict[str, str] = {}
    for col in columns:
        base = re.sub(r"[^A-Za-z0-9_]", "_", SHP_ABBREVIATIONS.get(col, col))
        if not base or not base[0].isalpha():
            base = "f" + base
        base = base[:SHP_MAX_FIELD]
        name, n = base, 1
        while name.lower() in used:
            suffix = f"_{n}"
            name = base[: SHP_MAX_FIELD - len(suffix)] + suffix
            n += 1
        used.add(name.lower())
        out[col] = name
    return out


def family(geom_type: str | None) -> str | None:
    return SHP_FAMILIES.get(geom_type) if geom_type else None


def write_shapefile_zip(job: ExportJob, path: Path) -> None:
    notes: list[str] = [FIELD_RULE]
    index: dict[str, dict] = {}
    with scratch_dir(path) as scratch, zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED,
                                                       allowZip64=True) as zf:
        for name, frame in job.non_empty().items():
            extras = extra_geometry_columns(frame)
            main = frame.drop(columns=extras)
            mapping = shapefile_field_names([c for c in main.columns if c != main.geometry.name])
            notes.append(_write_families(main, name, mapping, scratch, zf, index, layer=name))
            for col in extras:
                keep = [*id_columns(name, frame), *(["marking"] if "marking" in frame else [])]
                part = gpd.GeoDataFrame(frame[keep], geometry=gpd.GeoSeries(frame[col].values, index=frame.index,
                                                                            crs="EPSG:4326"))
                part = part[part.geometry.notna() & ~part.geometry.is_empty]
                if len(part):
                    notes.append(_write_families(part, f"{name}_{col}", shapefile_field_names(keep),
                                                 scratch, zf, index, layer=name, column=col,
                                                 origin=f"column {col!r} of layer {name}"))
        zf.writestr(FIELDS_FILE, "\n".join(notes))
        zf.writestr(SHP_FIELDS_JSON, json.dumps({"shapefiles": index}, indent=1, ensure_ascii=False))
        zf.writestr(PROVENANCE_FILE, job.provenance.text())


def _geometry_types(geoms: gpd.GeoSeries) -> dict:
    """What a shapefile cannot say about its geometries: their type, when all share one (a layer of
    one-part MultiPolygons, such as borders), else the rows (0-based, in file order) that were Multi*."""
    types = geoms.geom_type.to_numpy()
    if len(set(types)) == 1:
        return {"geometry_type": str(types[0])}
    return {"multi_rows": [int(i) for i in np.flatnonzero(np.char.startswith(types.astype(str), "Multi"))]}


def _write_families(frame: gpd.GeoDataFrame, base: str, mapping: dict[str, str], scratch: Path,
                    zf: zipfile.ZipFile, index: dict[str, dict], *, layer: str, column: str | None = None,
                    origin: str | None = None) -> str:
    fam = frame.geom_type.map(family)
    lines: list[str] = []
    for kind in sorted(k for k in fam.dropna().unique()):
        part = frame[fam == kind]
        stem = f"{base}_{kind}"
        index[f"{stem}.shp"] = {"layer": layer, "column": column, "features": len(part),
                                "fields": {short: col for col, short in mapping.items()},
                                **_geometry_types(part.geometry)}
        target = scratch / f"{stem}.shp"
        cut: dict[str, int] = {}
        for i, chunk in enumerate(chunks(part)):
            table = for_gdal(chunk, times="iso")
            for col in table.columns:
                if col != table.geometry.name and pd.api.types.is_string_dtype(table[col].dtype):
                    table[col], n = _cut_text(table[col])
                    if n:
                        cut[col] = cut.get(col, 0) + n
            table = table.rename(columns=mapping)
            pyogrio.write_dataframe(table, target, driver="ESRI Shapefile", encoding="UTF-8",
                                    geometry_type=_GDAL_TYPE[kind], append=i > 0, use_arrow=True)
        for suffix in SHP_PARTS:
            f = target.with_suffix(suffix)
            if f.exists():
                zf.write(f, f.name)
                f.unlink()
        lines.append(f"\n== {stem}.shp ({len(part):,} features; {origin or 'layer ' + base}) ==")
        lines += [f"  {short:<{SHP_MAX_FIELD}}  <-  {col}" for col, short in mapping.items()]
        lines += [f"  note: {n:,} values of {col} were cut to {SHP_MAX_TEXT} bytes" for col, n in cut.items()]
    skipped = int(fam.isna().sum())
    if skipped:
        lines.append(f"  note: {skipped:,} features of {base} without a geometry were left out")
    return "\n".join(lines)


def _cut_text(series: pd.Series) -> tuple[pd.Series, int]:
    """Values cut to SHP_MAX_TEXT UTF-8 bytes (never inside a character); how many were cut.
    Only values longer than SHP_MAX_TEXT // 4 characters can be too long, so only those are encoded."""
    chars = series.str.len()
    candidates = (chars > SHP_MAX_TEXT // 4).fillna(False).astype(bool)
    if not candidates.any():
        return series, 0
    encoded = series[candidates].map(lambda v: v.encode("utf-8"))
    long = encoded.map(len) > SHP_MAX_TEXT
    n = int(long.sum())
    if not n:
        return series, 0
    out = series.copy()
    out[long[long].index] = encoded[long].map(lambda b: b[:SHP_MAX_TEXT].decode("utf-8", errors="ignore"))
    return out, n
