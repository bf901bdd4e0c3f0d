"""Geodesy shared by the rules: distances in metres that are right anywhere on Earth, fast.

Why this shape: degrees are never a distance, pyproj.Geod is exact but costs
about a microsecond per pair, and a single projection (UTM, LAEA) is wrong for
data that spans zones, the antimeridian or the poles. So a pair search runs
in three steps, each conservative, and only the undecided pairs reach Geod:

1. **Filter in 3D.** Points become earth-centred (ECEF) coordinates on the
   WGS84 ellipsoid. The straight chord between two points is never longer
   than the geodesic, so every pair within ``d`` on the ellipsoid is within
   ``d`` in 3D. The space is cut into the six faces of a cube (each point
   goes to the face of its largest coordinate) and each face is dropped onto
   its plane by leaving that coordinate out: an orthogonal projection never
   lengthens a distance, so an STRtree envelope query in that plane with
   boxes of half-side ``d`` misses no pair, at the antimeridian, at the poles
   or anywhere else. Targets near a face's edge are queried in both faces.
2. **Estimate.** For each candidate the chord length ``c`` gives the geodesic
   as the arc ``2 R asin(c / 2R)`` of the normal section's radius of
   curvature ``R`` in the pair's direction at its midpoint (Euler's formula
   from the meridian and prime-vertical radii). Against pyproj.Geod over
   two million random pairs (poles, equator, antimeridian, 1 cm to 1,000 km)
   this is within 5 nm up to 30 km and 3e-32 c^5 beyond: `_tolerance` allows
   ten times the floor and seven times the growth.
3. **Confirm.** A pair whose estimate is farther than that tolerance from
   the limit is decided without Geod; the others, and every pair whose
   distance lies within the tolerance of a multiple of 5 cm (where rounding
   to 0.1 m, 1 m or 0.1 km for a message could tip), get pyproj.Geod. So the
   pairs are exactly Geod's and every distance shown is Geod's, rounded.

A point cloud in track order (fixes seconds apart) is grouped into runs of
consecutive points, one envelope per run, so a million fixes cost a few
tens of thousands of envelopes rather than a million geometries.

Polygon targets (restricted zones, facility footprints) take the same 3D
filter around their centre, and their candidates are measured to the nearest
boundary point in an azimuthal equidistant projection centred on the point's
tile (5-degree latitude bands cut into columns about 5 degrees wide), then
with Geod from the point to that boundary point.
"""

from __future__ import annotations

from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import Geod, Transformer

from layers.analysis import _text

GEOD = Geod(ellps="WGS84")
BAND_DEG = 5.0
_A, _E2 = GEOD.a, GEOD.es
# The chord is never longer than the geodesic; this covers the rounding of the coordinates (nanometres).
_CHORD_SLACK_M = 1e-6
# Polygon targets: edges are straight in lon/lat, not in 3D, so the reach around the centre gets room.
_INFLATE = 1.01
_SLACK_M = 1.0
# Every distance a rule shows is rounded to 0.1 m, 1 m or 0.1 km: all tip at multiples of 5 cm.
_ROUNDING_STEP_M = 0.05
_MAX_RUN = 32  # points per envelope, for input in track order


# -- the ellipsoid in 3D ---------------------------------------------------------------

def ecef(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Earth-centred coordinates in metres of points on the WGS84 ellipsoid, one row per point.

    The textbook formula: pyproj's EPSG:4978 transform agrees to nanometres and takes twice as long,
    which for a million fixes is a tenth of a second."""
    lam, phi = np.radians(lon), np.radians(lat)
    sp = np.sin(phi)
    n = _A / np.sqrt(1.0 - _E2 * sp * sp)
    out = np.empty((len(sp), 3))
    ncp = n * np.cos(phi)
    np.multiply(ncp, np.cos(lam), out=out[:, 0])
    np.multiply(ncp, np.sin(lam), out=out[:, 1])
    np.multiply(n * (1.0 - _E2), sp, out=out[:, 2])
    return out


def geodesic_estimate(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(chord, estimated geodesic) in metres between ECEF points, row by row (module docstring, step 2)."""
    d = q - p
    c = np.sqrt(np.einsum("ij,ij->i", d, d))
    m = p + q  # the midpoint's direction; its length does not matter
    lam = np.arctan2(m[:, 1], m[:, 0])
    phi = np.arctan2(m[:, 2], (1.0 - _E2) * np.hypot(m[:, 0], m[:, 1]))
    sl, cl, sp, cp = np.sin(lam), np.cos(lam), np.sin(phi), np.cos(phi)
    east = cl * d[:, 1] - sl * d[:, 0]
    north = cp * d[:, 2] - sp * (cl * d[:, 0] + sl * d[:, 1])
    e2, n2 = east * east, north * north
    w = 1.0 - _E2 * sp * sp
    inv_m = w * np.sqrt(w) / (_A * (1.0 - _E2))  # 1 / meridian radius
    inv_n = np.sqrt(w) / _A  # 1 / prime-vertical radius
    h2 = e2 + n2
    inv_r = np.divide(n2 * inv_m + e2 * inv_n, h2, out=inv_n.copy(), where=h2 > 0)
    est = 2.0 * np.arcsin(np.minimum(0.5 * c * inv_r, 1.0)) / inv_r
    return c, est


def _tolerance(chord: np.ndarray) -> np.ndarray:
    """Bound on |estimate - Geod| (module docstring, step 2)."""
    return 5e-8 + 2e-31 * chord ** 5


def _faces(xyz: np.ndarray) -> np.ndarray:
    """Cube face of each point: 2 * axis of its largest coordinate, + 1 if that coordinate is negative."""
    k = np.argmax(np.abs(xyz), axis=1)
    return 2 * k + (xyz[np.arange(len(xyz)), k] < 0)


def _boxes(u0: np.ndarray, v0: np.ndarray, u1: np.ndarray, v1: np.ndarray) -> np.ndarray:
    """Envelopes as two-point lines: the cheapest shapely geometry with that envelope."""
    return shapely.linestrings(np.stack([np.column_stack([u0, v0]), np.column_stack([u1, v1])], axis=1))


def _envelopes(u: np.ndarray, v: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(geometries, first position, count) covering the points in order: the points themselves, or,
    when consecutive points lie close together compared with the reach (track fixes), one envelope
    per run of consecutive points, so a million fixes need tens of thousands of geometries."""
    n = len(u)
    if n >= 4 * _MAX_RUN:
        steps = np.hypot(np.diff(u), np.diff(v))
        typical = float(np.median(steps[:: max(1, len(steps) // 4096)]))
        run = _MAX_RUN if typical == 0 else int(min(_MAX_RUN, 8 * reach / typical))
        if run >= 4:
            # A run restarts after every jump longer than the reach (the next track, a gap).
            at = np.arange(n)
            first = np.maximum.accumulate(np.where(np.r_[True, steps > reach], at, 0))
            starts = np.flatnonzero((at - first) % run == 0)
            return (_boxes(np.minimum.reduceat(u, starts), np.minimum.reduceat(v, starts),
                           np.maximum.reduceat(u, starts), np.maximum.reduceat(v, starts)),
                    starts, np.diff(np.r_[starts, n]))
    return shapely.points(u, v), np.arange(n), np.ones(n, dtype=np.int64)


def _candidates(p: np.ndarray, q: np.ndarray, reach: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (point, target) index pair whose ECEF points may lie within the target's reach, and more.

    A point in face +x satisfies x >= |y|, |z|; a target within r of it then has x >= |y| - 2r and
    x >= |z| - 2r, which is how targets are picked for a face (module docstring, step 1)."""
    face = _faces(p)
    out_p, out_t = [], []
    for f in np.flatnonzero(np.bincount(face, minlength=6)):
        k, negative = divmod(int(f), 2)
        a, b = [j for j in range(3) if j != k]
        sign = -1.0 if negative else 1.0
        tsel = np.flatnonzero(sign * q[:, k] >= np.maximum(np.abs(q[:, a]), np.abs(q[:, b])) - 2.0 * reach)
        if len(tsel) == 0:
            continue
        pidx = np.flatnonzero(face == f)
        r = reach[tsel]
        items, starts, sizes = _envelopes(p[pidx, a], p[pidx, b], float(r.max()))
        tu, tv = q[tsel, a], q[tsel, b]
        ti, ii = shapely.STRtree(items).query(_boxes(tu - r, tv - r, tu + r, tv + r))
        n = sizes[ii]
        pos = np.repeat(starts[ii] - (np.cumsum(n) - n), n) + np.arange(int(n.sum()))
        out_p.append(pidx[pos])
        out_t.append(tsel[np.repeat(ti, n)])
    if not out_p:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(out_p), np.concatenate(out_t)


# -- tiles and projections (distances to polygons) ------------------------------------

def unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lam, phi = np.radians(lon), np.radians(lat)
    c = np.cos(phi)
    return np.column_stack([c * np.cos(lam), c * np.sin(lam), np.sin(phi)])


def tile_ids(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Tile of each point: band * 100 + column (see module docstring)."""
    band = np.clip(np.floor((np.asarray(lat) + 90.0) / BAND_DEG), 0, 180 / BAND_DEG - 1).astype(np.int64)
    ncols = _ncols(band)
    col = np.clip(np.floor((np.asarray(lon) + 180.0) / 360.0 * ncols), 0, ncols - 1).astype(np.int64)
    return band * 100 + col


def _ncols(band: np.ndarray) -> np.ndarray:
    mid = -90.0 + BAND_DEG * (band + 0.5)
    return np.maximum(1, np.floor(360.0 / BAND_DEG * np.cos(np.radians(mid)))).astype(np.int64)


def tile_centre(tile: int) -> tuple[float, float]:
    band, col = divmod(int(tile), 100)
    ncols = int(_ncols(np.array([band]))[0])
    lat = -90.0 + BAND_DEG * (band + 0.5)
    lon = -180.0 + 360.0 * (col + 0.5) / ncols
    return lon, lat


@lru_cache(maxsize=4096)
def local_transformer(lon0: float, lat0: float) -> Transformer:
    """Lon/lat -> metres in an AEQD centred on (lon0, lat0). Cached: tiles are fixed, so
    the dashboard's refreshes reuse the same few transformers."""
    return Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m +no_defs", always_xy=True)


def project(transformer: Transformer, geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


# -- targets ---------------------------------------------------------------------------

class Targets:
    """Target geometries prepared once for many queries: a centre in 3D and a reach around it.

    Points are the common case (infrastructure, units); polygons (restricted
    zones, facility footprints) are supported with the chord from their centre
    to their farthest boundary point.
    """

    def __init__(self, geoms: np.ndarray) -> None:
        self.geoms = np.asarray(geoms, dtype=object)
        n = len(self.geoms)
        self.is_point = shapely.get_type_id(self.geoms) == 0
        # Points are their own centre; a polygon's centre is the mean unit vector of its
        # vertices (a lon/lat centroid is wrong for a shape split at the antimeridian).
        self.lon = shapely.get_x(np.where(self.is_point, self.geoms, None))
        self.lat = shapely.get_y(np.where(self.is_point, self.geoms, None))
        self.radius_m = np.zeros(n)  # chord from the centre to the farthest vertex
        shapes = np.flatnonzero(~self.is_point & ~shapely.is_missing(self.geoms))
        if len(shapes):
            coords, which = shapely.get_coordinates(self.geoms[shapes], return_index=True)
            uv = unit_vectors(coords[:, 0], coords[:, 1])
            sums = np.zeros((len(shapes), 3))
            np.add.at(sums, which, uv)
            norm = np.linalg.norm(sums, axis=1)
            norm[norm == 0] = 1.0
            mean = sums / norm[:, None]
            self.lon[shapes] = np.degrees(np.arctan2(mean[:, 1], mean[:, 0]))
            self.lat[shapes] = np.degrees(np.arcsin(np.clip(mean[:, 2], -1, 1)))
            # The reach: the farthest boundary point, with edges cut to 0.05 degrees first (an edge is
            # straight in lon/lat, not in 3D, so its middle can lie farther out than its ends).
            centre = ecef(self.lon[shapes], self.lat[shapes])
            dense, owner = shapely.get_coordinates(shapely.segmentize(self.geoms[shapes], 0.05), return_index=True)
            chord = np.linalg.norm(ecef(dense[:, 0], dense[:, 1]) - centre[owner], axis=1)
            rad = np.zeros(len(shapes))
            np.maximum.at(rad, owner, chord)
            self.radius_m[shapes] = rad
        self.xyz = ecef(self.lon, self.lat)


def pairs_within(lon: np.ndarray, lat: np.ndarray, targets: Targets, limit_m: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (point, target) pair whose ellipsoidal distance is <= the target's limit.

    Returns (point index, target index, distance in metres), sorted by point then
    target. Distances to point targets are pyproj.Geod's geodesics, to within
    50 nm and exactly where a rounding to 0.1 m could tip (module docstring);
    to polygons, the geodesic to the nearest boundary point found in
    the local projection (0 inside). A polygon is projected vertex by vertex, so
    its edges become straight in the projection rather than in lon/lat: for zones
    of a few km the difference is centimetres. Targets with a NaN or negative
    limit are never matched.
    """
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    limit_m = np.asarray(limit_m, dtype="float64")
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    usable = (np.isfinite(limit_m) & (limit_m >= 0) & ~shapely.is_missing(targets.geoms)
              & np.isfinite(targets.xyz).all(axis=1))
    ok_pts = np.isfinite(lon) & np.isfinite(lat)
    if len(lon) == 0 or not usable.any() or not ok_pts.any():
        return empty
    pidx, tidx = np.flatnonzero(ok_pts), np.flatnonzero(usable)
    p = ecef(lon[pidx], lat[pidx])
    point = targets.is_point[tidx]
    limit = limit_m[tidx]
    reach = np.where(point, limit + _CHORD_SLACK_M, (limit + targets.radius_m[tidx]) * _INFLATE + _SLACK_M)
    q = targets.xyz[tidx]
    ci, cj = _candidates(p, q, reach)
    near = _chord2(p, q, ci, cj) <= reach[cj] ** 2  # the chord test: cheap, and most candidates end here
    ci, cj = ci[near], cj[near]
    pi, tj = pidx[ci], tidx[cj]
    on_point = point[cj]
    d = np.empty(len(ci))
    keep = np.zeros(len(ci), dtype=bool)
    if on_point.any():
        w = np.flatnonzero(on_point)
        d[w], keep[w] = _point_distances(p[ci[w]], q[cj[w]], lon[pi[w]], lat[pi[w]],
                                         targets.lon[tj[w]], targets.lat[tj[w]], limit[cj[w]])
    if not on_point.all():
        w = np.flatnonzero(~on_point)
        d[w] = _shape_distances(lon, lat, pi[w], tj[w], targets.geoms)
        keep[w] = d[w] <= limit[cj[w]]
    pi, tj, d = pi[keep], tj[keep], d[keep]
    o = np.argsort(pi * len(limit_m) + tj, kind="stable")
    return pi[o], tj[o], d[o]


def _chord2(p: np.ndarray, q: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Squared chords between p[i] and q[j], a coordinate at a time (no (n, 3) temporaries)."""
    out = np.zeros(len(i))
    for k in range(3):
        g = q[:, k][j] - p[:, k][i]
        out += g * g
    return out


def _point_distances(p: np.ndarray, q: np.ndarray, lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray,
                     lat2: np.ndarray, limit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distance, within limit) of candidate pairs: estimated, or Geod where the estimate could
    decide the limit or a rounding differently (module docstring, step 3)."""
    c, d = geodesic_estimate(p, q)
    tol = _tolerance(c)
    steps = d / _ROUNDING_STEP_M
    exact = (np.abs(d - limit) <= tol) | (np.abs(steps - np.rint(steps)) * _ROUNDING_STEP_M <= tol)
    if exact.any():
        _, _, g = GEOD.inv(lon1[exact], lat1[exact], lon2[exact], lat2[exact])
        d[exact] = np.abs(g)
    return d, d <= limit


def _shape_distances(lon: np.ndarray, lat: np.ndarray, pi: np.ndarray, tj: np.ndarray,
                     geoms: np.ndarray) -> np.ndarray:
    """Distances from points to polygon targets, pair by pair, in the AEQD of each point's tile."""
    d = np.empty(len(pi))
    tiles = tile_ids(lon[pi], lat[pi])
    for tile in np.unique(tiles):
        w = np.flatnonzero(tiles == tile)
        tr = local_transformer(*tile_centre(int(tile)))
        px, py = tr.transform(lon[pi[w]], lat[pi[w]])
        used, inv = np.unique(tj[w], return_inverse=True)
        shapes = project(tr, geoms[used])[inv]
        pts = shapely.points(px, py)
        inside = shapely.intersects(shapes, pts)
        d[w[inside]] = 0.0
        out = np.flatnonzero(~inside)
        if len(out):
            line = shapely.shortest_line(pts[out], shapes[out])
            end = shapely.get_coordinates(shapely.get_point(line, 1))
            elon, elat = tr.transform(end[:, 0], end[:, 1], direction="INVERSE")
            _, _, g = GEOD.inv(lon[pi[w[out]]], lat[pi[w[out]]], elon, elat)
            d[w[out]] = np.abs(g)
    return d


# -- times -----------------------------------------------------------------------------

NAT_US = np.iinfo(np.int64).min


def epoch_us(times: pd.Series) -> np.ndarray:
    """UTC microseconds since the epoch as int64 (NaT -> NAT_US).

    Why: ``.to_numpy()`` of a tz-aware column boxes every value into a
    Timestamp object, which made a million-row comparison take seconds."""
    return pd.DatetimeIndex(pd.to_datetime(times, utc=True)).as_unit("us").asi8


# -- identities and text ---------------------------------------------------------------
# Arrow text (layers/analysis/_text.py) for the rules with many findings; the numpy versions
# (object arrays of str) for the rules that build a few hundred messages with `+`.

def subject_text(frame: pd.DataFrame, layer: str, *, id_column: str = "source_id",
                 source: str | None = None) -> pa.Array:
    """``layer/source/source_id`` per row: the record key as one string.

    A frame without a source column (a bare reference file, an analyst's zone)
    gets ``source`` if given, else an empty source."""
    n = len(frame)
    src: str | pa.Array | None = source if source is not None else ("" if "source" not in frame else
                                                                     _text.column_strings(frame, "source"))
    ids = _text.column_strings(frame, id_column) if id_column in frame else None
    if src is None or (ids is None and id_column in frame) or n == 0:
        return _text.strings(_subject_ids_any(frame, layer, id_column=id_column, source=source))
    if ids is None:
        ids = _text.strings(np.array([str(i) for i in frame.index], dtype=object))
    if not isinstance(src, str):
        src = _text.fill(src, "")
    return _text.join(layer + "/", src, "/", _text.fill(ids, ""))


def _subject_ids_any(frame: pd.DataFrame, layer: str, *, id_column: str, source: str | None) -> np.ndarray:
    """`subject_text` for columns of any type (numbers as ids: str() of each)."""
    n = len(frame)
    if source is not None:
        src = np.full(n, source, dtype=object)
    elif "source" in frame:
        src = frame["source"].astype(object).where(frame["source"].notna(), "").to_numpy(dtype=object)
    else:
        src = np.full(n, "", dtype=object)
    if id_column in frame:
        ids = frame[id_column].astype(object).where(frame[id_column].notna(), "").to_numpy(dtype=object)
    else:
        ids = np.array([str(i) for i in frame.index], dtype=object)
    return np.array([f"{layer}/{s}/{i}" for s, i in zip(src, ids)], dtype=object)


def subject_ids(frame: pd.DataFrame, layer: str, *, id_column: str = "source_id",
                source: str | None = None) -> np.ndarray:
    return _text.to_numpy(subject_text(frame, layer, id_column=id_column, source=source))


def distance_text(metres: np.ndarray | float) -> pa.Array:
    """780 m, 1.2 km, 35 km: precise enough to read, not more."""
    m = np.atleast_1d(np.asarray(metres, dtype="float64"))
    small, mid = m < 1000, (m >= 1000) & (m < 10_000)
    km = m / 1000
    out = _text.join(_text.fixed(np.where(small, m, km), 0),
                     pc.if_else(pa.array(small), pa.scalar(" m", _text.TEXT), pa.scalar(" km", _text.TEXT)))
    if mid.any():
        out = _text.put(out, np.flatnonzero(mid), _text.join(_text.fixed(km[mid], 1), " km"))
    return out


def fmt_distance(metres: np.ndarray | float) -> np.ndarray:
    return _text.to_numpy(distance_text(metres))


def fmt_duration(seconds: float) -> str:
    s = round(float(seconds))
    if s < 120:
        return f"{s} s"
    if s < 2 * 3600:
        return f"{s // 60} min"
    if s < 2 * 86_400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m:02d} min" if m else f"{h} h"
    return f"{s // 86_400} d {(s % 86_400) // 3600} h"


def first_text(frame: pd.DataFrame, *names: str, default: str = "") -> pa.Array:
    """The first non-empty of several columns, per row, as str (e.g. title, else category)."""
    out: pa.Array | None = None
    for name in names:
        if name in frame:
            v = _text.column_strings(frame, name)
            if v is None:
                return _text.strings(_text_column_any(frame, *names, default=default))
            v = pc.if_else(_text.blank(v), pa.scalar(None, _text.TEXT), v)
            out = v if out is None else pc.coalesce(out, v)
    if out is None:
        out = pa.nulls(len(frame), _text.TEXT)
    return _text.fill(out, default)


def _text_column_any(frame: pd.DataFrame, *names: str, default: str = "") -> np.ndarray:
    """`first_text` for columns of any type (numbers: str() of each)."""
    out = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for name in names:
        if name in frame:
            v = frame[name].astype(object)
            v = v.where(v.notna() & (v.astype(str).str.strip() != ""), None)
            out = out.where(out.notna(), v)
    return out.fillna(default).astype(str).to_numpy(dtype=object)


def text_column(frame: pd.DataFrame, *names: str, default: str = "") -> np.ndarray:
    return _text.to_numpy(first_text(frame, *names, default=default))


def place_text(title: pa.Array, place: pa.Array, before: str, after: str = "") -> pa.Array:
    """``before + place + after`` where the place is known and the title does not already name it."""
    out = _text.constant("", len(place))
    pos = np.flatnonzero(pc.not_equal(place, "").fill_null(False).to_numpy(zero_copy_only=False))
    if len(pos):
        t, p = _text.take(title, pos).to_pylist(), _text.take(place, pos).to_pylist()
        show = pos[np.array([q.casefold() not in u.casefold() for u, q in zip(t, p)], dtype=bool)]
        if len(show):
            out = _text.put(out, show, _text.join(before, _text.take(place, show), after))
    return out


def place_suffix(title: np.ndarray, place: np.ndarray, before: str, after: str = "") -> np.ndarray:
    return _text.to_numpy(place_text(_text.strings(title), _text.strings(place), before, after))


def xy(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat of point geometries (other geometries: their representative point)."""
    g = np.asarray(frame.geometry.values)
    if len(g) and not (shapely.get_type_id(g) == 0).all():
        g = np.where(shapely.get_type_id(g) == 0, g, shapely.point_on_surface(g))
    return shapely.get_x(g), shapely.get_y(g)
