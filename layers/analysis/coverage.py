"""Imagery coverage of incidents: which scenes show each incident after it happened, and which incidents no scene shows.

A scene *covers* an incident when its footprint contains (or touches) the
incident's point, it was acquired at or after the incident, and its cloud
cover is known and at most ``max_cloud`` percent. A scene with no cloud figure
does not count as clear: an analyst would have to open it to know, and a gap
that is not really one costs less than a missed one.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.analysis._geo import NAT_US, epoch_us, place_suffix, subject_ids, text_column, xy
from layers.analysis.findings import (
    SEVERITY_RANK,
    empty_findings,
    findings_frame,
    iso_series,
    json_columns,
    json_lists,
)

SCENE_COLUMNS = ["incident", "scene", "scene_source_id", "acquired_at", "cloud_cover", "platform", "lag_s",
                 "clear"]


def _pairs(incidents: gpd.GeoDataFrame, imagery: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(incident position, scene position) for every footprint touching an incident, any time, any cloud.

    The tree holds the incident points and the footprints are the queries, so
    each footprint is prepared once (see geofence.py for why that way round)."""
    lon, lat = xy(incidents)
    ok = np.isfinite(lon) & np.isfinite(lat)
    foot = np.asarray(imagery.geometry.values)
    usable = ~(shapely.is_missing(foot) | shapely.is_empty(foot))
    if not ok.any() or not usable.any():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    pos = np.flatnonzero(ok)
    tree = shapely.STRtree(shapely.points(lon[pos], lat[pos]))
    spos = np.flatnonzero(usable)
    # A footprint that is its own bounding box (an axis-aligned rectangle, as many catalogues
    # give) holds exactly the points in its envelope: the tree's envelope test alone is the
    # answer, and an order of magnitude cheaper than testing millions of pairs with GEOS.
    box = _rectangles(foot[spos])
    sb, pb = tree.query(foot[spos[box]])
    so, po = tree.query(foot[spos[~box]], predicate="intersects")
    return pos[np.concatenate([pb, po])], np.concatenate([spos[box][sb], spos[~box][so]])


def _rectangles(geoms: np.ndarray) -> np.ndarray:
    """Which geometries are axis-aligned rectangles: a polygon without holes whose ring is its
    bounding box's four corners, each step along one axis (read from the coordinates, exactly)."""
    out = (shapely.get_type_id(geoms) == 3) & (shapely.get_num_coordinates(geoms) == 5)
    cand = np.flatnonzero(out)
    if len(cand) == 0:
        return out
    out[cand] &= shapely.get_num_interior_rings(geoms[cand]) == 0
    cand = np.flatnonzero(out)
    ring = shapely.get_coordinates(geoms[cand]).reshape(len(cand), 5, 2)
    lo, hi = ring.min(axis=1, keepdims=True), ring.max(axis=1, keepdims=True)
    corner = ((ring == lo) | (ring == hi)).all(axis=(1, 2)) & (lo < hi).all(axis=(1, 2))
    moved = np.diff(ring, axis=1) != 0
    one_axis = (moved[:, :, 0] != moved[:, :, 1]).all(axis=1)
    out[cand] = corner & one_axis
    return out


def _after(occurred_us: np.ndarray, acquired_us: np.ndarray) -> np.ndarray:
    """Acquired at or after the incident; a missing time on either side never counts."""
    return (acquired_us >= occurred_us) & (occurred_us != NAT_US) & (acquired_us != NAT_US)


def covering_scenes(incidents: gpd.GeoDataFrame, imagery: gpd.GeoDataFrame, *, max_cloud: float = 30.0,
                    clear_only: bool = True) -> pd.DataFrame:
    """The scenes that show each incident after it happened, for the UI's "imagery" panel.

    One row per (incident, scene): ``incident`` and ``scene`` as
    ``layer/source/source_id``, the scene's time, cloud cover, platform, the lag
    after the incident in seconds, and ``clear`` (cloud known and <= max_cloud).
    ``clear_only=False`` also lists later scenes that are too cloudy (why a gap
    is a gap). Sorted by incident, then acquisition time."""
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in SCENE_COLUMNS})
    if incidents is None or imagery is None or incidents.empty or imagery.empty:
        return empty
    ii, si = _pairs(incidents, imagery)
    after = _after(epoch_us(incidents["occurred_at"])[ii], epoch_us(imagery["acquired_at"])[si])
    cloud = imagery["cloud_cover"].astype("float64").to_numpy()[si] if "cloud_cover" in imagery \
        else np.full(len(si), np.nan)
    clear = np.isfinite(cloud) & (cloud <= max_cloud)
    keep = after & clear if clear_only else after
    ii, si, cloud, clear = ii[keep], si[keep], cloud[keep], clear[keep]
    if len(ii) == 0:
        return empty
    inc_subj = subject_ids(incidents, "incidents")
    scene_subj = subject_ids(imagery, "imagery")
    acq = pd.to_datetime(imagery["acquired_at"], utc=True).iloc[si].reset_index(drop=True)
    occ = pd.to_datetime(incidents["occurred_at"], utc=True).iloc[ii].reset_index(drop=True)
    out = pd.DataFrame({
        "incident": inc_subj[ii], "scene": scene_subj[si],
        "scene_source_id": imagery["source_id"].astype(object).to_numpy()[si] if "source_id" in imagery else None,
        "acquired_at": acq, "cloud_cover": cloud,
        "platform": text_column(imagery, "platform", "collection", default="unknown")[si],
        "lag_s": (acq - occ).dt.total_seconds().to_numpy(), "clear": clear,
    })
    return out.sort_values(["incident", "acquired_at", "scene"], kind="stable").reset_index(drop=True)


def coverage_gaps(incidents: gpd.GeoDataFrame, imagery: gpd.GeoDataFrame | None, *, max_cloud: float = 30.0,
                  min_severity: str = "high", severity: str | None = None, rule: str = "coverage_gap"
                  ) -> gpd.GeoDataFrame:
    """One finding per incident of at least ``min_severity`` that no clear scene shows since it happened.

    ``severity`` None: the finding takes the incident's severity (a critical
    incident without imagery is a critical gap). The key is rule + incident:
    the gap is the incident's, and it goes away (the store resolves it) the
    refresh after a clear scene arrives. Details tell how many later scenes
    were too cloudy and how many covered it only before it happened.
    """
    if incidents is None or incidents.empty:
        return empty_findings()
    sev = incidents["severity"].astype(object) if "severity" in incidents \
        else pd.Series("medium", index=incidents.index, dtype=object)
    rank = sev.map(SEVERITY_RANK).fillna(-1).to_numpy()
    wanted = np.flatnonzero(rank >= SEVERITY_RANK[min_severity])
    if len(wanted) == 0:
        return empty_findings()
    inc = incidents.iloc[wanted]
    n = len(inc)
    covered = np.zeros(n, dtype=bool)
    cloudy_after = np.zeros(n, dtype=np.int64)
    before = np.zeros(n, dtype=np.int64)
    best_cloud = np.full(n, np.nan)
    if imagery is not None and not imagery.empty:
        ii, si = _pairs(inc, imagery)
        cloud = imagery["cloud_cover"].astype("float64").to_numpy()[si] if "cloud_cover" in imagery \
            else np.full(len(si), np.nan)
        after = _after(epoch_us(inc["occurred_at"])[ii], epoch_us(imagery["acquired_at"])[si])
        clear = np.isfinite(cloud) & (cloud <= max_cloud)
        covered = np.bincount(ii[after & clear], minlength=n) > 0
        # The counts and the clearest cloud are told only for gaps: only their pairs are counted.
        g = ~covered[ii]
        ii, cloud, after, clear = ii[g], cloud[g], after[g], clear[g]
        cloudy_after = np.bincount(ii[after & ~clear], minlength=n)
        before = np.bincount(ii[~after], minlength=n)  # (and scenes or incidents without a time)
        later = after & np.isfinite(cloud)
        if later.any():
            best = np.full(n, np.inf)
            np.minimum.at(best, ii[later], cloud[later])
            best_cloud = np.where(np.isfinite(best), best, np.nan)
    gap = np.flatnonzero(~covered)
    if len(gap) == 0:
        return empty_findings()
    g = inc.iloc[gap]
    subj = subject_ids(g, "incidents")
    title = text_column(g, "title", "category", "source_id", default="incident")
    place = text_column(g, "location_name")
    occurred = pd.to_datetime(g["occurred_at"], utc=True).reset_index(drop=True)
    why = np.where(cloudy_after[gap] > 0,
                   " (" + cloudy_after[gap].astype(str).astype(object) + " later scene(s) too cloudy)",
                   np.where(before[gap] > 0, " (only scenes from before it)", ""))
    message = ("No clear imagery (<= " + f"{max_cloud:g}" + "% cloud) of incident '" + title + "'"
               + place_suffix(title, place, " at ") + " since it occurred "
               + occurred.dt.strftime("%d %b %H:%M UTC").to_numpy(dtype=object) + why)
    lon, lat = xy(g)
    details = json_columns({
        "occurred_at": iso_series(occurred), "max_cloud": np.full(len(gap), float(max_cloud)),
        "later_scenes_too_cloudy": cloudy_after[gap], "scenes_before": before[gap],
        "clearest_later_cloud": best_cloud[gap], "incident_severity": sev.iloc[wanted].to_numpy()[gap],
    })
    return findings_frame(
        rule=rule, severity=severity if severity is not None else sev.iloc[wanted].to_numpy()[gap],
        time=occurred, key=(rule + "|" + subj).tolist(),
        subjects=json_lists(subj),
        message=message.tolist(), details=details, lon=lon, lat=lat,
    )

