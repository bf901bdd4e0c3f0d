"""Derive the `tracks` layer (one row per track) from stored track points.

Done at ingest, not at display time, so the dashboard reads a few hundred
lines instead of grouping a million points on every rerun.
"""

from __future__ import annotations

from datetime import timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod

from ingest.markings import combine_markings
from ingest.schema import CRS

DERIVED_SOURCE = "derived"
# A track with no CoT stale time goes stale this long after its last fix.
DEFAULT_STALE_AFTER = timedelta(minutes=5)
_GEOD = Geod(ellps="WGS84")


def derive_tracks(points: gpd.GeoDataFrame, *, stale_after: timedelta = DEFAULT_STALE_AFTER) -> gpd.GeoDataFrame:
    """One row per track_id: the path as a line in time order, and the last fix.

    Speed and heading of the last fix come from the feed when it reports them,
    else from the last two fixes (geodesic, so correct at any latitude).
    Markings: a track's line reveals every fix, so it carries the most
    restrictive combination of its fixes' markings (highest level, REL TO lists
    intersected; `ingest.markings.combine_markings`), never just the latest one.
    """
    cols = ["source", "source_id", "ingested_at", "marking", "track_id", "first_seen", "last_seen",
            "point_count", "last_lon", "last_lat", "last_altitude_m", "last_speed_mps", "last_heading_deg",
            "callsign", "platform_type", "stale_at", "geometry_fix", "geometry"]
    if points.empty:
        return gpd.GeoDataFrame({c: [] for c in cols if c != "geometry"}, geometry=gpd.GeoSeries([], crs=CRS), crs=CRS)
    p = points.sort_values(["track_id", "time"], kind="stable")
    x = shapely.get_x(p.geometry.values)
    y = shapely.get_y(p.geometry.values)
    tid = p["track_id"].to_numpy(dtype=object)
    starts = np.flatnonzero(np.r_[True, tid[1:] != tid[:-1]])
    ends = np.r_[starts[1:], len(p)]
    rows = []
    times = p["time"]
    for s, e in zip(starts, ends):
        last = p.iloc[e - 1]
        xs, ys = x[s:e], y[s:e]
        geom = shapely.Point(xs[-1], ys[-1]) if e - s == 1 else shapely.LineString(np.column_stack([xs, ys]))
        speed, heading = last["speed_mps"], last["heading_deg"]
        if e - s >= 2 and (pd.isna(speed) or pd.isna(heading)):
            az, _, dist = _GEOD.inv(xs[-2], ys[-2], xs[-1], ys[-1])
            dt = (times.iloc[e - 1] - times.iloc[e - 2]).total_seconds()
            if pd.isna(heading):
                heading = az % 360
            if pd.isna(speed) and dt > 0:
                speed = dist / dt
        stale_at = last["stale_at"] if pd.notna(last["stale_at"]) else last["time"] + stale_after
        rows.append({
            "source": DERIVED_SOURCE,
            "source_id": tid[s],
            "ingested_at": p["ingested_at"].iloc[s:e].max(),
            "marking": _track_marking(p["marking"].iloc[s:e]),
            "track_id": tid[s],
            "first_seen": times.iloc[s],
            "last_seen": times.iloc[e - 1],
            "point_count": e - s,
            "last_lon": xs[-1],
            "last_lat": ys[-1],
            "last_altitude_m": last["altitude_m"],
            "last_speed_mps": speed,
            "last_heading_deg": heading,
            "callsign": last["callsign"],
            "platform_type": last["platform_type"],
            "stale_at": stale_at,
            "geometry_fix": None,
            "geometry": geom,
        })
    return gpd.GeoDataFrame(rows, columns=cols, geometry="geometry", crs=CRS)


def _track_marking(markings: pd.Series) -> str | None:
    """One marking as it is (the usual case); several combined, most restrictive."""
    distinct = markings.drop_duplicates().tolist()
    if len(distinct) == 1 and not pd.isna(distinct[0]):
        return distinct[0]
    return combine_markings(distinct)


def mixed_markings(points: gpd.GeoDataFrame) -> pd.Series:
    """Track ids whose fixes carry more than one marking."""
    n = points.groupby("track_id")["marking"].nunique(dropna=False)
    return n[n > 1]
