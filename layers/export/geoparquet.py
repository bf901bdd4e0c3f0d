"""GeoParquet 1.1: one file per layer (several layers, or a zip asked for: a zip of them, stored uncompressed).

Geometries are exact WKB (Parquet is binary: no rounding needed), times stay timestamp[us, UTC],
and a deployment's `area` stays a real second geometry column (GeoParquet allows several). The
provenance is the file's key-value metadata under "watchfloor" (`pyarrow.parquet.read_schema(p)
.metadata[b"watchfloor"]`), next to the standard "geo" key.

Streams: each CHUNK_ROWS chunk is converted to Arrow and written as its own row group through one
ParquetWriter. The "geo" metadata is made for the first chunk by geopandas and then corrected to
describe the whole layer (bbox and geometry types), so readers that prune by bbox stay right.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from layers.export.atomic import scratch_dir
from layers.export.constants import PROVENANCE_FILE, PROVENANCE_KEY
from layers.export.frames import chunks, extra_geometry_columns, python_values
from layers.export.job import ExportJob

SCHEMA_VERSION = "1.1.0"
COMPRESSION = "zstd"


def write_geoparquet(job: ExportJob, path: Path) -> None:
    layers = job.non_empty()
    if len(layers) == 1 and not job.archive:
        name, frame = next(iter(layers.items()))
        write_layer(frame, path, job.provenance.to_dict() | {"layer": name})
        return
    with scratch_dir(path) as scratch, zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED,
                                                       allowZip64=True) as zf:
        for name, frame in layers.items():
            part = scratch / f"{name}.parquet"
            write_layer(frame, part, job.provenance.to_dict() | {"layer": name})
            zf.write(part, f"{name}.parquet")
            part.unlink()
        zf.writestr(PROVENANCE_FILE, job.provenance.text())


def write_layer(frame: gpd.GeoDataFrame, path: Path, provenance: dict) -> None:
    from geopandas.io.arrow import _geopandas_to_arrow  # what GeoDataFrame.to_parquet uses

    geo_columns = [frame.geometry.name, *extra_geometry_columns(frame)]
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    try:
        for chunk in chunks(frame):
            table = _geopandas_to_arrow(_plain(chunk), index=False, schema_version=SCHEMA_VERSION)
            if writer is None:
                schema = _whole_layer_schema(table.schema, frame, geo_columns, provenance)
                writer = pq.ParquetWriter(str(path), schema, compression=COMPRESSION)
            writer.write_table(table.replace_schema_metadata(schema.metadata).cast(schema))
    finally:
        if writer is not None:
            writer.close()


def _plain(chunk: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Containers and other Python objects as text: Parquet needs one type per column."""
    objects = [c for c in chunk.columns if chunk[c].dtype == object]
    if not objects:
        return chunk
    out = chunk.copy()
    for c in objects:
        out[c] = pd.Series(python_values(chunk[c]), index=chunk.index, dtype=object).astype("string")
    return out


def _whole_layer_schema(schema: pa.Schema, frame: gpd.GeoDataFrame, geo_columns: list[str],
                        provenance: dict) -> pa.Schema:
    metadata = dict(schema.metadata or {})
    geo = json.loads(metadata[b"geo"])
    for col in geo_columns:
        meta = geo["columns"].get(col)
        if meta is None:
            continue
        series = gpd.GeoSeries(frame[col])
        present = series[series.notna() & ~series.is_empty]
        meta["geometry_types"] = sorted(present.geom_type.unique().tolist())
        if len(present):
            meta["bbox"] = [float(v) for v in present.total_bounds]
        else:
            meta.pop("bbox", None)
    metadata[b"geo"] = json.dumps(geo).encode()
    metadata[PROVENANCE_KEY.encode()] = json.dumps(provenance, ensure_ascii=False).encode()
    return schema.with_metadata(metadata)
