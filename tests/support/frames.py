"""Small frames for the analysis and alert tests, against hand-computed expectations.

Distances are set up with pyproj.Geod.fwd (a point *known* to be N metres away) and checked
against an independent spherical haversine as well; border crossings against shapely's own
segment/boundary intersection computed in the tests; dwell times against the fixes' schedule.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import geopandas as gpd
import pandas as pd
import shapely
from pyproj import Geod

from ingest.schema import TIME_DTYPE
from layers.analysis import (
    FINDING_COLUMNS,
)

GEOD = Geod(ellps="WGS84")


T0 = pd.Timestamp("2026-11-21T08:00:00Z")


NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


OBILIC = (21.0706, 42.6867)


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Independent check: great circle on the mean sphere (within ~0.5 % of the ellipsoid)."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def away(origin: tuple[float, float], azimuth: float, metres: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(origin[0], origin[1], azimuth, metres)
    return lon, lat


def incidents(points, *, times=None, severity="high", titles=None, places=None, source="test") -> gpd.GeoDataFrame:
    n = len(points)
    times = times if times is not None else [T0] * n
    return gpd.GeoDataFrame({
        "source": pd.array([source] * n, dtype="string"),
        "source_id": pd.array([f"i{i}" for i in range(n)], dtype="string"),
        "occurred_at": pd.Series(pd.to_datetime(times, utc=True)).astype(TIME_DTYPE),
        "category": pd.array(["explosion"] * n, dtype="string"),
        "severity": pd.array(severity if isinstance(severity, list) else [severity] * n, dtype="string"),
        "title": pd.array(titles or [f"Incident {i}" for i in range(n)], dtype="string"),
        "location_name": pd.array(places or [None] * n, dtype="string"),
    }, geometry=gpd.GeoSeries([shapely.Point(p) for p in points], crs=4326), crs=4326)


def infra(geoms, *, kind="power_plant", names=None) -> gpd.GeoDataFrame:
    n = len(geoms)
    kinds = kind if isinstance(kind, list) else [kind] * n
    return gpd.GeoDataFrame({
        "source": pd.array(["reference:infrastructure"] * n, dtype="string"),
        "source_id": pd.array([f"f{i}" for i in range(n)], dtype="string"),
        "kind": pd.array(kinds, dtype="string"),
        "name": pd.array(names or [f"Facility {i}" for i in range(n)], dtype="string"),
    }, geometry=gpd.GeoSeries([g if isinstance(g, shapely.Geometry) else shapely.Point(g) for g in geoms],
                              crs=4326), crs=4326)


def fixes(track_id: str, coords, *, t0=T0, step_s: float = 10.0, times=None, callsign=None) -> gpd.GeoDataFrame:
    n = len(coords)
    times = times if times is not None else [t0 + pd.Timedelta(seconds=step_s * i) for i in range(n)]
    return gpd.GeoDataFrame({
        "source": pd.array(["test-cot"] * n, dtype="string"),
        "source_id": pd.array([f"{track_id}-{i}" for i in range(n)], dtype="string"),
        "track_id": pd.array([track_id] * n, dtype="string"),
        "time": pd.Series(pd.to_datetime(times, utc=True)).astype(TIME_DTYPE),
        "callsign": pd.array([callsign] * n, dtype="string"),
    }, geometry=gpd.GeoSeries([shapely.Point(c) for c in coords], crs=4326), crs=4326)


def area(polys, *, names, layer_source="test") -> gpd.GeoDataFrame:
    n = len(polys)
    return gpd.GeoDataFrame({"source": [layer_source] * n, "source_id": names, "name": names,
                             "country_code": names}, geometry=gpd.GeoSeries(polys, crs=4326), crs=4326)


def details(frame: gpd.GeoDataFrame, i: int = 0) -> dict:
    return json.loads(frame["details"].iloc[i])


def assert_findings(frame: gpd.GeoDataFrame) -> None:
    assert list(frame.columns) == FINDING_COLUMNS
    assert frame.crs.to_epsg() == 4326
    assert str(frame["time"].dtype) == TIME_DTYPE
    assert frame["key"].is_unique
    for s in frame["subjects"]:
        assert isinstance(json.loads(s), list)
    for s in frame["details"]:
        assert isinstance(json.loads(s), dict)
    assert set(frame["severity"]) <= {"low", "medium", "high", "critical"}
    assert (frame.geometry.geom_type == "Point").all()


SQUARES = area([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(3, 0, 4, 1)],
               names=["AAA", "BBB", "CCC"])


def circling(centre, radius_m, n, start_az=0.0):
    return [away(centre, start_az + 6.0 * i, radius_m) for i in range(n)]


def scenes(rows) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "source": ["stac"] * len(rows), "source_id": [r[0] for r in rows],
        "acquired_at": pd.Series(pd.to_datetime([r[1] for r in rows], utc=True)).astype(TIME_DTYPE),
        "cloud_cover": [r[2] for r in rows], "platform": ["sentinel-2a"] * len(rows),
    }, geometry=gpd.GeoSeries([r[3] for r in rows], crs=4326), crs=4326)
