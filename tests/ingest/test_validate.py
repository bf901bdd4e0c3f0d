"""Validation: every record is either conforming or quarantined with its own reason."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from ingest import reasons
from ingest.errors import SchemaError, UnknownLayerError
from ingest.schema import LAYERS, TIME_DTYPE
from ingest.validate import validate


def points(rows: list[dict], crs="EPSG:4326") -> gpd.GeoDataFrame:
    geoms = [r.pop("geometry") for r in rows]
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=crs)


def fix(**kw) -> dict:
    base = {"source_id": "p1", "track_id": "uav-1", "time": "2026-11-20T10:00:00Z",
            "geometry": shapely.Point(21.17, 42.66), "marking": "UNCLASSIFIED"}
    return {**base, **kw}


def reason_of(frame: gpd.GeoDataFrame, layer="track_points") -> str | None:
    r = validate(frame, layer, source="test")
    assert len(r.valid) + len(r.quarantined) == len(frame)
    return None if r.quarantined.empty else r.quarantined["reason"].iloc[0]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (fix(), None),
        (fix(geometry=None), reasons.MISSING_GEOMETRY),
        (fix(geometry=shapely.Point()), reasons.EMPTY_GEOMETRY),
        (fix(geometry=shapely.Point(float("nan"), float("nan"))), reasons.NAN_COORDINATES),
        (fix(geometry=shapely.Point(200, 10)), reasons.COORDINATES_OUT_OF_RANGE),
        (fix(geometry=shapely.Point(42.66, 121.17)), reasons.SWAPPED_LAT_LON),
        (fix(geometry=shapely.LineString([(0, 0), (1, 1)])), reasons.WRONG_GEOMETRY_TYPE),
        (fix(time=None), reasons.MISSING_TIME),
        (fix(time="yesterday-ish"), reasons.UNPARSEABLE_TIME),
        (fix(time="2026-11-20 10:00:00"), reasons.NAIVE_TIME),
        (fix(source_id=""), reasons.MISSING_SOURCE_ID),
        (fix(track_id=None), reasons.MISSING_VALUE),
        (fix(speed_mps="fast"), reasons.BAD_VALUE),
        (fix(speed_mps=-3), reasons.BAD_VALUE),
    ],
)
def test_each_fault_has_its_own_reason(record, expected):
    assert reason_of(points([record])) == expected


def test_times_become_utc_from_any_offset_or_epoch():
    frame = points([
        fix(source_id="z", time="2026-11-20T10:00:00Z"),
        fix(source_id="offset", time="2026-11-20T12:00:00+02:00"),
        fix(source_id="epoch-ms", time="1795168800000"),
        fix(source_id="epoch-s", time=1795168800),
        fix(source_id="dt", time=pd.Timestamp("2026-11-20T05:00:00-05:00")),
    ])
    r = validate(frame, "track_points", source="test")
    assert r.quarantined.empty
    assert str(r.valid["time"].dtype) == TIME_DTYPE
    assert set(r.valid["time"]) == {pd.Timestamp("2026-11-20T10:00:00Z")}


def test_missing_and_unknown_crs_quarantine_every_row():
    assert reason_of(points([fix()], crs=None)) == reasons.MISSING_CRS
    projected = points([fix(geometry=shapely.Point(500000, 4723000))], crs="EPSG:32634")
    r = validate(projected, "track_points", source="test")
    assert r.quarantined.empty
    assert r.valid.geometry.iloc[0].x == pytest.approx(21.0, abs=1e-6)


def test_invalid_polygon_is_repaired_and_flagged_not_silently_changed():
    bowtie = shapely.from_wkt("POLYGON((0 0, 2 2, 2 0, 0 2, 0 0))")
    frame = gpd.GeoDataFrame({"source_id": ["b"], "country_code": ["XXX"], "name": ["Bowtie"]},
                             geometry=[bowtie], crs=4326)
    r = validate(frame, "borders", source="test")
    assert r.quarantined.empty and r.repaired == 1
    assert r.valid["geometry_fix"].iloc[0].startswith("make_valid")
    assert r.valid.geometry.iloc[0].is_valid
    assert r.valid.geometry.iloc[0].area == pytest.approx(2.0)


def test_closed_vocabularies_are_normalised_or_refused():
    base = {"occurred_at": "2026-11-20T10:00:00Z", "category": "Protests", "status": "Reported",
            "geometry": shapely.Point(21, 42)}
    frame = points([{**base, "source_id": "a", "severity": "HIGH"}, {**base, "source_id": "b", "severity": "dire"}])
    r = validate(frame, "incidents", source="test")
    assert r.valid["severity"].tolist() == ["high"] and r.valid["status"].tolist() == ["reported"]
    assert r.quarantined["reason"].tolist() == [reasons.BAD_VALUE]
    assert "expected one of low, medium, high, critical" in r.quarantined["detail"].iloc[0]


def test_quarantined_record_keeps_the_raw_record_and_names_it():
    r = validate(points([fix(source_id="bad-1", time="not a time")]), "track_points", source="feed-x")
    q = r.quarantined.iloc[0]
    assert (q["layer"], q["source"], q["source_id"]) == ("track_points", "feed-x", "bad-1")
    assert "not a time" in q["raw"] and "POINT (21.17 42.66)" in q["raw"]


def test_default_marking_fills_only_records_without_one():
    frame = points([fix(source_id="a", marking=None), fix(source_id="b", marking="UNCLASSIFIED//REL TO GBR")])
    r = validate(frame, "track_points", source="test", default_marking="UNCLASSIFIED//REL TO NATO")
    assert r.valid.set_index("source_id")["marking"].to_dict() == {
        "a": "UNCLASSIFIED//REL TO NATO", "b": "UNCLASSIFIED//REL TO GBR"}


def test_newest_duplicate_in_a_batch_wins():
    frame = points([fix(source_id="dup", time="2026-11-20T10:00:00Z", callsign="old"),
                    fix(source_id="dup", time="2026-11-20T10:00:05Z", callsign="new")])
    r = validate(frame, "track_points", source="test")
    assert r.valid["callsign"].tolist() == ["new"] and r.notes


def test_output_has_exactly_the_schema_columns():
    for layer in ("track_points", "incidents"):
        r = validate(points([fix()]), layer, source="t")
        assert list(r.valid.columns) == LAYERS[layer].column_names


def test_unknown_layer_and_non_frames_are_errors():
    with pytest.raises(UnknownLayerError, match="expected one of"):
        validate(points([fix()]), "submarines")
    with pytest.raises(SchemaError, match="expected a GeoDataFrame"):
        validate([1, 2], "incidents")
