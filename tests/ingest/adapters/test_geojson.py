"""GeoJSON for any layer (ingest/adapters/geojson.py): CRS, null geometry, hostile input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ingest import reasons
from ingest.adapters import read
from ingest.adapters.geojson import read_geojson
from ingest.errors import HostileInputError, UnreadableInputError
from ingest.schema import CRS
from tests.ingest.adapters.conftest import DATA, SRC, by_id, is_null, xy


def test_geojson_incidents() -> None:
    res = read_geojson(DATA / "geojson/incidents.geojson", source=SRC, layer="incidents")
    assert (len(res.frame), len(res.rejected), res.records_read) == (3, 2, 5)
    assert res.default_marking == "UNCLASSIFIED//REL TO NATO"
    rows = by_id(res.frame)
    a = rows["INC-2024-0001"]
    assert xy(a.geometry) == (21.1655, 42.6629)
    assert a.occurred_at == "2024-05-04T09:15:00Z"
    assert (a.category, a.subcategory, a.severity, a.status) == (
        "explosion",
        "IED",
        "high",
        "verified",
    )
    assert a.title == "IED detonation near the main road"
    assert (
        a.description == "Roadside device detonated; <b>two</b> vehicles damaged."
    )  # untrusted, as is
    assert a.location_name == "Pristina"
    assert a.fatalities == 2
    assert a.marking == "UNCLASSIFIED//REL TO USA, GBR"
    b = rows["INC-2024-0002"]  # id from the Feature's own `id` member
    assert b.occurred_at == "2024-05-04T11:40:00+02:00"
    assert is_null(b.fatalities) and is_null(b.marking)
    c = rows["INC-2024-0003"]
    assert c.severity == "catastrophic"  # not judged here: validate quarantines it
    assert c.fatalities == "several"
    rej = res.rejected.reset_index(drop=True)
    assert rej.reason.tolist() == [reasons.MALFORMED_RECORD, reasons.MALFORMED_RECORD]
    assert "'properties' object, found null" in rej.detail[0]
    assert rej.source_id[1] == "INC-2024-0005" and "'21.0E'" in rej.detail[1]


def test_geojson_deployments_with_area() -> None:
    res = read_geojson(DATA / "geojson/deployments.geojson", source=SRC, layer="deployments")
    assert (len(res.frame), len(res.rejected)) == (2, 1)
    rows = by_id(res.frame)
    d = rows["DEU-MNBG-S-1"]
    assert xy(d.geometry) == (20.7397, 42.2139)
    assert (d.nation, d.unit_type, d.echelon, d.strength) == ("DEU", "infantry", "company", 150)
    assert d.unit_name == "Multinational Battle Group South, 1st Company"
    assert d.symbol_code == "10031000151211000000"
    assert d.reported_at == "2024-05-04T06:00:00Z"
    assert d.area.geom_type == "Polygon"
    assert list(d.area.exterior.coords)[:3] == [(20.6, 42.1), (20.9, 42.1), (20.9, 42.35)]
    assert res.frame["area"].crs == CRS
    f = rows["FRA-MP-2"]
    assert f.area is None and f.strength == 35.0
    (rej,) = [r for _, r in res.rejected.iterrows()]
    assert rej.source_id == "ITA-CARA-3" and rej.detail.startswith("area:")


def test_geojson_reference_layer_from_gdal_output() -> None:
    res = read_geojson(DATA / "geojson/naturalearth_lux_kos.geojson", source=SRC, layer="borders")
    f = res.frame
    assert list(f.name) == ["Luxembourg", "Kosovo"]
    assert list(f.country_code) == ["LUX", "-99"]
    assert list(f.source_id) == ["naturalearth_lux_kos#0", "naturalearth_lux_kos#1"]
    assert f.geometry.iloc[0].exterior.coords[0] == (6.043073357781111, 50.128051662794235)


def test_geojson_2008_crs_is_reprojected() -> None:
    wgs = read_geojson(
        DATA / "geojson/naturalearth_lux_kos.geojson", source=SRC, layer="borders"
    ).frame
    web = read_geojson(
        DATA / "geojson/naturalearth_lux_kos_3857.geojson", source=SRC, layer="borders"
    ).frame
    for a, b in zip(wgs.geometry, web.geometry):
        assert np.allclose(
            np.asarray(a.exterior.coords), np.asarray(b.exterior.coords), atol=1e-9, rtol=0
        )


def test_geojson_unknown_crs_rejects_every_record(tmp_path: Path) -> None:
    p = tmp_path / "odd.geojson"
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::999999"}},
        "features": [
            {
                "type": "Feature",
                "properties": {"id": "a", "name": "x"},
                "geometry": {"type": "Point", "coordinates": [1, 2]},
            },
            {
                "type": "Feature",
                "properties": {"id": "b", "name": "y"},
                "geometry": {"type": "Point", "coordinates": [3, 4]},
            },
        ],
    }
    p.write_text(json.dumps(doc))
    res = read_geojson(p, source=SRC, layer="places")
    assert len(res.frame) == 0 and len(res.rejected) == 2
    assert set(res.rejected.reason) == {reasons.UNKNOWN_CRS}
    assert "999999" in res.rejected.detail.iloc[0]


def test_geojson_null_geometry_and_track_points(tmp_path: Path) -> None:
    f = read_geojson(DATA / "geojson/null_geom.geojson", source=SRC, layer="disputed_areas").frame
    assert f.geometry.iloc[0] is None and f.name.iloc[0] == "Null Geometry"  # "Name" matched
    p = tmp_path / "tp.geojson"
    p.write_text(
        json.dumps(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [21.1, 42.6, 500]},
                "properties": {"track_id": "T1", "time": "2024-05-04T10:00:00Z", "speed": 3},
            }
        )
    )
    res = read(p, source=SRC)
    assert res.layer == "track_points"
    row = res.frame.iloc[0]
    assert row.source_id == "T1@2024-05-04T10:00:00Z" and row.speed_mps == 3.0
    assert (row.geometry.x, row.geometry.y) == (21.1, 42.6)


def test_geojson_unreadable_and_hostile(tmp_path: Path) -> None:
    p = tmp_path / "bad.geojson"
    p.write_text("{not json")
    with pytest.raises(UnreadableInputError, match="not valid JSON"):
        read_geojson(p, source=SRC, layer="incidents")
    p.write_text(json.dumps({"type": "Polygon", "coordinates": []}))
    with pytest.raises(UnreadableInputError, match="FeatureCollection or Feature"):
        read_geojson(p, source=SRC, layer="incidents")
    p.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(HostileInputError, match="nested too deeply"):
        read_geojson(p, source=SRC, layer="incidents")
