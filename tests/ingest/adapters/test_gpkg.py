"""GeoPackage (ingest/adapters/gpkg.py)."""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from ingest import reasons
from ingest.adapters import detect
from ingest.adapters.gpkg import read_gpkg
from ingest.errors import UnreadableInputError
from tests.ingest.adapters.conftest import DATA, SRC, by_id, xy

# rasterio.transform.from_origin still uses Affine's `*`, which affine 3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")


def test_gpkg_real_qgis_multisurface() -> None:
    """A QGIS-digitised MultiSurface (curved type): GDAL hands it over as a MultiPolygon."""
    res = read_gpkg(
        DATA / "gpkg/multisurface.gpkg",
        source=SRC,
        layer="infrastructure",
        defaults={"kind": "restricted_zone", "name": "Zone A"},
    )
    (row,) = [r for _, r in res.frame.iterrows()]
    assert row.source_id == "multisurface:multisurface#1"  # table name and FID
    assert (row.kind, row["name"]) == ("restricted_zone", "Zone A")
    assert row.geometry.geom_type == "MultiPolygon"
    assert row.geometry.geoms[0].exterior.coords[0] == (-95.29698763468994, 63.36578165250125)


def gpkg_blob(wkb: bytes, srs_id: int) -> bytes:
    """A GeoPackage geometry blob: 'GP', version 0, flags (little endian, no envelope),
    srs_id, then the WKB."""
    return b"GP\x00\x01" + struct.pack("<i", srs_id) + wkb


@pytest.fixture
def partner_gpkg(tmp_path: Path) -> Path:
    """Two tables in UTM 34N (EPSG:32634), one feature with a broken ring, one naive time."""
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32634", always_xy=True)
    p1 = shapely.Point(*to_utm.transform(21.1655, 42.6629))
    p2 = shapely.Point(*to_utm.transform(20.8656, 42.8911))
    aor = shapely.transform(
        shapely.box(21.1, 42.62, 21.2, 42.7),
        lambda a: np.column_stack(to_utm.transform(a[:, 0], a[:, 1])),
    )
    units = gpd.GeoDataFrame(
        {
            "Unit": ["1er RIMa", "Pz Gren Kp 3", "broken"],
            "Nation": ["FRA", "DEU", "NLD"],
            "Echelon": ["Company", "company", "platoon"],
            "PAX": [140, 90, 30],
            "DTG": pd.to_datetime(
                ["2026-11-20T08:00:00Z", "2026-11-20T09:00:00Z", "2026-11-20T07:00:00Z"], utc=True
            ),
            "AOR": [aor.wkt, None, None],
        },
        geometry=[p1, p2, p2],
        crs="EPSG:32634",
    )
    path = tmp_path / "partner.gpkg"
    units.to_file(path, layer="units", engine="pyogrio")
    sites = gpd.GeoDataFrame(
        {"kind": ["hospital"], "name": ["Clinic"]},
        geometry=[shapely.Point(*to_utm.transform(21.0, 42.5))],
        crs="EPSG:32634",
    )
    sites.to_file(path, layer="sites", engine="pyogrio")
    # Replace the third unit's geometry with a polygon whose ring has two points.
    ring = struct.pack("<BII", 1, 3, 1) + struct.pack("<I", 2) + struct.pack("<4d", 0, 0, 1, 1)
    with sqlite3.connect(path) as db:
        # GDAL's R-tree triggers call SpatiaLite functions the stdlib sqlite3 lacks.
        for fn in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
            db.create_function(fn, 1, lambda blob: 0)
        srs = db.execute(
            "select srs_id from gpkg_geometry_columns where table_name='units'"
        ).fetchone()[0]
        db.execute("update units set geom = ? where fid = 3", (gpkg_blob(ring, srs),))
    return path


def test_gpkg_tables_reprojection_and_rejection(partner_gpkg: Path) -> None:
    assert detect(partner_gpkg) == "gpkg"
    with pytest.raises(UnreadableInputError, match="2 tables"):
        read_gpkg(partner_gpkg, source=SRC, layer="deployments")
    with pytest.raises(UnreadableInputError, match="no table 'nope'"):
        read_gpkg(partner_gpkg, source=SRC, layer="deployments", table="nope")
    res = read_gpkg(
        partner_gpkg, source=SRC, layer="deployments", table="units", columns={"area": "AOR"}
    )
    assert (len(res.frame), len(res.rejected), res.records_read) == (2, 1, 3)
    rows = by_id(res.frame)
    fra = rows["FRA/1er RIMa"]
    assert fra.geometry.x == pytest.approx(21.1655, abs=1e-9)  # UTM 34N back to lon/lat
    assert fra.geometry.y == pytest.approx(42.6629, abs=1e-9)
    assert (fra.echelon, fra.strength) == ("company", 140.0)
    assert fra.reported_at == "2026-11-20T08:00:00Z"  # GDAL's ISO text, zone kept
    assert fra.area.normalize().equals_exact(shapely.box(21.1, 42.62, 21.2, 42.7).normalize(), 1e-9)
    deu = rows["DEU/Pz Gren Kp 3"]
    assert xy(deu.geometry) == pytest.approx((20.8656, 42.8911), abs=1e-9)
    (rej,) = res.rejected.itertuples()
    assert rej.reason == reasons.MALFORMED_RECORD and "WKB" in rej.detail
    assert json.loads(rej.raw)["fid"] == 3
    sites = read_gpkg(partner_gpkg, source=SRC, layer="infrastructure", table="sites")
    assert sites.frame.iloc[0].source_id == "partner:sites#1"
    assert xy(sites.frame.iloc[0].geometry) == pytest.approx((21.0, 42.5), abs=1e-9)


@pytest.mark.filterwarnings("ignore:'crs' was not provided:UserWarning")
def test_gpkg_without_crs_is_rejected_not_misplaced(tmp_path: Path) -> None:
    path = tmp_path / "nocrs.gpkg"
    gpd.GeoDataFrame(
        {"kind": ["port"], "name": ["x"]}, geometry=[shapely.Point(500000, 4700000)]
    ).to_file(path, engine="pyogrio")
    res = read_gpkg(path, source=SRC, layer="infrastructure")
    assert len(res.frame) == 0 and res.rejected.reason.tolist() == [reasons.MISSING_CRS]
