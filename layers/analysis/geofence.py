"""Geofencing of track fixes: border crossings, entries into areas, loitering near targets.

Built to run over a million fixes on every refresh:

- the fixes are sorted once per track and time (`prepare_fixes`; the rules
  engine shares one preparation, and its longitude index, between rules);
- point-in-polygon works on bare coordinates, polygon part by part: the fixes
  in a part's bounding box are a slice of the fixes sorted by longitude, and a
  32 x 32 grid over them settles whole cells that lie inside the part or clear
  of it, so shapely's prepared point-in-polygon runs only where the boundary
  passes (`_membership`, `_intersects_xy`). A point STRtree queried with the
  polygons gave the same pairs at several times the cost (a million point
  geometries and their tree first, and every fix in France's world-wide
  envelope tested against France); polygons in the tree and the points as
  queries tests each point against an unprepared polygon, slower again.
- segment geometry is computed only where consecutive fixes change polygon:
  the change segments are intersected with the polygons' boundary segments
  through a second STRtree, vectorised; the first intersection along the
  segment is the crossing, and its time is interpolated linearly between the
  two fixes' times.

Segments and polygon edges are straight lines in lon/lat, which is how the
border polygons are defined; fixes seconds apart make the difference from a
geodesic negligible. A segment that spans the antimeridian is unwrapped and
tested against copies of the boundary shifted by 360 degrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ingest.tracks import DERIVED_SOURCE
from layers.analysis._geo import (
    Targets,
    fmt_distance,
    fmt_duration,
    pairs_within,
    subject_ids,
    text_column,
)
from layers.analysis.findings import (
    empty_findings,
    findings_frame,
    iso_series,
    json_columns,
    json_lists,
)

_US = 1_000_000  # microseconds per second
_WRAP_BAND = 10.0  # boundary segments this close to the antimeridian get shifted copies
_BAND_GROWTH = 1.05  # see _pass_through
_GRID = 32  # see _intersects_xy


@dataclass(frozen=True)
class Fixes:
    """Track fixes sorted by (track, time), as plain arrays, with a point index built lazily."""

    x: np.ndarray  # lon
    y: np.ndarray  # lat
    t: np.ndarray  # int64 microseconds since the epoch, UTC
    track: np.ndarray  # int codes, equal for fixes of one track
    track_ids: np.ndarray  # code -> track_id
    rows: np.ndarray  # position of each sorted fix in the input frame
    callsign: pd.Series | None  # the input's callsign column (input order), read only for findings
    _cache: dict
    # When the fixes are a selection of each track's (Store.geofence_fixes): whether the fix before
    # each one here is the fix before it in the track (`_joined`), and whether it is the track's last
    # (`_last`). None: every fix of each track is here.
    joined: np.ndarray | None = None
    last: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.x)

    @property
    def same_track_as_previous(self) -> np.ndarray:
        out = np.zeros(len(self.x), dtype=bool)
        out[1:] = self.track[1:] == self.track[:-1]
        return out

    @property
    def adjacent(self) -> np.ndarray:
        """Whether the segment from the fix before to this one is a leg the track flew: the same
        track, and (in a selection) no fix left out between them."""
        same = self.same_track_as_previous
        return same if self.joined is None else same & self.joined

    @property
    def last_of_track(self) -> np.ndarray:
        if self.last is not None:
            return self.last
        return np.r_[self.track[1:] != self.track[:-1], True]

    @property
    def by_lon(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fix indices sorted by longitude, their longitudes, their latitudes): a polygon's fixes are
        a slice of it (then a latitude test), so point-in-polygon needs no point geometries.
        Computed once and shared by the rules."""
        if "by_lon" not in self._cache:
            order = np.argsort(self.x, kind="stable")
            self._cache["by_lon"] = (order, self.x[order], self.y[order])
        return self._cache["by_lon"]

    def near(self, geoms: np.ndarray) -> np.ndarray:
        """Positions of the geometries whose bounding box meets a 1-degree cell holding a fix."""
        if "cells" not in self._cache:
            code = (np.floor(self.x).astype(np.int64) + 180) * 200 + np.floor(self.y).astype(np.int64) + 90
            x0, y0 = np.divmod(np.flatnonzero(np.bincount(code)), 200)
            x0, y0 = x0 - 180.0, y0 - 90.0
            self._cache["cells"] = shapely.STRtree(shapely.box(x0, y0, x0 + 1.0, y0 + 1.0))
        return np.unique(self._cache["cells"].query(geoms)[0])

    def in_box(self, box: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indices, longitudes, latitudes) of the fixes in a (minx, miny, maxx, maxy) box, edges included."""
        order, xs, ys = self.by_lon
        lo, hi = np.searchsorted(xs, box[0], "left"), np.searchsorted(xs, box[2], "right")
        y = ys[lo:hi]
        keep = (y >= box[1]) & (y <= box[3])
        return order[lo:hi][keep], xs[lo:hi][keep], y[keep]

    def names(self, idx: np.ndarray) -> np.ndarray:
        """Callsign of these fixes, else their track id: what a person calls the track."""
        tid = self.track_ids[self.track[idx]]
        if self.callsign is None:
            return tid.astype(object)
        cs = self.callsign.iloc[self.rows[idx]].astype(object).to_numpy()
        return np.array([c if isinstance(c, str) and c.strip() else str(t) for c, t in zip(cs, tid)],
                        dtype=object)

    def track_subjects(self, idx: np.ndarray) -> np.ndarray:
        """`tracks/derived/<track_id>`: the key of the derived track row (ingest/tracks.py)."""
        tid = self.track_ids[self.track[idx]]
        return np.array([f"tracks/{DERIVED_SOURCE}/{v}" for v in tid.tolist()], dtype=object)


def prepare_fixes(track_points: gpd.GeoDataFrame | Fixes | None) -> Fixes:
    """Sort fixes by track and time once; drop fixes without a position or a time."""
    if isinstance(track_points, Fixes):
        return track_points
    if track_points is None or track_points.empty:
        e = np.empty(0)
        return Fixes(e, e, np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, object),
                     np.empty(0, np.int64), None, {})
    g = np.asarray(track_points.geometry.values)
    x = shapely.get_x(g)
    y = shapely.get_y(g)
    times = pd.DatetimeIndex(pd.to_datetime(track_points["time"], utc=True)).as_unit("us")
    t = times.asi8  # NaT is the minimum int64; masked below
    ok = np.isfinite(x) & np.isfinite(y) & ~times.isna()
    codes, uniques = pd.factorize(track_points["track_id"], use_na_sentinel=True)
    ok &= codes >= 0
    rows = np.flatnonzero(ok)
    c, tr = codes[rows], t[rows]
    in_order = bool(np.all((c[1:] > c[:-1]) | ((c[1:] == c[:-1]) & (tr[1:] >= tr[:-1]))))
    order = rows if in_order else rows[np.lexsort((tr, c))]  # fixes often arrive track by track
    callsign = track_points.get("callsign")
    flags = {c: track_points[c].to_numpy(dtype=bool)[order] if c in track_points else None
             for c in ("_joined", "_last")}
    return Fixes(x[order], y[order], t[order], codes[order].astype(np.int64),
                 np.asarray(uniques, dtype=object), order, callsign, {}, flags["_joined"], flags["_last"])


# -- membership and crossings -------------------------------------------------------

def _membership(fixes: Fixes, polys: np.ndarray) -> dict[int, np.ndarray]:
    """Polygon index -> indices of the fixes inside or on it (polygons with none left out).

    Per polygon part (France's bounding box is the world; its mainland's is
    not): the parts near any fix (`Fixes.near`), then the fixes in the part's
    bounding box (a slice of the fixes sorted by longitude, then a latitude
    test), then shapely's prepared point-in-polygon on bare coordinates. A
    point STRtree queried with the polygons gave the same pairs at several
    times the cost: a million point geometries and their tree before the first
    test, and every fix in France's or Russia's envelope tested against them."""
    if len(fixes) == 0 or len(polys) == 0:
        return {}
    parts, owner = shapely.get_parts(polys, return_index=True)
    near = fixes.near(parts)
    bounds = shapely.bounds(parts[near])
    hits: dict[int, np.ndarray] = {}
    for part, k, box in zip(parts[near], owner[near].tolist(), bounds):
        idx, x, y = fixes.in_box(box)
        if len(idx):
            idx = idx[_intersects_xy(part, x, y)]
            if k in hits:  # a fix on a boundary shared by two parts of one polygon counts once
                mask = np.zeros(len(fixes), dtype=bool)
                mask[hits[k]] = True
                mask[idx] = True
                idx = np.flatnonzero(mask)
            hits[k] = idx
    return hits


def _intersects_xy(area: shapely.Geometry, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``shapely.intersects_xy(area, x, y)``, three times faster for many points.

    Most fixes lie deep inside a country or far from a zone, so the points'
    bounding box is cut into _GRID x _GRID cells: a cell the area contains, or
    does not touch, decides all its points at once; only the points of cells
    the boundary crosses are tested one by one. Exact: each cell is tested a
    hair larger than itself, so a point rounded onto a cell's edge is in it."""
    shapely.prepare(area)
    if len(x) < _GRID * _GRID * 4:
        return shapely.intersects_xy(area, x, y)
    x0, y0 = float(x.min()), float(y.min())
    w, h = (float(x.max()) - x0) / _GRID, (float(y.max()) - y0) / _GRID
    if not (w > 0 and h > 0):
        return shapely.intersects_xy(area, x, y)
    cell = (np.minimum(((y - y0) / h).astype(np.int64), _GRID - 1) * _GRID
            + np.minimum(((x - x0) / w).astype(np.int64), _GRID - 1))
    used = np.flatnonzero(np.bincount(cell, minlength=_GRID * _GRID))
    cx, cy = used % _GRID, used // _GRID
    eps = 1e-9 * max(w, h)
    boxes = shapely.box(x0 + cx * w - eps, y0 + cy * h - eps, x0 + (cx + 1) * w + eps, y0 + (cy + 1) * h + eps)
    state = np.zeros(_GRID * _GRID, dtype=np.int8)  # 0 clear of the area, 1 inside, 2 crossed by its boundary
    inside = shapely.contains(area, boxes)
    state[used[inside]] = 1
    state[used[~inside & shapely.intersects(area, boxes)]] = 2
    per_point = state[cell]
    hit = per_point == 1
    mixed = np.flatnonzero(per_point == 2)
    hit[mixed] = shapely.intersects_xy(area, x[mixed], y[mixed])
    return hit


class _Boundaries:
    """Boundary segments of some polygons, indexed, for first-crossing queries."""

    def __init__(self, polys: np.ndarray, which: np.ndarray) -> None:
        parts, owner = shapely.get_parts(polys[which], return_index=True)
        rings, ring_owner = shapely.get_rings(parts, return_index=True)
        coords, ring_of = shapely.get_coordinates(rings, return_index=True)
        same = ring_of[1:] == ring_of[:-1]
        a, b = coords[:-1][same], coords[1:][same]
        poly = which[owner[ring_owner[ring_of[:-1][same]]]]
        # Shifted copies near the antimeridian, for segments unwrapped across it.
        east = np.minimum(a[:, 0], b[:, 0]) > 180 - _WRAP_BAND
        west = np.maximum(a[:, 0], b[:, 0]) < -180 + _WRAP_BAND
        shift = np.array([[360.0, 0.0]])
        self.a = np.concatenate([a, a[east] - shift, a[west] + shift])
        self.b = np.concatenate([b, b[east] - shift, b[west] + shift])
        self.poly = np.concatenate([poly, poly[east], poly[west]])
        self.tree = shapely.STRtree(shapely.linestrings(np.stack([self.a, self.b], axis=1)))

    def first_crossing(self, p: np.ndarray, q: np.ndarray, allowed: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
        """For segments p->q (lon/lat, q already unwrapped), the smallest parameter t in [0, 1] at
        which the segment meets a boundary of one of its allowed polygons (allowed: (n, 2), -1 =
        none). Returns (t, found)."""
        n = len(p)
        t_best = np.full(n, np.inf)
        if n == 0:
            return t_best, np.zeros(0, dtype=bool)
        segs = shapely.linestrings(np.stack([p, q], axis=1))
        si, bi = self.tree.query(segs, predicate="intersects")
        ok = (self.poly[bi] == allowed[si, 0]) | (self.poly[bi] == allowed[si, 1])
        si, bi = si[ok], bi[ok]
        r = q[si] - p[si]
        s = self.b[bi] - self.a[bi]
        w = self.a[bi] - p[si]
        den = r[:, 0] * s[:, 1] - r[:, 1] * s[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (w[:, 0] * s[:, 1] - w[:, 1] * s[:, 0]) / den
        # Collinear overlap (den == 0): the overlap starts at the nearer boundary endpoint.
        col = ~np.isfinite(t)
        if col.any():
            rr = np.maximum((r[col] ** 2).sum(axis=1), 1e-300)
            ta = ((self.a[bi][col] - p[si][col]) * r[col]).sum(axis=1) / rr
            tb = ((self.b[bi][col] - p[si][col]) * r[col]).sum(axis=1) / rr
            t[col] = np.clip(np.minimum(ta, tb), 0.0, 1.0)
        t = np.clip(t, 0.0, 1.0)
        np.minimum.at(t_best, si, t)
        found = np.isfinite(t_best)
        t_best[~found] = 0.5
        return t_best, found


def _unwrapped_segments(fixes: Fixes, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segments from fix i-1 to fix i, the end unwrapped when it jumps the antimeridian."""
    p = np.column_stack([fixes.x[i - 1], fixes.y[i - 1]])
    q = np.column_stack([fixes.x[i], fixes.y[i]])
    dx = q[:, 0] - p[:, 0]
    q[:, 0] -= 360.0 * np.round(dx / 360.0)
    return p, q


def _crossing(fixes: Fixes, i: np.ndarray, t: np.ndarray, p: np.ndarray, q: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    x = p[:, 0] + t * (q[:, 0] - p[:, 0])
    x = (x + 180.0) % 360.0 - 180.0
    y = p[:, 1] + t * (q[:, 1] - p[:, 1])
    t0, t1 = fixes.t[i - 1], fixes.t[i]
    us = t0 + np.round(t * (t1 - t0)).astype(np.int64)
    return x, y, _times(us)


def _times(us: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(np.asarray(us, dtype=np.int64), unit="us", utc=True))


def _area_frame(areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    areas = areas[areas.geometry.notna() & ~areas.geometry.is_empty]
    return areas[areas.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]


# -- rules --------------------------------------------------------------------------

def border_crossings(track_points: gpd.GeoDataFrame | Fixes | None, borders: gpd.GeoDataFrame | None, *,
                     rule: str = "border_crossing", severity: str = "medium",
                     layer: str = "borders") -> gpd.GeoDataFrame:
    """One finding each time a track goes from one country into another.

    Each fix gets the country it lies in (the smallest polygon if borders
    overlap). A fix outside every country (sea, unmapped) does not end the
    track's stay: the track's country carries over, so A -> sea -> A is no
    crossing and A -> sea -> B is one, located where the track entered B.
    The crossing point is the first intersection of the segment between the
    two fixes with the boundary of either country; its time is interpolated
    between the fixes. Key: rule, track, from>to, and the time of the fix after
    the crossing (data, not arithmetic, so it never drifts between refreshes).
    """
    fixes = prepare_fixes(track_points)
    if len(fixes) < 2 or borders is None or borders.empty:
        return empty_findings()
    borders = _area_frame(borders).reset_index(drop=True)
    polys = np.asarray(borders.geometry.values)
    hits = _membership(fixes, polys)
    label = np.full(len(fixes), -1, dtype=np.int64)
    # Largest first, so a fix in overlapping polygons ends with the smallest (the first on equal areas).
    for k in sorted(hits, key=lambda k: (-shapely.area(polys[k]), -k)):
        label[hits[k]] = k
    # The track's country carries over fixes outside every polygon: the last known label of the track.
    at = np.arange(len(fixes))
    last = np.maximum.accumulate(np.where(label >= 0, at, -1))
    carried = np.where((last >= 0) & (fixes.track[np.maximum(last, 0)] == fixes.track), label[last], np.nan)
    prev = np.full(len(fixes), np.nan)
    prev[1:] = carried[:-1]
    same = fixes.same_track_as_previous
    i = np.flatnonzero(same & (label >= 0) & np.isfinite(prev) & (label != np.nan_to_num(prev, nan=-1)))
    if len(i) == 0:
        return empty_findings()
    frm = prev[i].astype(np.int64)
    to = label[i]
    # Allowed boundaries: both countries when the previous fix was in the old one, only the new
    # one when the track came over unmapped ground (the entry into the new country).
    allowed = np.column_stack([np.where(label[i - 1] == frm, frm, to), to])
    p, q = _unwrapped_segments(fixes, i)
    bnd = _Boundaries(polys, np.unique(allowed))
    t, found = bnd.first_crossing(p, q, allowed)
    cx, cy, ctime = _crossing(fixes, i, t, p, q)

    codes = text_column(borders, "country_code", "source_id").astype(object)
    names = text_column(borders, "name", "country_code", "source_id").astype(object)
    subj = subject_ids(borders, layer)
    track_subj = fixes.track_subjects(i)
    who = fixes.names(i)
    before, after = iso_series(_times(fixes.t[i - 1])), iso_series(_times(fixes.t[i]))
    message = ("Track '" + who + "' crossed from " + names[frm] + " into " + names[to] + " at "
               + ctime.dt.strftime("%H:%M:%S UTC").to_numpy(dtype=object))
    details = json_columns({
        "from_country": codes[frm], "from_name": names[frm], "to_country": codes[to], "to_name": names[to],
        "crossing_lon": np.round(cx, 6), "crossing_lat": np.round(cy, 6),
        "fix_before": before, "fix_after": after, "gap_s": (fixes.t[i] - fixes.t[i - 1]) / _US,
        "estimated": ~found, "track_id": fixes.track_ids[fixes.track[i]],
    })
    return findings_frame(
        rule=rule, severity=severity, time=ctime,
        key=(rule + "|" + track_subj + "|" + codes[frm] + ">" + codes[to] + "|" + after.to_numpy(dtype=object)
             ).tolist(),
        subjects=json_lists(track_subj, subj[frm], subj[to]), message=message.tolist(), details=details,
        lon=cx, lat=cy,
    )


def area_entries(track_points: gpd.GeoDataFrame | Fixes | None, areas: gpd.GeoDataFrame | None, *,
                 rule: str = "disputed_area_entry", severity: str = "high", layer: str = "disputed_areas",
                 label: str = "disputed area") -> gpd.GeoDataFrame:
    """One finding each time a track enters an area (disputed area, restricted zone).

    An entry is a segment between consecutive fixes of a track that goes from
    outside an area to inside it, or that passes through it with both fixes
    outside (a drone at 30 m/s with 5 s fixes jumps 150 m: a small zone can lie
    between two fixes). Areas may overlap; each is judged on its own. A track
    first seen already inside is not an entry (nothing was seen crossing; and
    with a sliding window its first fix would change every refresh, and so
    would the key). The entry point is the first intersection of the segment
    with the area's boundary, its time interpolated.
    Key: rule, track, area, and the time of the fix that ends the segment.
    ``areas`` needs a geometry and preferably ``name``, ``source``, ``source_id``.
    """
    fixes = prepare_fixes(track_points)
    if len(fixes) < 2 or areas is None or areas.empty:
        return empty_findings()
    areas = _area_frame(areas).reset_index(drop=True)
    polys = np.asarray(areas.geometry.values)
    if len(polys) == 0:
        return empty_findings()
    hits = _membership(fixes, polys)
    fi = np.concatenate([v for v in hits.values()] or [np.empty(0, np.int64)]).astype(np.int64)
    ai = np.repeat(np.fromiter(hits, np.int64, len(hits)), [len(v) for v in hits.values()])
    na = len(polys)
    inside = np.sort(fi * na + ai)
    entry = fixes.adjacent[fi] & ~_contains_sorted(inside, (fi - 1) * na + ai)
    through_i, through_a = _pass_through(fixes, polys, inside)
    i = np.concatenate([fi[entry], through_i])
    a = np.concatenate([ai[entry], through_a])
    passed = np.r_[np.zeros(int(entry.sum()), dtype=bool), np.ones(len(through_i), dtype=bool)]
    if len(i) == 0:
        return empty_findings()
    o = np.lexsort((a, i))
    i, a, passed = i[o], a[o], passed[o]
    p, q = _unwrapped_segments(fixes, i)
    bnd = _Boundaries(polys, np.unique(a))
    t, found = bnd.first_crossing(p, q, np.column_stack([a, np.full(len(a), -1)]))
    cx, cy, ctime = _crossing(fixes, i, t, p, q)
    names = text_column(areas, "name", "source_id", default=label).astype(object)
    subj = subject_ids(areas, layer)
    track_subj = fixes.track_subjects(i)
    fix_after = iso_series(_times(fixes.t[i]))
    verb = np.where(passed, "' passed through ", "' entered ")
    message = ("Track '" + fixes.names(i) + verb + label + " '" + names[a] + "' at "
               + ctime.dt.strftime("%H:%M:%S UTC").to_numpy(dtype=object))
    details = json_columns({
        "area": names[a], "entry_lon": np.round(cx, 6), "entry_lat": np.round(cy, 6),
        "fix_before": iso_series(_times(fixes.t[i - 1])), "fix_after": fix_after, "passed_through": passed,
        "estimated": ~found, "track_id": fixes.track_ids[fixes.track[i]],
    })
    return findings_frame(
        rule=rule, severity=severity, time=ctime,
        key=(rule + "|" + track_subj + "|" + subj[a] + "|" + fix_after.to_numpy(dtype=object)).tolist(),
        subjects=json_lists(track_subj, subj[a]), message=message.tolist(), details=details, lon=cx, lat=cy,
    )


def _pass_through(fixes: Fixes, polys: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segments (by end fix i) that cross a polygon with both fixes outside it.

    Without testing a million segments: a segment that meets a polygon with both
    ends outside crosses its boundary, so both ends lie within the segment's
    length of the boundary. The fixes within the 99th percentile segment length
    of each boundary (a thin band around it) give the candidates; the few longer
    segments are tested directly; only candidates get an exact test. The band is
    the boundary buffered by 5 % more than that length: GEOS draws the round
    joins with chords, at most 2 % inside the circle, so the band holds every
    fix within the length (a few more candidates, none missed)."""
    na = len(polys)
    same = fixes.adjacent
    seg = np.flatnonzero(same)
    if len(seg) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    dx = np.abs(fixes.x[seg] - fixes.x[seg - 1])
    dx = np.minimum(dx, 360.0 - dx)
    span = np.hypot(dx, fixes.y[seg] - fixes.y[seg - 1])  # lon/lat length, the polygons' own plane
    margin = float(np.quantile(span, 0.99))
    grow = np.array([-margin, -margin, margin, margin])
    bounds = shapely.bounds(polys)
    pf_parts, pa_parts = [], []
    for k in range(na):
        idx, x, y = fixes.in_box(bounds[k] + grow)
        if len(idx):
            band = shapely.buffer(shapely.boundary(polys[k]), margin * _BAND_GROWTH)
            idx = idx[_intersects_xy(band, x, y)]
            pf_parts.append(idx)
            pa_parts.append(np.full(len(idx), k, dtype=np.int64))
    pf = np.concatenate(pf_parts) if pf_parts else np.empty(0, np.int64)
    pa = np.concatenate(pa_parts) if pa_parts else np.empty(0, np.int64)
    ends = np.concatenate([pf, pf + 1])  # the segments ending at and starting from each near fix
    owner = np.concatenate([pa, pa])
    ok = (ends >= 1) & (ends < len(fixes))
    ends, owner = ends[ok], owner[ok]
    ok = same[ends]
    ends, owner = ends[ok], owner[ok]
    long = seg[span > margin]
    if len(long):
        p, q = _unwrapped_segments(fixes, long)
        li, la = shapely.STRtree(polys).query(shapely.linestrings(np.stack([p, q], axis=1)), predicate="intersects")
        ends, owner = np.concatenate([ends, long[li]]), np.concatenate([owner, la])
    code = np.unique(ends * na + owner)
    ends, owner = code // na, code % na
    out = ~_contains_sorted(inside, ends * na + owner) & ~_contains_sorted(inside, (ends - 1) * na + owner)
    ends, owner = ends[out], owner[out]
    if len(ends) == 0:
        return ends, owner
    p, q = _unwrapped_segments(fixes, ends)
    shapely.prepare(polys)
    hit = shapely.intersects(shapely.linestrings(np.stack([p, q], axis=1)), polys[owner])
    return ends[hit], owner[hit]


def loitering(track_points: gpd.GeoDataFrame | Fixes | None, targets: gpd.GeoDataFrame | None, *,
              radius_m: float, min_dwell_s: float, max_gap_s: float | None = None,
              rule: str = "loitering", severity: str = "high", target_layer: str = "infrastructure"
              ) -> gpd.GeoDataFrame:
    """One finding per continuous dwell of a track within ``radius_m`` of a target lasting >= ``min_dwell_s``.

    A dwell is a run of consecutive fixes of one track all within the radius
    (geodesic metres); it ends at the first fix outside, or where two fixes are
    more than ``max_gap_s`` apart (if given: a track lost for an hour did not
    provably stay). Dwell time = last fix time - first fix time of the run, so
    fixes every 10 s for 20 min give 1200 s. ``time`` is the moment the dwell
    reached ``min_dwell_s`` (when it became loitering); the key uses the dwell's
    first fix time, which does not move while the dwell goes on.
    """
    fixes = prepare_fixes(track_points)
    if len(fixes) == 0 or targets is None or targets.empty:
        return empty_findings()
    targets = targets[targets.geometry.notna() & ~targets.geometry.is_empty].reset_index(drop=True)
    if targets.empty:
        return empty_findings()
    where = Targets(targets.geometry.values)
    fi, tj, dist = pairs_within(fixes.x, fixes.y, where, np.full(len(targets), float(radius_m)))
    if len(fi) == 0:
        return empty_findings()
    o = np.lexsort((fi, tj))
    fi, tj, dist = fi[o], tj[o], dist[o]
    brk = np.ones(len(fi), dtype=bool)
    brk[1:] = ((tj[1:] != tj[:-1]) | (fi[1:] != fi[:-1] + 1) | ~fixes.adjacent[fi[1:]])
    if max_gap_s is not None:
        brk[1:] |= (fixes.t[fi[1:]] - fixes.t[fi[:-1]]) > max_gap_s * _US
    run = np.cumsum(brk) - 1
    starts = np.flatnonzero(brk)
    ends = np.r_[starts[1:], len(fi)] - 1
    t_start = fixes.t[fi[starts]]
    t_end = fixes.t[fi[ends]]
    dwell_us = t_end - t_start
    keep = dwell_us >= min_dwell_s * _US
    if not keep.any():
        return empty_findings()
    # The first fix of each run at which the dwell reached the threshold.
    reached = (fixes.t[fi] - t_start[run]) >= min_dwell_s * _US
    first_reach = np.full(len(starts), -1, dtype=np.int64)
    cand = np.flatnonzero(reached)[::-1]
    first_reach[run[cand]] = cand  # reversed, so the earliest index is written last
    min_d = np.minimum.reduceat(dist, starts)
    s, e, r = starts[keep], ends[keep], first_reach[keep]
    f0, f1 = fi[s], fi[e]
    tgt = tj[s]
    ongoing = fixes.last_of_track[f1]
    tname = text_column(targets, "name", "unit_name", "source_id", default="target").astype(object)
    kind = np.array([k.replace("_", " ") for k in text_column(targets, "kind", default="target").tolist()],
                    dtype=object)
    if target_layer == "deployments":
        kind = np.full(len(targets), "partner unit", dtype=object)
    tsubj = subject_ids(targets, target_layer)
    track_subj = fixes.track_subjects(f0)
    start_iso = iso_series(_times(t_start[keep]))
    dwell_s = dwell_us[keep] / _US
    message = ("Track '" + fixes.names(f0) + "' loitered " + np.array([fmt_duration(v) for v in dwell_s],
                                                                        dtype=object)
               + " within " + fmt_distance(np.full(len(s), float(radius_m))) + " of " + kind[tgt] + " '"
               + tname[tgt] + "'" + np.where(ongoing, " (ongoing)", ""))
    details = json_columns({
        "dwell_s": dwell_s, "fixes": (e - s + 1).astype(np.int64), "radius_m": np.full(len(s), float(radius_m)),
        "min_dwell_s": np.full(len(s), float(min_dwell_s)), "min_distance_m": np.round(min_d[keep], 1),
        "first_fix": start_iso, "last_fix": iso_series(_times(t_end[keep])), "ongoing": ongoing,
        "target_name": tname[tgt], "track_id": fixes.track_ids[fixes.track[f0]],
    })
    return findings_frame(
        rule=rule, severity=severity, time=_times(fixes.t[fi[r]]),
        key=(rule + "|" + track_subj + "|" + tsubj[tgt] + "|" + start_iso.to_numpy(dtype=object)).tolist(),
        subjects=json_lists(track_subj, tsubj[tgt]), message=message.tolist(), details=details,
        lon=where.lon[tgt], lat=where.lat[tgt],  # the target: what was loitered at
    )


def _contains_sorted(sorted_values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    if len(sorted_values) == 0:
        return np.zeros(len(queries), dtype=bool)
    pos = np.searchsorted(sorted_values, queries)
    pos = np.minimum(pos, len(sorted_values) - 1)
    return sorted_values[pos] == queries
