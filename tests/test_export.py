"""Exports: exactly what is on screen, in every format, read back by the tools analysts use.

Small real data: every layer is built from hand-made rows through `ingest.validate.validate`
(tracks derived from their fixes as at ingest), with a point at Paris (2.35, 48.85) to catch axis
swaps, microsecond times, varied markings, and feed text that tries formula and script injection.
Every file is read back with GDAL (pyogrio; zips through /vsizip/, KML through LIBKML and the plain
KML driver) or the format's own reader (pyarrow for GeoParquet, csv for CSV).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import defusedxml.ElementTree as DET
import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely

from ingest.markings import UNMARKED, highest_marking
from ingest.store.base import ALERT_COLUMNS
from ingest.tracks import derive_tracks
from ingest.validate import validate
from layers import style
from layers.access import Viewer
from layers.export import (
    FORMATS,
    ExportError,
    add_export_arguments,
    export_bytes,
    export_command,
    export_view,
    selected_layers,
    shapefile_field_names,
)
from layers.export import frames as export_frames
from layers.export.html_snapshot import remote_asset_references
from layers.export.kml import kml_colour
from layers.export.provenance import marking_slug
from layers.filters import DEFAULT_LAYERS, View, apply_view

from .conftest import DEMO_NOW

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PARIS = (2.35, 48.85)
DATA_FORMATS = ("geojson", "gpkg", "kml", "kmz", "csv", "parquet", "shp")
ALL_FORMATS = (*DATA_FORMATS, "html", "png")
XSS = '<img src=x onerror="alert(1)"></script><script>alert(2)</script>'
KML_NS = {"k": "http://www.opengis.net/kml/2.2", "gx": "http://www.google.com/kml/ext/2.2"}
# Every record here is releasable to GBR (the demo's too), and an administrator also sees unmarked
# ones: this viewer sees the whole picture, so these tests are about formats, not releasability
# (tests/test_export_access.py is).
ALL_SEEING = Viewer("exporter", "GBR", "TOP SECRET", "administrator")
# The 32 NATO members in the order a marking lists them (alphabetical), as written for REL TO NATO.
NATO_LIST = ("ALB, BEL, BGR, CAN, CZE, DEU, DNK, ESP, EST, FIN, FRA, GBR, GRC, HRV, HUN, ISL, ITA, LTU, LUX, "
             "LVA, MKD, MNE, NLD, NOR, POL, PRT, ROU, SVK, SVN, SWE, TUR, USA")


def _valid(layer: str, rows: list[dict], *, source: str = "test", marking: str | None = None,
           geometry: str = "geometry") -> gpd.GeoDataFrame:
    geoms = [r.pop(geometry) for r in rows]
    frame = gpd.GeoDataFrame(rows, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
    result = validate(frame, layer, source=source, default_marking=marking, now=NOW)
    assert result.quarantined.empty, result.quarantined[["source_id", "reason", "detail"]].to_string()
    return result.valid


def box(x0, y0, x1, y1):
    return shapely.box(x0, y0, x1, y1)


def make_fixes() -> gpd.GeoDataFrame:
    rows = []
    for i in range(5):  # a drone flying north-east from Pristina, one fix a minute
        rows.append({"source_id": f"T1-{i}", "track_id": "T1", "time": (NOW - timedelta(minutes=30 - i)).isoformat(),
                     "geometry": shapely.Point(21.1 + i * 0.01, 42.6 + i * 0.005), "altitude_m": -12.5 + i,
                     "speed_mps": 20.0, "heading_deg": 60.0, "callsign": "EAGLE 1",
                     "marking": "UNCLASSIFIED//REL TO NATO"})
    rows.append({"source_id": "T2-0", "track_id": "T2", "time": (NOW - timedelta(hours=2)).isoformat(),
                 "geometry": shapely.Point(*PARIS), "callsign": "PARIS", "marking": "RESTRICTED//REL TO FRA, GBR"})
    rows.append({"source_id": "T3-0", "track_id": "T3", "time": (NOW - timedelta(days=3)).isoformat(),
                 "geometry": shapely.Point(20.5, 42.1), "callsign": "OLD", "marking": "UNCLASSIFIED"})
    return _valid("track_points", rows, source="demo-cot")


def make_picture() -> dict[str, gpd.GeoDataFrame]:
    incidents = _valid("incidents", [
        {"source_id": "INC-PARIS", "occurred_at": "2026-11-21T11:30:00.123456Z", "category": "Flood",
         "severity": "high", "status": "verified", "title": '=HYPERLINK("http://evil.example","click")',
         "description": XSS, "actors": "+SUM(A1)", "location_name": "-2+3", "subcategory": "@cmd",
         "fatalities": 3, "geometry": shapely.Point(*PARIS), "marking": "UNCLASSIFIED//REL TO NATO"},
        {"source_id": "INC-KOS", "occurred_at": "2026-11-21T09:00:00Z", "category": "Armed clash",
         "severity": "critical", "status": "reported", "title": "Clash & fire <b>near</b> Pristina",
         "description": "Line 1\nLine 2 \x01 control", "fatalities": 0, "geometry": shapely.Point(21.17, 42.66),
         "marking": "UNCLASSIFIED//REL TO USA, GBR, FRA"},
        {"source_id": "INC-LOW", "occurred_at": "2026-11-21T10:00:00Z", "category": "Protest",
         "severity": "low", "status": "reported", "title": "Protest", "geometry": shapely.Point(20.9, 42.4),
         "marking": "UNCLASSIFIED"},
        {"source_id": "INC-OLD", "occurred_at": "2026-11-18T10:00:00Z", "category": "Flood",
         "severity": "high", "status": "closed", "title": "Old flood", "geometry": shapely.Point(21.0, 42.5),
         "marking": "UNCLASSIFIED"},
        {"source_id": "INC-FAR", "occurred_at": "2026-11-21T11:00:00Z", "category": "Flood",
         "severity": "critical", "status": "verified", "title": "Far away", "geometry": shapely.Point(-70.5, -33.4),
         "marking": "UNCLASSIFIED"},
    ], source="demo-incidents")
    # Feed text with leading tab / carriage return (validate strips them; a store written by
    # another path might not), to exercise the CSV guard on every trigger character.
    incidents["title"] = incidents["title"].astype(object)
    incidents.loc[incidents["source_id"] == "INC-LOW", "title"] = "\tcmd|' /C calc'!A0"
    incidents.loc[incidents["source_id"] == "INC-LOW", "location_name"] = "\r=1+1"
    incidents["title"] = incidents["title"].astype("string")
    incidents["location_name"] = incidents["location_name"].astype("string")

    fixes = make_fixes()
    tracks = validate(derive_tracks(fixes), "tracks", now=NOW).valid
    imagery = _valid("imagery", [
        {"source_id": "S2A_1", "acquired_at": "2026-11-21T09:45:00Z", "platform": "sentinel-2a",
         "cloud_cover": 12.5, "gsd": 10.0, "geometry": box(20.5, 42.0, 21.5, 43.0), "marking": "UNCLASSIFIED"},
        {"source_id": "S2B_OLD", "acquired_at": "2026-11-15T09:45:00Z", "platform": "sentinel-2b",
         "cloud_cover": 80.0, "geometry": box(20.6, 42.1, 21.6, 43.1), "marking": "UNCLASSIFIED"},
    ], source="demo-stac")
    area = shapely.Polygon([(21.0, 42.5), (21.3, 42.5), (21.3, 42.8), (21.0, 42.8)])
    deployments = _valid("deployments", [
        {"source_id": "GBR-1", "nation": "GBR", "unit_name": "1 Rifles", "unit_type": "infantry",
         "echelon": "battalion", "strength": 650, "reported_at": "2026-11-20T06:00:00Z",
         "geometry": shapely.Point(21.15, 42.65), "area": area, "marking": "UNCLASSIFIED//REL TO NATO"},
        {"source_id": "FRA-1", "nation": "FRA", "unit_name": "Escadron", "reported_at": "2026-11-19T06:00:00Z",
         "geometry": shapely.Point(2.3, 48.8), "marking": "UNCLASSIFIED//REL TO NATO"},
    ], source="demo-deploy")
    borders = _valid("borders", [
        {"source_id": "XKX", "country_code": "XKX", "name": "Kosovo",
         "geometry": shapely.MultiPolygon([box(20.0, 41.8, 21.8, 43.3)])},
        {"source_id": "FRA", "country_code": "FRA", "name": "France",
         "geometry": shapely.MultiPolygon([box(-4.8, 42.3, 8.2, 51.1), box(8.5, 41.3, 9.6, 43.0)])},
    ], source="reference", marking="UNCLASSIFIED")
    disputed = _valid("disputed_areas", [
        {"source_id": "D1", "name": "Zone", "claimants": "SRB,XKX", "note": "demo",
         "geometry": shapely.MultiPolygon([box(20.9, 42.8, 21.2, 43.1)])},
    ], source="reference", marking="UNCLASSIFIED")
    hole = shapely.Polygon([(20.0, 42.0), (20.2, 42.0), (20.2, 42.2), (20.0, 42.2)],
                           [[(20.05, 42.05), (20.1, 42.05), (20.1, 42.1), (20.05, 42.1)]])
    infrastructure = _valid("infrastructure", [
        {"source_id": "PRN", "kind": "airport", "name": "Pristina Airport", "code": "BKPR",
         "geometry": shapely.Point(21.0356, 42.5728)},
        {"source_id": "ZONE", "kind": "restricted_zone", "name": "Range", "geometry": hole},
    ], source="reference", marking="UNCLASSIFIED")
    places = _valid("places", [
        {"source_id": "PAR", "name": "Paris", "population": 2_100_000, "geometry": shapely.Point(*PARIS)},
        {"source_id": "PRI", "name": "Pristina", "population": 200_000, "geometry": shapely.Point(21.166, 42.667)},
    ], source="reference", marking="UNCLASSIFIED")
    alerts = gpd.GeoDataFrame({
        "key": ["proximity|INC-KOS", "stale|T1"], "rule": ["proximity", "stale_track"],
        "severity": ["critical", "low"],
        "time": pd.to_datetime(["2026-11-21T11:00:00Z", "2026-11-21T11:50:00.5Z"], utc=True, format="ISO8601").astype("datetime64[us, UTC]"),
        "subjects": ['["incidents/demo-incidents/INC-KOS"]', '["tracks/derived/T1"]'],
        "message": ["Incident near GBR-1", "Track T1 stale"], "details": ["{}", '{"age_s": 300}'],
        "first_seen": pd.to_datetime(["2026-11-21T11:01:00Z"] * 2, utc=True).astype("datetime64[us, UTC]"),
        "last_seen": pd.to_datetime(["2026-11-21T11:59:00Z"] * 2, utc=True).astype("datetime64[us, UTC]"),
        "state": ["open", "acknowledged"], "acknowledged_by": [None, "ops"],
        "acknowledged_at": pd.to_datetime([None, "2026-11-21T11:55:00Z"], utc=True).astype("datetime64[us, UTC]"),
    }, geometry=[shapely.Point(21.17, 42.66), shapely.Point(21.14, 42.62)], crs=4326)
    for c in ("key", "rule", "severity", "subjects", "message", "details", "state", "acknowledged_by"):
        alerts[c] = alerts[c].astype("string")
    assert list(alerts.columns) == ALERT_COLUMNS
    return {"incidents": incidents, "tracks": tracks, "imagery": imagery, "deployments": deployments,
            "borders": borders, "disputed_areas": disputed, "infrastructure": infrastructure, "places": places,
            "alerts": alerts}


@pytest.fixture(scope="module")
def picture() -> dict[str, gpd.GeoDataFrame]:
    return make_picture()


@pytest.fixture(scope="module")
def fixes() -> gpd.GeoDataFrame:
    return make_fixes()


VIEW = View(window="24h")
# Everything but alerts (the record layers only).
MARKED_VIEW = View(window="24h", layers=tuple(l for l in DEFAULT_LAYERS if l != "alerts"))


# --- reading exports back ------------------------------------------------------------------------

ID = {"alerts": ("key",)}


def ids(layer: str, frame: pd.DataFrame) -> list[tuple]:
    cols = ID.get(layer, ("source", "source_id"))
    return sorted(tuple(str(v) for v in row) for row in frame[list(cols)].itertuples(index=False))


def _gdal(path: str, layer: str | None = None, **kw) -> gpd.GeoDataFrame:
    return pyogrio.read_dataframe(path, layer=layer, datetime_as_string=True, **kw)


def read_back(fmt: str, path: Path, layers: list[str]) -> dict[str, pd.DataFrame]:
    """Each layer of an export as a frame with the original column names."""
    out: dict[str, pd.DataFrame] = {}
    zipped = zipfile.is_zipfile(path)
    for layer in layers:
        if fmt == "geojson":
            out[layer] = _gdal(f"/vsizip/{path}/{layer}.geojson" if zipped else str(path))
        elif fmt == "gpkg":
            out[layer] = _gdal(str(path), layer)
        elif fmt in ("kml", "kmz"):
            if layer == "track_points":
                continue  # carried inside the tracks' gx:Track
            f = _gdal(str(path), layer)
            if "description2" in f:  # LIBKML names the record's own description so
                f = f.drop(columns=["description"]).rename(columns={"description2": "description"})
            out[layer] = f
        elif fmt == "csv":
            f = _gdal(f"/vsizip/{path}/{layer}.csv" if zipped else str(path), GEOM_POSSIBLE_NAMES="wkt",
                      KEEP_GEOM_COLUMNS="NO")
            out[layer] = f
        elif fmt == "parquet":
            if zipped:
                with zipfile.ZipFile(path) as zf:
                    out[layer] = gpd.read_parquet(io.BytesIO(zf.read(f"{layer}.parquet")))
            else:
                out[layer] = gpd.read_parquet(path)
        elif fmt == "shp":
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if n.startswith(f"{layer}_") and n.endswith(".shp")
                         and not n.startswith(f"{layer}_area")]
            parts = [_gdal(f"/vsizip/{path}/{n}") for n in sorted(names)]
            f = pd.concat(parts, ignore_index=True)
            out[layer] = f
        else:
            raise AssertionError(fmt)
    return out


def shapefile_columns(original: gpd.GeoDataFrame) -> dict[str, str]:
    cols = [c for c in original.columns if c != "geometry" and not isinstance(original[c].dtype, gpd.array.GeometryDtype)]
    return {short: col for col, short in shapefile_field_names(cols).items()}


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


def export(picture, view=VIEW, fmt="gpkg", tmp_path=None, viewer=ALL_SEEING, **kw):
    return export_view(picture, view, viewer=viewer, fmt=fmt, out=tmp_path, now=NOW, **kw)


# --- round trips ---------------------------------------------------------------------------------


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


# --- exactly what is on screen -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", DATA_FORMATS)
def test_filtered_export_holds_exactly_what_apply_view_selects(picture, fixes, fmt, tmp_path):
    aoi = "POLYGON ((20 41.5, 22 41.5, 22 43.5, 20 43.5, 20 41.5))"
    view = View(window="6h", severities=("high", "critical"), aoi_wkt=aoi,
                layers=("incidents", "tracks", "imagery", "deployments"))
    result = export(picture, view, fmt=fmt, tmp_path=tmp_path, track_points=fixes)
    on_screen = apply_view(picture, view, NOW)
    # The one incident left: critical, in the 6 h window, inside the area (not Paris, not Chile,
    # not the low one, not the old one).
    assert ids("incidents", on_screen["incidents"]) == [("demo-incidents", "INC-KOS")]
    back = read_back(fmt, result.path, [n for n in view.layers if len(on_screen[n])])
    for layer in view.layers:
        if len(on_screen[layer]) == 0:
            assert result.counts[layer] == 0
            continue
        assert ids(layer, back[layer] if fmt != "shp" else back[layer].rename(
            columns=shapefile_columns(on_screen[layer]))) == ids(layer, on_screen[layer]), (fmt, layer)
    # nothing the view does not show: no other layer, no fixes of other tracks or outside the window
    assert set(result.counts) == {*view.layers, "track_points"}
    shown_points = selected_layers(picture, view, NOW, fixes)["track_points"]
    assert set(shown_points["track_id"]) <= set(on_screen["tracks"]["track_id"])
    assert (shown_points["time"] >= NOW - timedelta(hours=6)).all()


def test_nothing_on_screen_is_an_error_not_an_empty_file(picture, tmp_path):
    view = View(window="1h", severities=("medium",), layers=("incidents",))
    with pytest.raises(ExportError, match="nothing to export"):
        export(picture, view, fmt="gpkg", tmp_path=tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ExportError, match="does not exist"):
        export(picture, fmt="gpkg", tmp_path=tmp_path / "missing" / "x.gpkg")
    with pytest.raises(ExportError, match="unknown export format"):
        export(picture, fmt="docx", tmp_path=tmp_path)


# --- KML -----------------------------------------------------------------------------------------


def test_kml_opens_with_gdals_kml_driver(picture, fixes, tmp_path):
    """The plain KML driver (not LIBKML): what older tools and GDAL builds without libkml read."""
    result = export(picture, MARKED_VIEW, fmt="kml", tmp_path=tmp_path, track_points=fixes)
    script = (
        "import json, sys, pyogrio\n"
        "p = sys.argv[1]\n"
        "info = pyogrio.read_info(p, layer='incidents')\n"
        "out = {'driver': info['driver'], 'layers': {}}\n"
        "for name in pyogrio.list_layers(p)[:, 0]:\n"
        "    f = pyogrio.read_dataframe(p, layer=name)\n"
        "    out['layers'][name] = [[g.geom_type, g.representative_point().x, g.representative_point().y, n]\n"
        "                           for g, n in zip(f.geometry, f['Name'])]\n"
        "print(json.dumps(out))\n")
    env = {**os.environ, "OGR_SKIP": "LIBKML"}
    run = subprocess.run([sys.executable, "-c", script, str(result.path)], env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert got["driver"] == "KML"
    shown = selected_layers(picture, MARKED_VIEW, NOW, fixes)
    for layer in ("incidents", "imagery", "deployments", "infrastructure", "places", "borders", "disputed_areas"):
        assert len(got["layers"][layer]) == len(shown[layer]), layer
    # gx:Track is beyond the KML driver; the paths folder gives it the tracks all the same
    assert len(got["layers"]["tracks_path"]) == len(shown["tracks"])
    paris = [r for r in got["layers"]["incidents"] if r[0] == "Point" and abs(r[1] - 2.35) < 1e-9]
    assert paris and abs(paris[0][2] - 48.85) < 1e-9


def test_kml_is_styled_timed_and_escaped(picture, fixes, tmp_path):
    result = export(picture, MARKED_VIEW, fmt="kml", tmp_path=tmp_path, track_points=fixes)
    raw = result.path.read_text(encoding="utf-8")
    root = DET.fromstring(raw.encode("utf-8"))  # well-formed, no entities
    doc = root.find("k:Document", KML_NS)
    # styles from layers/style.py, KML's aabbggrr
    styles = {s.get("id"): s for s in doc.findall("k:Style", KML_NS)}
    for sev, rgba in style.SEVERITY.items():
        assert styles[f"incidents-{sev}"].find("k:IconStyle/k:color", KML_NS).text == kml_colour(rgba)
    assert kml_colour([235, 50, 40, 230]) == "e62832eb"
    folders = {f.find("k:name", KML_NS).text: f for f in doc.findall("k:Folder", KML_NS)}
    paris = next(p for p in folders["incidents"].findall("k:Placemark", KML_NS)
                 if "INC-PARIS" in DET.tostring(p, encoding="unicode"))
    assert paris.find("k:styleUrl", KML_NS).text == "#incidents-high"
    assert paris.find("k:TimeStamp/k:when", KML_NS).text == "2026-11-21T11:30:00.123456Z"
    assert paris.find("k:Point/k:coordinates", KML_NS).text == "2.35,48.85"
    # imagery has a TimeStamp too; each track is a gx:Track, one <when> per fix in the window
    scene = folders["imagery"].find("k:Placemark", KML_NS)
    assert scene.find("k:TimeStamp/k:when", KML_NS).text == "2026-11-21T09:45:00Z"
    tracks = folders["tracks"].findall("k:Placemark", KML_NS)
    t1 = next(p for p in tracks if p.find("k:name", KML_NS).text == "EAGLE 1")
    gx = t1.find("gx:Track", KML_NS)
    whens = [w.text for w in gx.findall("k:when", KML_NS)]
    coords = [c.text for c in gx.findall("gx:coord", KML_NS)]
    assert len(whens) == len(coords) == 5 and whens == sorted(whens)
    assert coords[0] == "21.1 42.6 -12.5"
    # feed text is escaped twice in the balloon (HTML inside XML), so no live markup reaches Google Earth
    balloon = paris.find("k:description", KML_NS).text
    assert "<img" not in balloon and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in balloon
    assert "<img" not in raw.replace("&lt;img", "")
    data = {d.get("name"): d.find("k:value", KML_NS).text for d in paris.findall("k:ExtendedData/k:Data", KML_NS)}
    assert data["description"] == XSS and data["marking"] == "UNCLASSIFIED//REL TO NATO"
    assert "\x01" not in raw  # XML 1.0 cannot carry control characters: removed


def test_kml_tracks_without_fixes_take_times_from_the_path(picture, tmp_path):
    result = export(picture, View(window="24h", layers=("tracks",)), fmt="kml", tmp_path=tmp_path)
    root = DET.fromstring(result.path.read_bytes())
    track = next(p for p in root.iter(f"{{{KML_NS['k']}}}Placemark")
                 if p.find("k:name", KML_NS).text == "EAGLE 1" and p.find("gx:Track", KML_NS) is not None)
    whens = [w.text for w in track.find("gx:Track", KML_NS).findall("k:when", KML_NS)]
    first, last = picture["tracks"].set_index("track_id").loc["T1", ["first_seen", "last_seen"]]
    assert pd.Timestamp(whens[0]) == first and pd.Timestamp(whens[-1]) == last and len(whens) == 5


def test_kmz_holds_doc_kml_first_and_its_icon(picture, tmp_path):
    result = export(picture, MARKED_VIEW, fmt="kmz", tmp_path=tmp_path)
    with zipfile.ZipFile(result.path) as zf:
        names = zf.namelist()
        assert names[0] == "doc.kml" and "files/dot.png" in names
        assert zf.read("files/dot.png").startswith(b"\x89PNG")
        assert all(i.file_size < 2**31 for i in zf.infolist())


# --- CSV -----------------------------------------------------------------------------------------


def _csv_rows(path: Path, layer: str) -> list[dict[str, str]]:
    with zipfile.ZipFile(path) as zf:
        text = zf.read(f"{layer}.csv").decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_neutralises_formulas_and_keeps_numbers_numeric(picture, fixes, tmp_path):
    result = export(picture, VIEW, fmt="csv", tmp_path=tmp_path, track_points=fixes)
    rows = {r["source_id"]: r for r in _csv_rows(result.path, "incidents")}
    paris, low = rows["INC-PARIS"], rows["INC-LOW"]
    assert paris["title"] == '\'=HYPERLINK("http://evil.example","click")'  # =
    assert paris["actors"] == "'+SUM(A1)"  # +
    assert paris["location_name"] == "'-2+3"  # -
    assert paris["subcategory"] == "'@cmd"  # @
    assert low["title"] == "'\tcmd|' /C calc'!A0"  # tab
    assert low["location_name"] == "'\r=1+1"  # carriage return
    assert rows["INC-KOS"]["title"] == "Clash & fire <b>near</b> Pristina"  # harmless text unchanged
    # numbers stay numbers: no apostrophe, negative values included
    assert paris["fatalities"] == "3"
    fix_rows = _csv_rows(result.path, "track_points")
    assert {r["altitude_m"] for r in fix_rows if r["track_id"] == "T1"} >= {"-12.5", "-11.5"}
    assert all(not r["altitude_m"].startswith("'") for r in fix_rows)
    assert paris["occurred_at"] == "2026-11-21T11:30:00.123456Z" and paris["wkt"] == "POINT (2.35 48.85)"
    # pandas reads the numeric columns as numbers
    with zipfile.ZipFile(result.path) as zf:
        df = pd.read_csv(io.BytesIO(zf.read("track_points.csv")), encoding="utf-8-sig")
    assert pd.api.types.is_float_dtype(df["altitude_m"]) and df["altitude_m"].min() == -12.5


def test_csv_lon_lat_columns(picture, tmp_path):
    result = export_view(picture, View(window="24h", layers=("incidents", "infrastructure")), viewer=ALL_SEEING,
                         fmt="csv", out=tmp_path, now=NOW, csv_geometry="lonlat")
    inc = {r["source_id"]: r for r in _csv_rows(result.path, "incidents")}
    assert (inc["INC-PARIS"]["lon"], inc["INC-PARIS"]["lat"]) == ("2.35", "48.85")
    assert "wkt" not in inc["INC-PARIS"]
    infra = {r["source_id"]: r for r in _csv_rows(result.path, "infrastructure")}
    assert infra["ZONE"]["wkt"].startswith("POLYGON") and infra["ZONE"]["lon"]  # nothing lost for areas


# --- Shapefile -----------------------------------------------------------------------------------


def test_shapefile_field_names_are_short_unique_and_deterministic():
    cols = ["source_id", "description", "description_long", "Description_x", "last_heading_deg",
            "ünïcode name", "1st", "a" * 30, "a" * 30 + "b", "a" * 8 + "_1"]
    names = shapefile_field_names(cols)
    assert names == shapefile_field_names(list(cols))  # same input, same output
    assert all(len(n) <= 10 for n in names.values())
    assert len({n.lower() for n in names.values()}) == len(cols)
    assert names["description"] == "descr" and names["last_heading_deg"] == "last_hdg"
    assert names["description_long"] == "descriptio" and names["Description_x"] == "Descript_1"
    assert names["1st"] == "f1st" and names["a" * 30] == "aaaaaaaaaa" and names["a" * 30 + "b"] == "aaaaaaaa_1"
    assert names["a" * 8 + "_1"] == "aaaaaaaa_2"


def test_shapefile_zip_documents_its_field_names(picture, tmp_path):
    result = export(picture, VIEW, fmt="shp", tmp_path=tmp_path)
    with zipfile.ZipFile(result.path) as zf:
        names = zf.namelist()
        fields = zf.read("FIELDS.txt").decode()
    # one shapefile per layer and geometry type, always suffixed; the second geometry apart
    assert {"incidents_point.shp", "infrastructure_point.shp", "infrastructure_polygon.shp",
            "deployments_point.shp", "deployments_area_polygon.shp", "tracks_line.shp",
            "tracks_point.shp"} <= set(names)
    for part in (".shx", ".dbf", ".prj", ".cpg"):
        assert f"incidents_point{part}" in names
    assert "occurred    <-  occurred_at" in fields and "descr       <-  description" in fields
    dbf_fields = pyogrio.read_info(f"/vsizip/{result.path}/incidents_point.shp")["fields"]
    mapping = shapefile_field_names([c for c in picture["incidents"].columns if c != "geometry"])
    assert list(dbf_fields) == list(mapping.values())
    assert "ingested_at" in fields and "FIELDS" not in fields.splitlines()[0]


# --- all or nothing ------------------------------------------------------------------------------


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_writer_failing_midway_leaves_no_file(picture, tmp_path, monkeypatch):
    from layers.export import api

    def boom(job, path):
        path.write_bytes(b"half a file" * 1000)
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(api.FORMATS, "gpkg", replace(api.FORMATS["gpkg"], writer=boom))
    with pytest.raises(RuntimeError, match="disk on fire"):
        export(picture, fmt="gpkg", tmp_path=tmp_path)
    assert _leftovers(tmp_path) == []


def test_gdal_failing_on_a_later_layer_leaves_no_geopackage(picture, tmp_path, monkeypatch):
    from layers.export import geopackage

    real = geopackage.pyogrio.write_dataframe
    calls = []

    def flaky(frame, path, **kw):
        calls.append(kw.get("layer"))
        if len(calls) == 3:
            raise pyogrio.errors.DataSourceError("simulated GDAL failure")
        return real(frame, path, **kw)

    monkeypatch.setattr(geopackage.pyogrio, "write_dataframe", flaky)
    dest = tmp_path / "out.gpkg"
    dest.write_bytes(b"the previous export")
    with pytest.raises(pyogrio.errors.DataSourceError):
        export(picture, fmt="gpkg", tmp_path=dest)
    assert dest.read_bytes() == b"the previous export"  # previous state intact
    assert _leftovers(tmp_path) == ["out.gpkg"]


def test_an_unserialisable_value_midway_leaves_no_geojson(picture, tmp_path, monkeypatch):
    class Unprintable:
        def __str__(self):
            raise ValueError("cannot serialise this value")

    monkeypatch.setattr(export_frames, "CHUNK_ROWS", 1)  # the bad row comes after rows already written
    incidents = picture["incidents"].copy()
    incidents["extra"] = pd.Series([None, None, Unprintable(), None, None], index=incidents.index, dtype=object)
    with pytest.raises(ValueError, match="cannot serialise"):
        export({**picture, "incidents": incidents}, View(window="7d", layers=("incidents",)), fmt="geojson",
               tmp_path=tmp_path)
    assert _leftovers(tmp_path) == []


# --- provenance ----------------------------------------------------------------------------------


def _provenance(fmt: str, path: Path) -> dict | str:
    if fmt == "geojson":
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                return json.loads(zf.read("incidents.geojson"))["watchfloor"]
        return json.loads(path.read_text(encoding="utf-8"))["watchfloor"]
    if fmt == "gpkg":
        return json.loads(pyogrio.read_info(path, layer="incidents")["dataset_metadata"]["watchfloor"])
    if fmt == "parquet":
        with zipfile.ZipFile(path) as zf:
            return json.loads(pq.read_schema(io.BytesIO(zf.read("incidents.parquet"))).metadata[b"watchfloor"])
    if fmt in ("kml", "kmz"):
        raw = zipfile.ZipFile(path).read("doc.kml") if fmt == "kmz" else path.read_bytes()
        doc = DET.fromstring(raw).find("k:Document", KML_NS)
        data = {d.get("name"): d.find("k:value", KML_NS).text for d in doc.findall("k:ExtendedData/k:Data", KML_NS)}
        assert doc.find("k:description", KML_NS).text.startswith("Marking: ")
        return json.loads(data["watchfloor:provenance"])
    if fmt in ("csv", "shp"):
        with zipfile.ZipFile(path) as zf:
            return zf.read("PROVENANCE.txt").decode()
    if fmt == "html":
        return path.read_text(encoding="utf-8")
    if fmt == "png":
        from PIL import Image

        return json.loads(Image.open(path).text["Description"])
    raise AssertionError(fmt)


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_provenance_in_the_file_and_its_name(picture, fixes, fmt, tmp_path):
    view = View(window="24h", severities=("high", "critical"), layers=("incidents", "tracks"))
    result = export(picture, view, fmt=fmt, tmp_path=tmp_path, track_points=fixes)
    # the export holds NATO, USA/GBR/FRA and GBR/FRA records, one RESTRICTED: the common nations
    # are FRA and GBR
    assert result.marking == "RESTRICTED//REL TO FRA, GBR"
    assert result.filename.startswith("watchfloor_incidents-tracks-track_points_20261121T1200Z_"
                                      "RESTRICTED-REL-TO-FRA-GBR.")
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", result.filename)
    assert result.path.name == result.filename
    prov = _provenance(fmt, result.path)
    if isinstance(prov, dict):
        assert prov["marking"] == result.marking
        assert prov["window"] == {"start": "2026-11-20T12:00:00Z", "end": "2026-11-21T12:00:00Z"}
        assert prov["filters"] == {"sev": "high,critical", "lyr": "incidents,tracks"}
        assert prov["counts"] == {"incidents": 3, "tracks": 2, "track_points": 6}
        assert prov["layers"] == ["incidents", "tracks", "track_points"]
        assert prov["sources"] == {"incidents": ["demo-incidents"], "tracks": ["derived"], "track_points": ["demo-cot"]}
        assert datetime.fromisoformat(prov["generated_at"]) > NOW - timedelta(days=3650)
    else:  # text: PROVENANCE.txt or the visible HTML banner
        for needle in ("RESTRICTED//REL TO FRA, GBR", "2026-11-20T12:00:00Z", "2026-11-21T12:00:00Z",
                       "sev=high,critical", "incidents 3", "tracks 2", "Generated: "):
            assert needle in prov, (fmt, needle)


def test_export_bytes_for_download_buttons(picture, tmp_path):
    r = export_bytes(picture, MARKED_VIEW, viewer=ALL_SEEING, fmt="kmz", now=NOW)
    assert r.path is None and r.data[:2] == b"PK" and r.filename.endswith(".kmz")
    assert r.mime == "application/vnd.google-earth.kmz" and r.marking == "RESTRICTED//REL TO FRA, GBR"
    assert r.counts["incidents"] == 4


# --- markings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("markings", "expected"), [
    ([], "UNCLASSIFIED"),  # nothing to protect
    (["UNCLASSIFIED", "unclassified"], "UNCLASSIFIED"),
    (["UNCLASSIFIED", "CONFIDENTIAL//REL TO ALL PARTNERS", "RESTRICTED//REL TO ALL PARTNERS"],
     "CONFIDENTIAL//REL TO ALL PARTNERS"),
    (["S//REL TO ALL PARTNERS", "TOP SECRET//REL TO ALL PARTNERS"], "TOP SECRET//REL TO ALL PARTNERS"),
    # a classified marking without REL TO states no releasability: unreadable
    (["UNCLASSIFIED", "CONFIDENTIAL", "RESTRICTED"], "UNCLASSIFIED + UNMARKED DATA PRESENT"),
    (["S", "TOP SECRET"], UNMARKED),
    # coalitions are spelled out as their nations
    (["UNCLASSIFIED//REL TO NATO", "UNCLASSIFIED"], f"UNCLASSIFIED//REL TO {NATO_LIST}"),
    (["UNCLASSIFIED//REL TO NATO", "UNCLASSIFIED//REL TO NATO"], f"UNCLASSIFIED//REL TO {NATO_LIST}"),
    (["UNCLASSIFIED//REL TO NATO", "SECRET//REL TO USA, GBR, AUS"], "SECRET//REL TO GBR, USA"),
    (["UNCLAS//RELEASABLE TO ALL PARTNERS", "R//REL TO NONE"], "RESTRICTED//REL TO NONE"),
    (["SECRET//REL TO ALL PARTNERS", "UNCLASSIFIED//REL TO MNE, ALB"], "SECRET//REL TO ALB, MNE"),
    (["UNCLASSIFIED//REL TO NONE, USA"], UNMARKED),
    (["UNCLASSIFIED//REL TO USA, GBR, FRA", "RESTRICTED//REL TO FRA, GBR"], "RESTRICTED//REL TO FRA, GBR"),
    (["UNCLASSIFIED//REL TO USA, GBR", "UNCLASSIFIED//REL TO NATO, AUS"], "UNCLASSIFIED//REL TO GBR, USA"),
    # MISSION (data/coalitions.default.toml): USA GBR FRA DEU ITA TUR POL
    (["UNCLASSIFIED//REL TO MISSION", "RESTRICTED//REL TO DEU, ESP"], "RESTRICTED//REL TO DEU"),
    # KFOR is no coalition we know: that marking is unreadable, the rest still counts
    (["UNCLASSIFIED//REL TO KFOR, GBR", "UNCLASSIFIED//REL TO GBR"], "UNCLASSIFIED//REL TO GBR + UNMARKED DATA PRESENT"),
    (["UNCLASSIFIED//REL TO USA", "UNCLASSIFIED//REL TO FRA"], "UNCLASSIFIED//REL TO NONE"),
    (["UNCLASSIFIED", None], "UNCLASSIFIED + UNMARKED DATA PRESENT"),
    (["UNCLASSIFIED", ""], "UNCLASSIFIED + UNMARKED DATA PRESENT"),
    (["UNCLASSIFIED", float("nan")], "UNCLASSIFIED + UNMARKED DATA PRESENT"),
    (["UNCLASSIFIED", "COSMIC PURPLE"], "UNCLASSIFIED + UNMARKED DATA PRESENT"),
    (["SECRET//NOFORN"], UNMARKED),
    (["UNCLASSIFIED//REL TO <script>"], UNMARKED),
    (["TOP SECRET//REL TO USA", pd.NA], "TOP SECRET//REL TO USA + UNMARKED DATA PRESENT"),
    ([None], "UNMARKED DATA PRESENT"),
])
def test_highest_marking(markings, expected):
    assert highest_marking(markings) == expected


def test_marking_slug_is_filesystem_safe_and_short_enough():
    assert marking_slug("UNCLASSIFIED//REL TO USA, GBR") == "UNCLASSIFIED-REL-TO-USA-GBR"
    assert marking_slug(UNMARKED) == "UNMARKED-DATA-PRESENT"
    assert marking_slug("SECRET//REL TO ABC, DEF + UNMARKED DATA PRESENT") == \
        "SECRET-REL-TO-ABC-DEF-UNMARKED-DATA-PRESENT"
    assert marking_slug("SECRET//REL TO " + ", ".join(["ABC"] * 100)).endswith("-ETC")
    # NATO's 32 nations fit (147 characters) ...
    assert marking_slug(f"UNCLASSIFIED//REL TO {NATO_LIST}") == "UNCLASSIFIED-REL-TO-" + NATO_LIST.replace(", ", "-")
    # ... but not with the unmarked warning, which is never cut: the list is named by its coalition
    assert marking_slug(f"UNCLASSIFIED//REL TO {NATO_LIST} + UNMARKED DATA PRESENT") == \
        "UNCLASSIFIED-REL-TO-NATO-UNMARKED-DATA-PRESENT"
    long = marking_slug("TOP SECRET//REL TO " + ", ".join(["ABC"] * 100) + " + UNMARKED DATA PRESENT")
    assert long.startswith("TOP-SECRET-REL-TO-ABC-") and long.endswith("-ETC-UNMARKED-DATA-PRESENT")
    assert len(long) <= 150


def test_alerts_carry_their_subjects_marking_so_an_export_with_them_is_marked(picture, tmp_path):
    # INC-KOS is UNCLASSIFIED//REL TO USA, GBR, FRA; track T1 is derived from REL TO NATO fixes.
    result = export(picture, View(window="24h", layers=("alerts",)), fmt="geojson", tmp_path=tmp_path)
    assert result.counts == {"alerts": 2}
    assert result.marking == "UNCLASSIFIED//REL TO FRA, GBR, USA"
    assert result.filename.endswith("_UNCLASSIFIED-REL-TO-FRA-GBR-USA.geojson")
    back = gpd.read_file(result.path).set_index("key")
    assert back.loc["proximity|INC-KOS", "marking"] == "UNCLASSIFIED//REL TO FRA, GBR, USA"
    assert back.loc["stale|T1", "marking"] == f"UNCLASSIFIED//REL TO {NATO_LIST}"
    # with the incidents, the highest marking of both
    both = export(picture, View(window="24h", layers=("incidents", "alerts")), fmt="geojson", tmp_path=tmp_path)
    assert both.marking == "UNCLASSIFIED//REL TO FRA, GBR, USA" and both.counts["alerts"] == 2


def test_unmarked_records_in_an_administrators_export_are_said_and_coloured(picture, tmp_path):
    from PIL import Image

    incidents = picture["incidents"].copy()
    incidents["marking"] = incidents["marking"].astype(object)
    incidents.loc[incidents["source_id"] == "INC-LOW", "marking"] = "SECRET"  # no REL TO: unreadable
    mixed = export({**picture, "incidents": incidents}, View(window="24h", layers=("incidents",)), fmt="geojson",
                   tmp_path=tmp_path)
    # PARIS (NATO), KOS (USA, GBR, FRA), FAR (UNCLASSIFIED) readable; LOW unreadable
    assert mixed.marking == "UNCLASSIFIED//REL TO FRA, GBR, USA + UNMARKED DATA PRESENT"
    assert mixed.filename.endswith("_UNCLASSIFIED-REL-TO-FRA-GBR-USA-UNMARKED-DATA-PRESENT.geojson")
    assert json.loads(mixed.path.read_text(encoding="utf-8"))["watchfloor"]["marking"] == mixed.marking
    only = incidents[incidents["source_id"] == "INC-LOW"]
    result = export({"incidents": only}, View(window="24h", layers=("incidents",)), fmt="png", tmp_path=tmp_path)
    assert result.marking == UNMARKED and result.filename.endswith("_UNMARKED-DATA-PRESENT.png")
    px = Image.open(result.path).convert("RGB")
    yellow = (255, 209, 0)  # BANNER_DEFAULT: nothing readable to colour by
    assert px.getpixel((5, 5)) == yellow and px.getpixel((5, px.size[1] - 5)) == yellow


# --- snapshots -----------------------------------------------------------------------------------


def test_html_snapshot_is_self_contained(picture, fixes, tmp_path):
    result = export(picture, VIEW, fmt="html", tmp_path=tmp_path, track_points=fixes)
    page = result.path.read_text(encoding="utf-8")
    assert remote_asset_references(page) == []
    # no script, stylesheet or image is loaded from a URL of any kind
    assert not re.search(r"<script[^>]*\bsrc=", page, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref=", page, re.IGNORECASE)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.sub(
        r"<script\b[^>]*>.*?</script>", "", page, flags=re.DOTALL | re.IGNORECASE), re.IGNORECASE)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", page, re.IGNORECASE)
    assert not re.search(r"jsdelivr|cdnjs|unpkg|code\.jquery|bootstrapcdn", page, re.IGNORECASE)
    assert "/app/static" not in page and "/watchfloor-inline-vendor" not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert re.search(r"L\.map\(", page) and "Leaflet 1.9.4" in page  # the map, and Leaflet itself inside
    assert page.count("RESTRICTED//REL TO FRA, GBR") >= 2  # top and bottom banners
    assert XSS not in page and "<img src=x" not in page


def test_png_snapshot(picture, tmp_path):
    from PIL import Image

    result = export(picture, MARKED_VIEW, fmt="png", tmp_path=tmp_path)
    img = Image.open(result.path)
    assert img.format == "PNG" and img.size[0] >= 1000
    assert img.text["Title"].endswith("RESTRICTED//REL TO FRA, GBR")
    # the marking banner is drawn in the classification's colour at the top and bottom edges
    px = img.convert("RGB")
    red = (200, 16, 46)
    assert px.getpixel((5, 5)) == red and px.getpixel((5, img.size[1] - 5)) == red


@pytest.mark.browser
def test_html_snapshot_draws_with_no_request_at_all(picture, fixes, tmp_path, browser):
    result = export(picture, VIEW, fmt="html", tmp_path=tmp_path, track_points=fixes)
    page = browser.new_page()
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(result.path.as_uri())
    page.wait_for_selector(".leaflet-container path.leaflet-interactive, .leaflet-container canvas", timeout=15000)
    page.wait_for_timeout(500)
    assert [u for u in requests if u != result.path.as_uri() and not u.startswith("data:")] == []
    assert errors == []
    assert page.locator(".wf-banner.wf-top").inner_text() == "RESTRICTED//REL TO FRA, GBR"
    page.close()


# --- command line --------------------------------------------------------------------------------


def test_cli_exports_what_the_same_view_shows(demo_home, tmp_path, monkeypatch, capsys):
    from ingest.store.delta import DeltaStore
    from layers.picture import Window, load_picture, operational_bounds
    from layers.users import add_user

    # The shared demo store, and a home of this test's own for the users file.
    home = tmp_path / "home"
    monkeypatch.setenv("WATCHFLOOR_HOME", str(home))
    monkeypatch.setenv("WATCHFLOOR_STORE", str(demo_home / "store"))
    add_user(home / "users.toml", "exporter", "correct horse battery", nation="GBR", clearance="TOP SECRET",
             role="administrator")
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    parser = argparse.ArgumentParser()
    add_export_arguments(parser)
    since, until = DEMO_NOW - timedelta(hours=24), DEMO_NOW
    args = parser.parse_args([
        "--user", "exporter", "--password-stdin", "--layers", "incidents,tracks", "--since", since.isoformat(), "--until", until.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--bbox", "18,40,24,46", "--filter", "severity=high,critical", "--filter", "category=Flood",
        "--format", "gpkg", "-o", str(tmp_path / "cli.gpkg")])
    assert export_command(args) == 0
    line = capsys.readouterr().out
    assert "cli.gpkg" in line and "marking" in line and "as exporter (GBR, TOP SECRET)" in line
    store = DeltaStore(demo_home / "store")
    view = View(window="custom", start=since, end=until, severities=("high", "critical"), categories=("Flood",),
                layers=("incidents", "tracks"), aoi_wkt=shapely.box(18, 40, 24, 46).wkt)
    picture = load_picture(store, Window(since, until), operational_bounds(store))
    expected = apply_view(picture, view, until)
    got = pyogrio.read_dataframe(tmp_path / "cli.gpkg", layer="incidents")
    assert ids("incidents", got) == ids("incidents", expected["incidents"]) and len(got) > 0
    assert set(got["severity"]) <= {"high", "critical"} and set(got["category"]) == {"Flood"}
    meta = json.loads(pyogrio.read_info(tmp_path / "cli.gpkg", layer="incidents")["dataset_metadata"]["watchfloor"])
    assert meta["filters"]["sev"] == "high,critical" and meta["filters"]["w"] == "custom"


def test_cli_rejects_unknown_filters_and_formats():
    from ingest.errors import WatchfloorError
    from layers.export.cli import view_from_args

    parser = argparse.ArgumentParser()
    add_export_arguments(parser)
    with pytest.raises(WatchfloorError, match="--filter"):
        view_from_args(parser.parse_args(["--user", "u", "-f", "gpkg", "--filter", "colour=red"]), NOW)
    with pytest.raises(WatchfloorError, match="--bbox"):
        view_from_args(parser.parse_args(["--user", "u", "-f", "gpkg", "--bbox", "1,2,3"]), NOW)
    with pytest.raises(SystemExit):
        parser.parse_args(["--user", "u", "-f", "docx"])
    with pytest.raises(SystemExit):  # no export without a user to sign in as
        parser.parse_args(["-f", "gpkg"])
    view, now = view_from_args(parser.parse_args(["--user", "u", "-f", "kml", "--window", "6h",
                                                  "--filter", "nation=GBR,FRA"]), NOW)
    assert view.window == "6h" and view.nations == ("GBR", "FRA") and now == NOW


def test_formats_registry():
    assert set(FORMATS) == set(ALL_FORMATS)
    for spec in FORMATS.values():
        assert spec.mime and spec.extension and callable(spec.writer)
