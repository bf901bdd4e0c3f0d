"""Valid out if valid in: every geometry of every bundled reference layer (real borders, disputed
areas, infrastructure, places) is still valid after export in each format that writes text
coordinates, as GDAL reads it back. Rounding coordinate by coordinate made Sweden's border
polygon self-intersect at 7 decimals; snapping to the grid with GEOS keeps it valid.

And a GeoJSON export names each feature by its record's source id (RFC 7946 `id`), the member
GIS tools and our own reader take a feature's identity from.
"""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from ingest.config import REFERENCE_DIR
from ingest.reference import read_reference, reference_files
from ingest.validate import validate
from layers.access import Viewer
from layers.export import export_view
from layers.export.frames import round_geometries
from layers.filters import View

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
VIEWER = Viewer("analyst", "GBR", "SECRET", "analyst")
REFERENCE = sorted(reference_files(REFERENCE_DIR))


@pytest.fixture(scope="module")
def reference() -> dict[str, gpd.GeoDataFrame]:
    out = {}
    for name, path in reference_files(REFERENCE_DIR).items():
        result = read_reference(name, path)
        out[name] = validate(result.frame, name, source="reference", default_marking=result.default_marking,
                             now=NOW).valid
    return out


def test_the_bundled_reference_geometries_are_valid_to_begin_with(reference):
    for name, frame in reference.items():
        bad = frame[~frame.geometry.is_valid]
        assert bad.empty, (name, bad["source_id"].tolist())


def test_rounding_each_coordinate_alone_would_break_a_real_border(reference):
    """The case the snapping exists for, kept as evidence: plain rounding makes some real border
    (as the bundled file has it, before the store puts it on its grid) invalid; the store's grid,
    which the export's rounding is, does not."""
    borders = read_reference("borders", reference_files(REFERENCE_DIR)["borders"]).frame.geometry.values
    plain = shapely.transform(np.asarray(borders, dtype=object), lambda c: np.round(c, 7))
    assert not shapely.is_valid(plain).all()
    assert shapely.is_valid(round_geometries(borders)).all()
    assert shapely.is_valid(reference["borders"].geometry.values).all()


def _read_all(path: Path) -> dict[str, gpd.GeoDataFrame]:
    """Every layer in an export file, as GDAL reads it (zips through /vsizip/)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.endswith((".geojson", ".csv", ".kml"))]
        sources = [f"/vsizip/{path}/{n}" for n in names]
    else:
        sources = [str(path)]
    out = {}
    for src in sources:
        for layer, _ in pyogrio.list_layers(src):
            out[f"{Path(src).stem}:{layer}"] = pyogrio.read_dataframe(src, layer=layer)
    return out


@pytest.mark.parametrize("fmt,name", [("geojson", "ref.zip"), ("csv", "ref.zip"), ("kml", "ref.kml")])
def test_every_exported_reference_geometry_is_valid(reference, fmt, name, tmp_path):
    view = View(window="7d", layers=tuple(REFERENCE))
    result = export_view(reference, view, viewer=VIEWER, fmt=fmt, out=tmp_path / name, now=NOW)
    read = _read_all(result.path)
    assert read
    total = 0
    for layer, frame in read.items():
        geoms = frame.geometry[frame.geometry.notna()]
        invalid = geoms[~geoms.is_valid]
        assert invalid.empty, (layer, [shapely.is_valid_reason(g) for g in invalid.head(3)])
        total += len(geoms)
    assert total == sum(len(f) for f in reference.values())


def test_a_geojson_feature_is_named_by_its_source_id(reference, tmp_path):
    view = View(window="7d", layers=("infrastructure",))
    result = export_view(reference, view, viewer=VIEWER, fmt="geojson", out=tmp_path / "infra.geojson", now=NOW)
    features = json.loads(result.path.read_text(encoding="utf-8"))["features"]
    assert [f["id"] for f in features] == [f["properties"]["source_id"] for f in features]
    assert sorted(f["id"] for f in features) == sorted(reference["infrastructure"]["source_id"].astype(str))
