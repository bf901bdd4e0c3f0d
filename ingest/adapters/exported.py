"""Our own exports read back: what goes out comes back in, layer by layer, with its ids.

An export (layers/export/) names each of its tables by layer and carries its provenance: GeoJSON's
top-level `"watchfloor"` member (with `layer`), GeoParquet's `watchfloor` key-value metadata, the
GeoPackage's `watchfloor_provenance` table, PROVENANCE.txt inside a zip, `<name>.provenance.txt`
beside a plain CSV, the KML Document's `watchfloor:provenance` ExtendedData (a KML's folders of
records each name their layer and Schema; ingest/exchange.py). A Shapefile zip's FIELDS.json maps
each .shp to its layer, its 10-character field names to the columns, and the geometry types a
shapefile cannot hold apart (one-part MultiPolygons), which are restored. `sniff` recognises them by that, so `watchfloor ingest auto --source S FILE`
needs no `--layer`: one file may hold several layers and `read_export` returns one ReadResult per
layer, each with its own accounting (stored + quarantined = read). Columns are the store's own
names, so records keep their keys (`source`, `source_id`: `--source` only fills a record without
one), times, markings and geometries (text formats print the store's 7-decimal grid exactly,
ingest/precision.py).

Track points come back before tracks: the pipeline derives tracks from the points, then the
exported tracks (path, counts, speeds of the whole track, which an export's window may hold only
part of) replace what was derived. Alerts are findings, evaluated again over the store, so an
export's `alerts` table is not read. A file that looks like ours but is damaged (a table named after no
layer, a zip member that cannot be read) is refused naming the file and the reason; a zip
without PROVENANCE.txt is just foreign input.
"""

from __future__ import annotations

import io
import json
import zipfile
from functools import partial
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ingest.adapters import ziputil
from ingest.adapters.base import ReadResult
from ingest.adapters.common import read_bytes
from ingest.errors import UnreadableInputError, UnsupportedOptionError
from ingest.exchange import (
    EXPORT_LINE,
    FORMULA_GUARD,
    FORMULA_TRIGGERS,
    GPKG_PROVENANCE_TABLE,
    KML_COLUMN_DATA,
    KML_LAYER_DATA,
    KML_PROVENANCE_DATA,
    KML_SCHEMA_DATA,
    PROVENANCE_FILE,
    PROVENANCE_KEY,
    PROVENANCE_SIDECAR_SUFFIX,
    SHP_FIELDS_JSON,
)
from ingest.schema import CRS, LAYERS, spec

FORMAT = "watchfloor-export"
# Layers of an export that are not records of the store: read no further.
NOT_STORED = frozenset({"alerts"})
# Track points first: their ingest derives tracks, which the exported tracks then replace.
_ORDER = {"track_points": 0, "tracks": 1}
_GEOJSON_HEAD = '{"type":"FeatureCollection","' + PROVENANCE_KEY + '":'
_ZIP_TABLES = (".geojson", ".parquet", ".csv")
_KML_EXTS = (".kml", ".kmz")
# How the Document's provenance is written (layers/export/kml.py): within the first 64 KiB, after the styles.
_KML_MARK = f'<Data name="{KML_PROVENANCE_DATA}">'
_KML_PEEK = 64 * 1024


def sniff(path: Path, raw: bytes, head: str) -> bool:
    """Whether `path` (its first bytes `raw`, as text `head`) is one of our exports."""
    ext = path.suffix.lower()
    if head.startswith(_GEOJSON_HEAD):
        return True
    if ext in _KML_EXTS or (head.startswith("<") and "<kml" in head[:1000]):
        return _KML_MARK in (_kmz_head(path) if raw.startswith(b"PK\x03\x04") else head)
    if raw.startswith(b"PK\x03\x04") and ext == ".zip":
        return _zip_provenance(path) is not None
    if raw.startswith(b"PAR1"):
        return _parquet_layer(path) is not None
    if raw.startswith(b"SQLite format 3\x00"):
        return GPKG_PROVENANCE_TABLE in _gpkg_tables(path)
    if ext == ".csv":
        return _sidecar(path).is_file() and EXPORT_LINE in _sidecar(path).read_text("utf-8", errors="replace")
    return False


def read_export(path: Path, *, source: str, layer: str | None = None, table: str | None = None
                ) -> list[ReadResult]:
    """One ReadResult per layer of our export `path`; `layer` / `table` pick one of them (refused
    when the export holds no such layer, or when they name different layers)."""
    path = Path(path)
    if layer and table and layer != table:
        raise UnsupportedOptionError(FORMAT, "--table", f"--layer {layer} and --table {table} name different "
                                     "layers; each table of an export is named by its layer")
    wanted = layer or table
    tables = _tables(path)
    held = [name for name in tables if name not in NOT_STORED]
    unknown = [name for name in held if name not in LAYERS]
    if unknown:
        raise UnreadableInputError(path, f"a watchfloor export whose table {unknown[0]!r} names no layer; "
                                         f"expected some of {', '.join(LAYERS)}")
    if wanted is not None:
        if wanted not in held:
            raise UnsupportedOptionError(FORMAT, "--layer" if layer else "--table",
                                         f"{path} holds {', '.join(held) or 'no layer'}, not {wanted}")
        held = [wanted]
    held.sort(key=lambda name: _ORDER.get(name, -1))
    return [_result(name, tables[name]()) for name in held]


# --- what an export holds: layer -> a function reading that layer's frame -------------------


def _tables(path: Path) -> dict:
    raw = path.open("rb").read(16)
    if path.suffix.lower() in _KML_EXTS or raw.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return _kml_tables(path)
    if raw.startswith(b"PK\x03\x04"):
        return _zip_tables(path)
    if raw.startswith(b"PAR1"):
        name = _parquet_layer(path)
        return {name: lambda: _read_parquet(path)}
    if raw.startswith(b"SQLite format 3\x00"):
        return {name: (lambda n=name: _read_gpkg(path, n)) for name in _gpkg_tables(path)
                if name != GPKG_PROVENANCE_TABLE}
    if path.suffix.lower() == ".csv":
        return {_csv_layer(path, path.stem): lambda: _read_csv(path, path.read_bytes())}
    data = read_bytes(path)
    doc = _json(path, data)
    name = (doc.get(PROVENANCE_KEY) or {}).get("layer")
    if not isinstance(name, str):
        raise UnreadableInputError(path, f"a watchfloor GeoJSON export without its layer: expected "
                                         f'"{PROVENANCE_KEY}": {{"layer": ...}}')
    return {name: lambda: _geojson_frame(path, doc)}


def _kmz_head(path: Path) -> str:
    from ingest.adapters.kml import _main_kml

    try:
        found = ziputil.read_member(path, _main_kml)
    except (UnreadableInputError, OSError, zipfile.BadZipFile):
        return ""
    return found[1][:_KML_PEEK].decode("utf-8", errors="replace") if found else ""


def _kml_tables(path: Path) -> dict:
    """Each layer of our KML/KMZ export: the Folders whose ExtendedData names a layer (layers/export/kml.py),
    read with the KML adapter's safe parser. A folder naming a column (a unit's `area`) adds that
    geometry to its layer's records, matched by key."""
    from ingest.adapters import kml

    root = kml.parse_kml(path)
    doc = root if kml._name(root) == "Document" else kml._child(root, "Document")
    if doc is None:
        raise UnreadableInputError(path, "a watchfloor KML export without its <Document>")
    schemas = {"#" + (el.get("id") or ""): [f.get("name") for f in el if kml._name(f) == "SimpleField"]
               for el in doc if kml._name(el) == "Schema"}
    records: dict[str, tuple] = {}
    columns: dict[str, list] = {}
    for folder in (el for el in doc if kml._name(el) == "Folder"):
        marks = kml.extended_data(folder)
        layer = marks.get(KML_LAYER_DATA)
        if layer is None:
            continue  # for viewers (the tracks as gx:Track), not records
        names = schemas.get(marks.get(KML_SCHEMA_DATA, ""), [])
        if KML_COLUMN_DATA in marks:
            columns.setdefault(layer, []).append((marks[KML_COLUMN_DATA], folder))
        elif layer in records:
            raise UnreadableInputError(path, f"a watchfloor KML export with two folders of layer {layer!r}")
        else:
            records[layer] = (folder, names)
    if not records:
        raise UnreadableInputError(path, f"a watchfloor KML export with no folder naming its layer (expected "
                                         f'<Data name="{KML_LAYER_DATA}"> in a Folder\'s ExtendedData; an export '
                                         "made before KML round trips: read it as KML with --layer)")
    return {layer: partial(_kml_frame, path, folder, names, tuple(columns.get(layer, ())))
            for layer, (folder, names) in records.items()}


def _kml_frame(path: Path, folder, names: list, extra: tuple) -> gpd.GeoDataFrame:
    """A folder's placemarks as text columns (their ExtendedData, as CSV's cells) and geometries."""
    frame = _kml_placemarks(path, folder, names)
    for column, area_folder in extra:
        areas = _kml_placemarks(path, area_folder, ["source", "source_id"])
        by_key = dict(zip(zip(areas["source"], areas["source_id"]), areas.geometry))
        frame[column] = gpd.GeoSeries([by_key.get(k) for k in zip(frame["source"], frame["source_id"])],
                                      index=frame.index, crs=CRS)
    return frame


def _kml_placemarks(path: Path, folder, names: list) -> gpd.GeoDataFrame:
    from ingest.adapters import kml

    rows, geoms = [], []
    for pm in (el for el in folder if kml._name(el) == "Placemark"):
        rows.append(kml.extended_data(pm))
        try:
            geoms.append(kml.placemark_geometry(pm))
        except ValueError:  # CoordinateError too: stored as missing, quarantined with its record
            geoms.append(None)
    table = pd.DataFrame.from_records(rows, columns=list(dict.fromkeys([*names, *(k for r in rows for k in r)])))
    table = table.astype(object).where(table.notna(), None)
    return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(geoms, crs=CRS), crs=CRS)


def _zip_tables(path: Path) -> dict:
    with ziputil.open_archive(path) as zf:
        ziputil.check_archive(zf, path)
        names = [n for n in zf.namelist() if not n.endswith("/")]
    if SHP_FIELDS_JSON in names:
        return _shp_tables(path)
    out: dict = {}
    for member in names:
        stem, ext = Path(member).stem, Path(member).suffix.lower()
        if ext in _ZIP_TABLES:
            out[stem] = lambda m=member, e=ext: _zip_member(path, m, e)
    if not out:
        raise UnreadableInputError(path, f"a watchfloor export zip holding no table: expected "
                                         f"{', '.join('*' + e for e in _ZIP_TABLES)} beside {PROVENANCE_FILE}")
    return out


def _shp_tables(path: Path) -> dict:
    """Each layer of our Shapefile zip, by its FIELDS.json (layers/export/shapefile.py): the layer's
    shapefiles (one per geometry family) read by GDAL and joined, fields renamed back, geometry types
    restored; a second geometry's shapefile (a unit's `area`) joined to its records by key."""
    found = ziputil.read_member(path, lambda names: SHP_FIELDS_JSON if SHP_FIELDS_JSON in names else None)
    try:
        index = json.loads(found[1].decode("utf-8"))["shapefiles"] if found else None
        entries = {str(k): dict(v) for k, v in index.items()}
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UnreadableInputError(path, f"a watchfloor Shapefile export whose {SHP_FIELDS_JSON} cannot be read: "
                                         f"expected {{\"shapefiles\": {{\"<name>.shp\": {{\"layer\": ...}}}}}} ({exc})") from None
    layers: dict[str, dict[str | None, list[str]]] = {}
    for member, entry in entries.items():
        layers.setdefault(str(entry.get("layer")), {}).setdefault(entry.get("column"), []).append(member)
    return {layer: partial(_shp_layer, path, parts, entries) for layer, parts in layers.items()}


def _shp_layer(path: Path, parts: dict, entries: dict) -> gpd.GeoDataFrame:
    frame = pd.concat([_shp_frame(path, m, entries[m]) for m in parts.get(None, [])], ignore_index=True)
    frame = gpd.GeoDataFrame(frame, geometry="geometry", crs=CRS)
    for column, members in ((c, m) for c, m in parts.items() if c is not None):
        extra = pd.concat([_shp_frame(path, m, entries[m]) for m in members], ignore_index=True)
        by_key = dict(zip(zip(extra["source"], extra["source_id"]), extra.geometry))
        frame[column] = gpd.GeoSeries([by_key.get(k) for k in zip(frame["source"], frame["source_id"])],
                                      index=frame.index, crs=CRS)
    return frame


def _shp_frame(path: Path, member: str, entry: dict) -> gpd.GeoDataFrame:
    import pyogrio

    where = f"{path}!{member}"
    try:
        frame = pyogrio.read_dataframe(f"/vsizip/{path}/{member}", encoding="UTF-8")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise UnreadableInputError(where, f"a shapefile of a watchfloor export that cannot be read ({exc})") from None
    if len(frame) != entry.get("features", len(frame)):
        raise UnreadableInputError(where, f"expected {entry['features']} features as {SHP_FIELDS_JSON} says, "
                                          f"found {len(frame)}")
    frame = frame.rename(columns=dict(entry.get("fields") or {}))
    for col in frame.columns:  # dBASE has no null text: an empty field is a missing value
        if col != "geometry":
            frame[col] = frame[col].astype(object).where(frame[col].notna() & (frame[col] != ""), None)
    frame["geometry"] = _restore_types(frame.geometry.values, entry)
    return frame


def _restore_types(geoms, entry: dict):
    """The Multi* a shapefile reads back as a single part made Multi* again (FIELDS.json)."""
    arr = np.asarray(geoms, dtype=object).copy()
    want = entry.get("geometry_type")
    rows = np.arange(len(arr)) if isinstance(want, str) and want.startswith("Multi") else \
        np.asarray(entry.get("multi_rows") or [], dtype=int)
    for i in rows[(rows >= 0) & (rows < len(arr))]:
        g = arr[i]
        if g is not None and not g.geom_type.startswith("Multi") and g.geom_type in _MULTI_OF:
            arr[i] = _MULTI_OF[g.geom_type]([g])
    return gpd.GeoSeries(arr, crs=CRS).values


_MULTI_OF = {"Point": shapely.MultiPoint, "LineString": shapely.MultiLineString, "Polygon": shapely.MultiPolygon}


def _zip_member(path: Path, member: str, ext: str) -> gpd.GeoDataFrame:
    found = ziputil.read_member(path, lambda names: member if member in names else None)
    if found is None:
        raise UnreadableInputError(path, f"member {member!r} cannot be read")
    data = found[1]
    where = f"{path}!{member}"
    if ext == ".geojson":
        return _geojson_frame(where, _json(where, data))
    if ext == ".parquet":
        return _read_parquet(io.BytesIO(data), where)
    return _read_csv(where, data)


def _zip_provenance(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as zf:
            if PROVENANCE_FILE not in zf.namelist() or zf.getinfo(PROVENANCE_FILE).file_size > 1 << 20:
                return None
            text = zf.read(PROVENANCE_FILE).decode("utf-8", errors="replace")
    except (zipfile.BadZipFile, OSError):
        return None
    return text if EXPORT_LINE in text else None


def _json(where: object, data: bytes) -> dict:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnreadableInputError(where, f"a watchfloor GeoJSON export that is not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("features"), list):
        raise UnreadableInputError(where, "a watchfloor GeoJSON export without a features list")
    return doc


def _geojson_frame(where: object, doc: dict) -> gpd.GeoDataFrame:
    feats = doc["features"]
    props = pd.DataFrame.from_records([f.get("properties") or {} if isinstance(f, dict) else {} for f in feats])
    geoms = [f.get("geometry") if isinstance(f, dict) else None for f in feats]
    try:
        geometry = shapely.from_geojson([json.dumps(g) if g else None for g in geoms], on_invalid="ignore")
    except shapely.errors.GEOSException as exc:
        raise UnreadableInputError(where, f"a geometry cannot be read ({exc})") from None
    return gpd.GeoDataFrame(props, geometry=gpd.GeoSeries(geometry, crs=CRS), crs=CRS)


def _parquet_layer(path: Path) -> str | None:
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(str(path)).metadata or {}
        return json.loads(meta[PROVENANCE_KEY.encode()]).get("layer")
    except (OSError, KeyError, ValueError, AttributeError):
        return None


def _read_parquet(source, where: object = None) -> gpd.GeoDataFrame:
    try:
        return gpd.read_parquet(source)
    except (OSError, ValueError) as exc:
        raise UnreadableInputError(where or source, f"a watchfloor GeoParquet export that cannot be read ({exc})") from None


def _gpkg_tables(path: Path) -> list[str]:
    import pyogrio

    try:
        return [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except (pyogrio.errors.DataSourceError, OSError):
        return []


def _read_gpkg(path: Path, name: str) -> gpd.GeoDataFrame:
    import pyogrio

    frame = pyogrio.read_dataframe(path, layer=name, use_arrow=True)
    return frame


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + PROVENANCE_SIDECAR_SUFFIX)


def _csv_layer(path: Path, stem: str) -> str:
    """A plain CSV's layer: its provenance lists exactly one layer with records."""
    text = _sidecar(path).read_text("utf-8", errors="replace")
    for line in text.splitlines():
        if line.startswith("Records: "):
            named = [part.strip().split(" ")[0] for part in line[len("Records: "):].split(" (total")[0].split(",")]
            named = [n for n in named if n in LAYERS or n in NOT_STORED]
            if len(named) == 1:
                return named[0]
    raise UnreadableInputError(path, f"its provenance {_sidecar(path).name} names no one layer "
                                     "(expected a line 'Records: <layer> <count>')")


def _read_csv(where: object, data: bytes) -> gpd.GeoDataFrame:
    try:
        table = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadableInputError(where, f"a watchfloor CSV export that cannot be read ({exc})") from None
    table = table.replace("", None)
    for col in table.columns:  # the spreadsheet guard taken off again
        text = table[col]
        guarded = text.str.startswith(FORMULA_GUARD, na=False) & text.str[1:].str.startswith(FORMULA_TRIGGERS, na=False)
        if guarded.any():
            table[col] = text.where(~guarded, text.str[1:])
    if "wkt" in table:
        geometry = shapely.from_wkt(table.pop("wkt").to_numpy(dtype=object), on_invalid="ignore")
        table = table.drop(columns=[c for c in ("lon", "lat") if c in table])
    elif {"lon", "lat"} <= set(table):
        geometry = shapely.points(pd.to_numeric(table.pop("lon")).to_numpy(), pd.to_numeric(table.pop("lat")).to_numpy())
    else:
        raise UnreadableInputError(where, "a watchfloor CSV export without geometry: expected a wkt column or lon, lat")
    return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(geometry, crs=CRS), crs=CRS)


# --- one layer's frame as the pipeline takes it ------------------------------------------------


def _result(layer: str, frame: gpd.GeoDataFrame) -> ReadResult:
    frame = frame.copy()
    if frame.crs is None:
        frame = frame.set_crs(CRS)
    for extra in spec(layer).extra_geometry_columns:
        if extra in frame and not isinstance(frame[extra].dtype, gpd.array.GeometryDtype):
            text = frame[extra].astype(object).where(frame[extra].notna(), None).to_numpy(dtype=object)
            frame[extra] = gpd.GeoSeries(shapely.from_wkt(text, on_invalid="ignore"), index=frame.index, crs=CRS)
    frame = frame.drop(columns=[c for c in ("ingested_at",) if c in frame])
    if frame.geometry.name != "geometry":
        frame = frame.rename_geometry("geometry")
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].where(frame[col].notna(), None)
    return ReadResult(layer, frame)
