"""Incident density on an H3 hexagonal grid, and 'hot spot' findings where it runs high.

Hexagons rather than a lon/lat grid: equal-ish area everywhere (a degree cell
at 60N is half the area of one at the equator), one neighbour distance, and
ids that are stable across runs, so a cell's finding keeps its key.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
import shapely.affinity

from ingest.schema import CRS
from layers.analysis._geo import subject_ids, text_column, xy
from layers.analysis.findings import empty_findings, findings_frame, iso, json_columns, json_list

# Severity weights: each step up counts double. A critical incident outweighs
# seven low ones, which is roughly how a watch officer ranks them.
SEVERITY_WEIGHTS: dict[str, float] = {"low": 1.0, "medium": 2.0, "high": 4.0, "critical": 8.0}
HEX_COLUMNS = ["h3", "count", "score", "first_time", "last_time", "geometry"]


def _window(incidents: gpd.GeoDataFrame, start: datetime | None, end: datetime | None) -> gpd.GeoDataFrame:
    if incidents is None or incidents.empty:
        return incidents
    t = pd.to_datetime(incidents["occurred_at"], utc=True)
    keep = t.notna()
    if start is not None:
        keep &= t >= pd.Timestamp(start)
    if end is not None:
        keep &= t <= pd.Timestamp(end)
    return incidents[keep.to_numpy()]


def _cells(incidents: gpd.GeoDataFrame, resolution: int) -> np.ndarray:
    lon, lat = xy(incidents)
    return np.array([h3.latlng_to_cell(la, lo, resolution) if np.isfinite(lo) and np.isfinite(la) else None
                     for lo, la in zip(lon.tolist(), lat.tolist())], dtype=object)


def cell_polygon(cell: str) -> shapely.Geometry:
    """The hexagon as a lon/lat polygon; one that straddles the antimeridian is split in two,
    so it draws as a hexagon and not as a band around the world."""
    ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]
    lons = np.array([p[0] for p in ring])
    if lons.max() - lons.min() <= 180:
        return shapely.Polygon(ring)
    shifted = shapely.Polygon([(lng + 360 if lng < 0 else lng, lat) for lng, lat in ring])
    east = shapely.clip_by_rect(shifted, 0, -90, 180, 90)
    west = shapely.affinity.translate(shapely.clip_by_rect(shifted, 180, -90, 360, 90), xoff=-360)
    parts = [g for g in (east, west) if not g.is_empty]
    return shapely.MultiPolygon([q for g in parts for q in shapely.get_parts(g)])


def hex_density(incidents: gpd.GeoDataFrame | None, *, resolution: int = 6, start: datetime | None = None,
                end: datetime | None = None, weights: dict[str, float] | None = None) -> gpd.GeoDataFrame:
    """Incidents per H3 cell in [start, end]: cell id, count, severity-weighted score, time span, hexagon.

    Resolution 6 (~36 km2 cells, ~3.2 km edge) fits a district; 5 a region.
    Unknown severities weigh as "medium". Sorted by score, highest first."""
    weights = weights or SEVERITY_WEIGHTS
    inc = _window(incidents, start, end)
    if inc is None or inc.empty:
        return gpd.GeoDataFrame({c: [] for c in HEX_COLUMNS[:-1]}, geometry=gpd.GeoSeries([], crs=CRS), crs=CRS)
    cells = _cells(inc, resolution)
    w = inc["severity"].astype(object).map(weights).fillna(weights.get("medium", 2.0)).to_numpy(dtype="float64") \
        if "severity" in inc else np.full(len(inc), weights.get("medium", 2.0))
    frame = pd.DataFrame({"h3": cells, "w": w, "t": pd.to_datetime(inc["occurred_at"], utc=True).array})
    frame = frame[frame["h3"].notna()]
    agg = frame.groupby("h3", sort=True).agg(count=("w", "size"), score=("w", "sum"), first_time=("t", "min"),
                                              last_time=("t", "max")).reset_index()
    agg = agg.sort_values(["score", "h3"], ascending=[False, True], kind="stable").reset_index(drop=True)
    geoms = [cell_polygon(c) for c in agg["h3"]]
    agg["count"] = agg["count"].astype("int64")
    return gpd.GeoDataFrame(agg, geometry=gpd.GeoSeries(geoms, crs=CRS), crs=CRS)


def hotspots(incidents: gpd.GeoDataFrame | None, now: datetime, *, window: timedelta = timedelta(hours=24),
             resolution: int = 6, min_score: float = 20.0, min_count: int = 1, severity: str = "high",
             weights: dict[str, float] | None = None, rule: str = "hotspot") -> gpd.GeoDataFrame:
    """One finding per H3 cell whose incidents in the ``window`` before ``now`` reach ``min_score``
    (and ``min_count``).

    ``time`` is the incident that took the cell over the threshold. The key is
    rule + cell + the window-sized bucket ``now`` falls in (UTC days for a 24 h
    window): the window slides with every refresh, so the key must not follow
    it, or the same hot spot would be a new alert every 30 seconds.
    """
    weights = weights or SEVERITY_WEIGHTS
    start = pd.Timestamp(now) - pd.Timedelta(window)
    inc = _window(incidents, start, pd.Timestamp(now))
    if inc is None or inc.empty:
        return empty_findings()
    cells = _cells(inc, resolution)
    w = (inc["severity"].astype(object).map(weights).fillna(weights.get("medium", 2.0)).to_numpy(dtype="float64")
         if "severity" in inc else np.full(len(inc), weights.get("medium", 2.0)))
    frame = pd.DataFrame({"h3": cells, "w": w, "t": pd.to_datetime(inc["occurred_at"], utc=True).array,
                          "subject": subject_ids(inc, "incidents"), "place": text_column(inc, "location_name")})
    frame = frame[frame["h3"].notna()].sort_values(["h3", "t", "subject"], kind="stable")
    frame["cum"] = frame.groupby("h3")["w"].cumsum()
    frame["n"] = frame.groupby("h3").cumcount() + 1
    totals = frame.groupby("h3").agg(count=("w", "size"), score=("w", "sum"))
    hot = totals[(totals["score"] >= min_score) & (totals["count"] >= min_count)]
    if hot.empty:
        return empty_findings()
    over = frame[frame["h3"].isin(hot.index) & (frame["cum"] >= min_score) & (frame["n"] >= min_count)]
    when = over.groupby("h3")["t"].min()
    subjects = frame[frame["h3"].isin(hot.index)].groupby("h3")["subject"].agg(list)
    bucket = iso(pd.Timestamp(now).floor(pd.Timedelta(window)))
    cells_hot = hot.index.to_numpy(dtype=object)
    centre = [h3.cell_to_latlng(c) for c in cells_hot]
    km2 = h3.average_hexagon_area(resolution, unit="km^2")
    count = hot["count"].to_numpy()
    score = hot["score"].to_numpy()
    hours = pd.Timedelta(window).total_seconds() / 3600
    named = frame[frame["h3"].isin(hot.index) & (frame["place"] != "")]
    place = named.groupby("h3")["place"].agg(lambda v: v.value_counts().index[0]) if not named.empty else {}
    near = [f" near {place[c]}" if c in place else "" for c in cells_hot]
    message = [f"Hot spot{w}: {n} incidents (score {s:g}) in one ~{km2:.0f} km2 cell in the last {hours:g} h"
               for w, n, s in zip(near, count.tolist(), score.tolist())]
    # Every incident counted is named: an alert is shown only to viewers who may see all its
    # subjects (layers/access/policy.py), so a capped list would let a count include hidden incidents.
    subj_lists = [subjects[c] for c in cells_hot]
    return findings_frame(
        rule=rule, severity=severity, time=when.reindex(hot.index).reset_index(drop=True),
        key=[f"{rule}|h3/{c}|{bucket}" for c in cells_hot],
        subjects=[json_list(s) for s in subj_lists],
        message=message,
        details=json_columns({"h3": cells_hot, "resolution": np.full(len(cells_hot), resolution, dtype=np.int64),
                              "count": count.astype(np.int64), "score": score.astype("float64"),
                              "min_score": np.full(len(cells_hot), float(min_score)),
                              "window_s": np.full(len(cells_hot), pd.Timedelta(window).total_seconds()),
                              "bucket": np.full(len(cells_hot), bucket, dtype=object)}),
        lon=[c[1] for c in centre], lat=[c[0] for c in centre],
    )
