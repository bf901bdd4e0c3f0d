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
_COLUMNS = ["source", "source_id", "ingested_at", "marking", "track_id", "first_seen", "last_seen",
            "point_count", "last_lon", "last_lat", "last_altitude_m", "last_speed_mps", "last_heading_deg",
            "callsign", "platform_type", "stale_at", "geometry_fix", "geometry"]


def derive_tracks(points: gpd.GeoDataFrame, *, stale_after: timedelta = DEFAULT_STALE_AFTER) -> gpd.GeoDataFrame:
    """One row per track_id: the path as a line in time order, and the last fix.

    Speed and heading of the last fix come from the feed when it reports them,
    else from the last two fixes (geodesic, so correct at any latitude).
    Markings: a track's line reveals every fix, so it carries the most
    restrictive combination of its fixes' markings (highest level, REL TO lists
    intersected; `ingest.markings.combine_markings`), never just the latest one.
    Computed column-wise for all tracks at once: a loop over tracks reading
    pandas rows took ~10 s for a million points in 2,000 tracks.
    """
    if points.empty:
        return gpd.GeoDataFrame({c: [] for c in _COLUMNS if c != "geometry"},
                                geometry=gpd.GeoSeries([], crs=CRS), crs=CRS)
    p = points.reset_index(drop=True)
    # The order of p.sort_values(["track_id", "time"], kind="stable") (missing
    # values last), computed on two integer keys and applied only to the values
    # needed: sorting the frame itself moved every string column of a million rows.
    codes, names = pd.factorize(p["track_id"], sort=True)
    codes = np.where(codes < 0, len(names), codes)
    t = pd.DatetimeIndex(p["time"])
    order = np.lexsort((t.asi8, t.isna(), codes))
    codes = codes[order]
    x = shapely.get_x(p.geometry.values)[order]
    y = shapely.get_y(p.geometry.values)[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(p)]
    last = ends - 1
    count = ends - starts
    group = np.repeat(np.arange(len(starts)), count)
    tid = np.append(np.asarray(names, dtype=object), None)[codes[starts]]

    def at(col: str, idx: np.ndarray) -> pd.Series:
        """Column `col` at positions `idx` of the sorted order."""
        return p[col].iloc[order[idx]].reset_index(drop=True)

    speed = at("speed_mps", last).astype("float64").to_numpy(copy=True)
    heading = at("heading_deg", last).astype("float64").to_numpy(copy=True)
    need = np.flatnonzero((count >= 2) & (np.isnan(speed) | np.isnan(heading)))
    if len(need):
        b = last[need]
        az, _, dist = _GEOD.inv(x[b - 1], y[b - 1], x[b], y[b])
        dt = (at("time", b) - at("time", b - 1)).dt.total_seconds().to_numpy()
        no_heading = np.isnan(heading[need])
        heading[need[no_heading]] = np.mod(np.asarray(az, dtype=float)[no_heading], 360)
        fill = np.isnan(speed[need]) & (dt > 0)
        speed[need[fill]] = np.asarray(dist, dtype=float)[fill] / dt[fill]

    last_time = at("time", last)
    stale = at("stale_at", last)
    single = count == 1
    geoms = np.empty(len(starts), dtype=object)
    geoms[single] = shapely.points(x[last[single]], y[last[single]])
    multi = ~single
    if multi.any():
        on_line = np.repeat(multi, count)
        lines = np.repeat(np.arange(int(multi.sum())), count[multi])
        geoms[multi] = shapely.linestrings(x[on_line], y[on_line], indices=lines)

    data = {
        "source": np.full(len(starts), DERIVED_SOURCE, dtype=object),
        "source_id": tid,
        "ingested_at": at("ingested_at", np.arange(len(p))).groupby(group).max(),
        "marking": _track_markings(p["marking"], order, starts, ends),
        "track_id": tid,
        "first_seen": at("time", starts),
        "last_seen": last_time,
        "point_count": count,
        "last_lon": x[last],
        "last_lat": y[last],
        "last_altitude_m": at("altitude_m", last),
        "last_speed_mps": speed,
        "last_heading_deg": heading,
        "callsign": at("callsign", last),
        "platform_type": at("platform_type", last),
        "stale_at": stale.where(stale.notna(), last_time + stale_after),
        "geometry_fix": np.full(len(starts), None, dtype=object),
    }
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=CRS), crs=CRS)[_COLUMNS]


def _track_markings(markings: pd.Series, order: np.ndarray, starts: np.ndarray,
                    ends: np.ndarray) -> np.ndarray:
    """Each track's marking (tracks are `starts:ends` of `markings` taken in `order`): its
    fixes' one marking as it is (the usual case); several, or a missing one, by `_track_marking`,
    once per distinct combination (thousands of unmarked tracks share one)."""
    codes, uniques = pd.factorize(markings, use_na_sentinel=True)
    codes = codes[order]
    first = codes[starts]
    same = (first >= 0) & (np.maximum.reduceat(codes, starts) == np.minimum.reduceat(codes, starts))
    out = np.full(len(starts), None, dtype=object)
    values = np.asarray(uniques, dtype=object)
    out[same] = values[first[same]]
    if isinstance(markings.dtype, pd.StringDtype):  # one missing value, dtype.na_value
        values = np.append(values, markings.dtype.na_value)  # code -1 picks it
        done: dict[tuple, str | None] = {}
        for i in np.flatnonzero(~same):
            distinct = tuple(values[pd.unique(codes[starts[i]:ends[i]])])  # drop_duplicates order
            if distinct not in done:
                done[distinct] = _track_marking(pd.Series(distinct, dtype=markings.dtype))
            out[i] = done[distinct]
    else:
        for i in np.flatnonzero(~same):
            out[i] = _track_marking(markings.iloc[order[starts[i]:ends[i]]])
    return out


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
