"""Helpers of the export tests: a small picture to export, and exports read back by the tools analysts use.

Small real data: every layer is built from hand-made rows through `ingest.validate.validate`
(tracks derived from their fixes as at ingest), with a point at Paris (2.35, 48.85) to catch axis
swaps, microsecond times, varied markings, and feed text that tries formula and script injection.
Every file is read back with GDAL (pyogrio; zips through /vsizip/, KML through LIBKML and the plain
KML driver) or the format's own reader (pyarrow for GeoParquet, csv for CSV).
"""

from __future__ import annotations

import io
import math
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from ingest.store.base import ALERT_COLUMNS
from ingest.tracks import derive_tracks
from ingest.validate import validate
from layers.access import Viewer
from layers.export import (
    export_view,
    shapefile_field_names,
)
from layers.filters import DEFAULT_LAYERS, View

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


PARIS = (2.35, 48.85)


DATA_FORMATS = ("geojson", "gpkg", "kml", "kmz", "csv", "parquet", "shp")


ALL_FORMATS = (*DATA_FORMATS, "html", "png", "cot")


XSS = '<img src=x onerror="alert(1)"></script><script>alert(2)</script>'


KML_NS = {"k": "http://www.opengis.net/kml/2.2", "gx": "http://www.google.com/kml/ext/2.2"}


# Every record here is releasable to GBR (the demo's too), and an administrator also sees unmarked
# ones: this viewer sees the whole picture, so these tests are about formats, not releasability
# (tests/layers/export/test_export_access.py is).
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
    # TAK drawings: a geofence ring (a hand-made 8-gon) and a route; colours as TAK's ARGB hex.
    ring = [(21.2 + 0.01 * math.cos(a * math.pi / 4), 42.6 + 0.01 * math.sin(a * math.pi / 4)) for a in range(8)]
    overlays = _valid("overlays", [
        {"source_id": "fence-1", "drawn_at": "2026-11-21T09:00:00.25Z", "kind": "freeform", "label": "No-go",
         "cot_type": "u-d-f", "sender_uid": "ANDROID-1", "stroke_color": "#FF0000FF", "fill_color": "#FF000060",
         "geofence": True, "geofence_trigger": "Entry", "geofence_monitor": "All",
         "stale_at": "2026-11-22T09:00:00Z", "geometry": shapely.Polygon(ring), "marking": "UNCLASSIFIED//REL TO NATO"},
        {"source_id": "route-1", "drawn_at": "2026-11-21T08:00:00Z", "kind": "route", "label": "Route 7",
         "cot_type": "b-m-r", "geofence": False, "remarks": XSS,
         "geometry": shapely.LineString([(21.1, 42.6), (21.12, 42.61), (21.15, 42.63)]), "marking": "UNCLASSIFIED"},
    ], source="tak")
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
            "overlays": overlays, "alerts": alerts}


VIEW = View(window="24h")


# Everything but alerts (the record layers only).
MARKED_VIEW = View(window="24h", layers=tuple(l for l in DEFAULT_LAYERS if l != "alerts"))


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


def export(picture, view=VIEW, fmt="gpkg", tmp_path=None, viewer=ALL_SEEING, **kw):
    return export_view(picture, view, viewer=viewer, fmt=fmt, out=tmp_path, now=NOW, **kw)
