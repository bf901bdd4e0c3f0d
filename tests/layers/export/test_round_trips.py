"""Every layer through every format and back (GDAL, pyarrow, the KML/CSV readers): values, geometries, times."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely

from layers.export import (
    export_view,
    selected_layers,
)
from layers.export import frames as export_frames
from layers.filters import DEFAULT_LAYERS, View
from tests.conftest import DEMO_NOW
from tests.support.exports import (
    ALL_SEEING,
    DATA_FORMATS,
    ID,
    NOW,
    PARIS,
    VIEW,
    XSS,
    export,
    ids,
    read_back,
    shapefile_columns,
)


def assert_layer_round_trips(fmt: str, layer: str, original: gpd.GeoDataFrame, back: pd.DataFrame,
                             fixes: gpd.GeoDataFrame | None = None) -> None:
    if fmt == "shp":
        back = back.rename(columns=shapefile_columns(original))
    assert len(back) == len(original), (fmt, layer)
    assert ids(layer, back) == ids(layer, original), (fmt, layer)
    key = list(ID.get(layer, ("source", "source_id")))
    o = original.assign(_k=["|".join(map(str, r)) for r in original[key].itertuples(index=False)]).set_index("_k")
    b = back.assign(_k=["|".join(map(str, r)) for r in back[key].itertuples(index=False)]).set_index("_k")
    # coordinates, lon/lat order, within 1e-7 degrees
    for k in o.index:
        want, got = o.loc[k, "geometry"], b.loc[k, "geometry"]
        if fmt in ("kml", "kmz") and layer == "tracks" and fixes is not None:
            pts = fixes[fixes["track_id"] == o.loc[k, "track_id"]].sort_values("time")
            want = shapely.LineString(shapely.get_coordinates(pts.geometry.values)) if len(pts) > 1 \
                else pts.geometry.iloc[0]
            got = shapely.force_2d(got)
            if got.geom_type == "LineString" and want.geom_type == "Point":
                got = shapely.Point(got.coords[0])
        assert shapely.hausdorff_distance(shapely.force_2d(got), want) <= 1e-7, (fmt, layer, k, got.wkt[:80], want.wkt[:80])
    # times, in UTC. Where GDAL parses them into its DateTime (GeoPackage fields; GeoJSON strings it
    # recognises) it keeps milliseconds; the file itself has the microseconds (see the GeoJSON test).
    tolerance = pd.Timedelta(milliseconds=1) if fmt in ("gpkg", "geojson") else pd.Timedelta(0)
    for col in [c for c in original.columns if export_frames.is_time(original[c])]:
        if col not in b:  # KML leaves empty values out: a column empty everywhere is not there at all
            assert fmt in ("kml", "kmz") and o[col].isna().all(), (fmt, layer, col)
            continue
        got = pd.to_datetime(b[col].replace("", None), utc=True, format="ISO8601")
        want = o[col]
        for kk in o.index:
            w, g = want.loc[kk], got.loc[kk]
            if pd.isna(w):
                assert pd.isna(g), (fmt, layer, col, kk)
            else:
                assert abs(g - w) <= tolerance, (fmt, layer, col, kk, g, w)
    if "marking" in original:
        for kk in o.index:
            assert b.loc[kk, "marking"] == o.loc[kk, "marking"], (fmt, layer, kk)


@pytest.mark.parametrize("small_chunks", [False, True], ids=["one-chunk", "many-chunks"])
@pytest.mark.parametrize("fmt", DATA_FORMATS)
def test_every_layer_round_trips_in_every_format(picture, fixes, fmt, small_chunks, tmp_path, monkeypatch):
    if small_chunks:  # every streaming path: appends, row groups, chunk joins
        monkeypatch.setattr(export_frames, "CHUNK_ROWS", 2)
    result = export(picture, fmt=fmt, tmp_path=tmp_path, track_points=fixes)
    shown = selected_layers(picture, VIEW, NOW, fixes)
    assert set(shown) == {*DEFAULT_LAYERS, "track_points"}
    non_empty = [n for n, f in shown.items() if len(f)]
    back = read_back(fmt, result.path, non_empty)
    for layer in non_empty:
        if layer in back:
            assert_layer_round_trips(fmt, layer, shown[layer], back[layer], fixes=shown["track_points"])
    assert result.counts == {n: len(f) for n, f in shown.items()}


@pytest.mark.parametrize("fmt", DATA_FORMATS)
def test_paris_stays_at_lon_2_35_lat_48_85(picture, fmt, tmp_path):
    view = View(window="24h", layers=("incidents",))
    result = export(picture, view, fmt=fmt, tmp_path=tmp_path)
    back = read_back(fmt, result.path, ["incidents"])["incidents"]
    sid = "source_id"
    paris = back[back[sid] == "INC-PARIS"].geometry.iloc[0]
    assert abs(paris.x - PARIS[0]) <= 1e-7 and abs(paris.y - PARIS[1]) <= 1e-7, (fmt, paris.wkt)


def test_geojson_is_rfc7946(picture, tmp_path):
    result = export(picture, View(window="24h", layers=("incidents",)), fmt="geojson", tmp_path=tmp_path)
    assert result.path.suffix == ".geojson" and result.mime == "application/geo+json"
    doc = json.loads(result.path.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    paris = next(f for f in doc["features"] if f["properties"]["source_id"] == "INC-PARIS")
    assert paris["geometry"] == {"type": "Point", "coordinates": [2.35, 48.85]}
    assert paris["properties"]["occurred_at"] == "2026-11-21T11:30:00.123456Z"
    assert paris["properties"]["description"] == XSS  # data, not markup: GeoJSON readers show text
    # polygons: exterior rings counterclockwise (RFC 7946 3.1.6), at most 7 decimals
    result = export(picture, View(window="24h", layers=("infrastructure",)), fmt="geojson", tmp_path=tmp_path)
    text = result.path.read_text(encoding="utf-8")
    zone = next(f for f in json.loads(text)["features"] if f["properties"]["source_id"] == "ZONE")
    ring = shapely.LinearRing(zone["geometry"]["coordinates"][0])
    assert ring.is_ccw
    assert not re.search(r"\d\.\d{8,}", text.split('"features"', 1)[1])


def test_geopackage_keeps_one_table_per_layer(picture, fixes, tmp_path):
    result = export(picture, fmt="gpkg", tmp_path=tmp_path, track_points=fixes)
    tables = dict(pyogrio.list_layers(result.path))
    assert set(tables) == {n for n, c in result.counts.items() if c} | {"watchfloor_provenance"}
    assert tables["incidents"] == "Point" and tables["imagery"] == "Polygon"


def test_parquet_keeps_the_second_geometry_and_exact_times(picture, tmp_path):
    result = export(picture, View(window="24h", layers=("deployments",)), fmt="parquet", tmp_path=tmp_path)
    back = gpd.read_parquet(result.path)
    gbr = back[back["source_id"] == "GBR-1"].iloc[0]
    assert isinstance(back["area"].dtype, gpd.array.GeometryDtype)
    assert gbr["area"].equals(picture["deployments"].set_index("source_id").loc["GBR-1", "area"])
    geo = json.loads(pq.read_schema(result.path).metadata[b"geo"])
    assert geo["columns"]["geometry"]["bbox"] == pytest.approx([2.3, 42.65, 21.15, 48.8])


def test_demo_picture_exports_every_layer(demo_home, tmp_path):
    """The loaded demo (real volumes, real feed text) through every data format: same ids and counts."""
    from ingest.store.delta import DeltaStore
    from layers.picture import Window, load_picture, operational_bounds

    store = DeltaStore(demo_home / "store")
    view = View(window="24h", layers=tuple(l for l in DEFAULT_LAYERS if l != "alerts"))
    start, end = view.span(DEMO_NOW)
    picture = load_picture(store, Window(start, end), operational_bounds(store))
    points = store.read("track_points", start=start, end=end)
    shown = selected_layers(picture, view, DEMO_NOW, points)
    for fmt in DATA_FORMATS:
        result = export_view(picture, view, viewer=ALL_SEEING, fmt=fmt, out=tmp_path, now=DEMO_NOW,
                             track_points=points)
        non_empty = [n for n, f in shown.items() if len(f)]
        back = read_back(fmt, result.path, non_empty)
        for layer, frame in back.items():
            if fmt == "shp":
                frame = frame.rename(columns=shapefile_columns(shown[layer]))
            assert ids(layer, frame) == ids(layer, shown[layer]), (fmt, layer)
        assert "UNMARKED" not in result.marking  # the demo marks every record
