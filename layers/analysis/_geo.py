"""Geodesy shared by the rules: distances in metres that are right anywhere on Earth, fast.

Why this shape (shared/notes/performance.md): an STRtree ``dwithin`` in a local
metric projection is fast; exact ellipsoidal distances with pyproj.Geod are
slow per point but cheap for a few candidate pairs; degrees are never a
distance. A single UTM zone would be wrong for data that spans zones, the
antimeridian or the poles, so points are grouped into *tiles* and each tile
gets its own azimuthal equidistant (AEQD) projection centred on it:

- tiles are 5-degree latitude bands cut into columns about 5 degrees of arc
  wide at the band's middle latitude (one to a few wedges around a pole), so
  every tile is compact wherever it is;
- targets are picked for a tile by great-circle angle from the tile's centre
  (unit vectors, so the antimeridian and the poles need no special case), and
  the AEQD centred there is continuous across the antimeridian;
- the AEQD scale is 1 radially and rho/sin(rho) across, never below 1, so a
  pair closer than d on the ellipsoid is closer than d * rho/sin(rho) in the
  projection: the tree query is inflated by that factor (plus 1 %) so no true
  pair is missed, and every candidate is then confirmed with pyproj.Geod.
"""

from __future__ import annotations

from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod, Transformer

GEOD = Geod(ellps="WGS84")
EARTH_RADIUS_M = 6_371_008.8
BAND_DEG = 5.0
# Safety on the inflated query distance: ellipsoid vs sphere scale, rounding.
_INFLATE = 1.01
_SLACK_M = 1.0


# -- tiles and projections ------------------------------------------------------------

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


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Great-circle angle (radians) between unit vectors, row-wise or one against many."""
    return np.arccos(np.clip(u @ v if u.ndim == 2 and v.ndim == 1 else np.einsum("ij,ij->i", u, v), -1.0, 1.0))


# -- targets ---------------------------------------------------------------------------

class Targets:
    """Target geometries prepared once for many tiles: a centre and an angular radius each.

    Points are the common case (infrastructure, units); polygons (restricted
    zones, facility footprints) are supported with their vertex radius.
    """

    def __init__(self, geoms: np.ndarray) -> None:
        self.geoms = np.asarray(geoms, dtype=object)
        n = len(self.geoms)
        self.is_point = shapely.get_type_id(self.geoms) == 0
        # Points are their own centre; a polygon's centre is the mean unit vector of its
        # vertices (a lon/lat centroid is wrong for a shape split at the antimeridian).
        self.lon = shapely.get_x(np.where(self.is_point, self.geoms, None))
        self.lat = shapely.get_y(np.where(self.is_point, self.geoms, None))
        self.radius = np.zeros(n)
        if (~self.is_point).any():
            idx = np.flatnonzero(~self.is_point)
            coords, which = shapely.get_coordinates(self.geoms[idx], return_index=True)
            uv = unit_vectors(coords[:, 0], coords[:, 1])
            sums = np.zeros((len(idx), 3))
            np.add.at(sums, which, uv)
            norm = np.linalg.norm(sums, axis=1)
            norm[norm == 0] = 1.0
            mean = sums / norm[:, None]
            self.lon[idx] = np.degrees(np.arctan2(mean[:, 1], mean[:, 0]))
            self.lat[idx] = np.degrees(np.arcsin(np.clip(mean[:, 2], -1, 1)))
            ang = _angle(uv, mean[which])
            rad = np.zeros(len(idx))
            np.maximum.at(rad, which, ang)
            self.radius[idx] = rad
        self.uv = unit_vectors(self.lon, self.lat)


def pairs_within(lon: np.ndarray, lat: np.ndarray, targets: Targets, limit_m: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (point, target) pair whose ellipsoidal distance is <= the target's limit.

    Returns (point index, target index, distance in metres), sorted by point then
    target. Distances to point targets are pyproj.Geod geodesics; to polygons,
    the geodesic to the nearest boundary point found in the local projection
    (0 inside). A polygon is projected vertex by vertex, so its edges become
    straight in the projection rather than in lon/lat: for zones of a few km
    the difference is centimetres. Targets with a NaN or negative limit are
    never matched.
    """
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    limit_m = np.asarray(limit_m, dtype="float64")
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    usable = np.isfinite(limit_m) & (limit_m >= 0) & ~shapely.is_missing(targets.geoms)
    ok_pts = np.isfinite(lon) & np.isfinite(lat)
    if len(lon) == 0 or not usable.any() or not ok_pts.any():
        return empty
    tiles = tile_ids(np.where(ok_pts, lon, 0.0), np.where(ok_pts, lat, 0.0))
    tiles[~ok_pts] = -1
    order = np.argsort(tiles, kind="stable")
    sorted_tiles = tiles[order]
    starts = np.flatnonzero(np.r_[True, sorted_tiles[1:] != sorted_tiles[:-1]])
    ends = np.r_[starts[1:], len(order)]
    limit_rad = np.where(usable, limit_m, 0.0) / EARTH_RADIUS_M
    reach = targets.radius + limit_rad  # angular reach of each target
    out_p, out_t, out_d = [], [], []
    for s, e in zip(starts, ends):
        tile = int(sorted_tiles[s])
        if tile < 0:
            continue
        pidx = order[s:e]
        lon0, lat0 = tile_centre(tile)
        c = unit_vectors(np.array([lon0]), np.array([lat0]))[0]
        rho_tile = float(_angle(unit_vectors(lon[pidx], lat[pidx]), c).max())
        near = usable & (_angle(targets.uv, c) <= rho_tile + reach + 1e-9)
        tidx = np.flatnonzero(near)
        if len(tidx) == 0:
            continue
        rho_max = min(rho_tile + float(reach[tidx].max()) + targets.radius[tidx].max(), 3.0)
        k = rho_max / np.sin(rho_max) if rho_max > 1e-12 else 1.0
        tr = local_transformer(lon0, lat0)
        px, py = tr.transform(lon[pidx], lat[pidx])
        tgeo = project(tr, targets.geoms[tidx])
        query_m = limit_m[tidx] * k * _INFLATE + _SLACK_M
        if len(pidx) > 4 * len(tidx):
            # Many points, few targets (a million fixes near a few hundred sites): index the
            # targets and query with the points at the largest limit; exact limits apply below.
            pj, qi = shapely.STRtree(tgeo).query(shapely.points(px, py), predicate="dwithin",
                                                 distance=float(query_m.max()))
        else:
            # Index the points; each target queries with its own limit.
            qi, pj = shapely.STRtree(shapely.points(px, py)).query(tgeo, predicate="dwithin", distance=query_m)
        if len(qi) == 0:
            continue
        t_glob = tidx[qi]
        p_glob = pidx[pj]
        d = _exact_distance(lon[p_glob], lat[p_glob], targets, t_glob, tr, px[pj], py[pj], tgeo[qi])
        keep = d <= limit_m[t_glob]
        out_p.append(p_glob[keep])
        out_t.append(t_glob[keep])
        out_d.append(d[keep])
    if not out_p:
        return empty
    p = np.concatenate(out_p)
    t = np.concatenate(out_t)
    d = np.concatenate(out_d)
    o = np.lexsort((t, p))
    return p[o], t[o], d[o]


def _exact_distance(lon: np.ndarray, lat: np.ndarray, targets: Targets, t: np.ndarray, tr: Transformer,
                    px: np.ndarray, py: np.ndarray, tgeo_proj: np.ndarray) -> np.ndarray:
    d = np.empty(len(t))
    pt = targets.is_point[t]
    if pt.any():
        _, _, d[pt] = GEOD.inv(lon[pt], lat[pt], targets.lon[t[pt]], targets.lat[t[pt]])
    if (~pt).any():
        q = np.flatnonzero(~pt)
        ppt = shapely.points(px[q], py[q])
        inside = shapely.intersects(tgeo_proj[q], ppt)
        d[q[inside]] = 0.0
        q = q[~inside]
        if len(q):
            line = shapely.shortest_line(shapely.points(px[q], py[q]), tgeo_proj[q])
            end = shapely.get_coordinates(shapely.get_point(line, 1))
            elon, elat = tr.transform(end[:, 0], end[:, 1], direction="INVERSE")
            _, _, d[q] = GEOD.inv(lon[q], lat[q], elon, elat)
    return np.abs(d)


# -- times -----------------------------------------------------------------------------

NAT_US = np.iinfo(np.int64).min


def epoch_us(times: pd.Series) -> np.ndarray:
    """UTC microseconds since the epoch as int64 (NaT -> NAT_US).

    Why: ``.to_numpy()`` of a tz-aware column boxes every value into a
    Timestamp object, which made a million-row comparison take seconds."""
    return pd.DatetimeIndex(pd.to_datetime(times, utc=True)).as_unit("us").asi8


# -- identities and text ---------------------------------------------------------------

def subject_ids(frame: pd.DataFrame, layer: str, *, id_column: str = "source_id",
                source: str | None = None) -> np.ndarray:
    """``layer/source/source_id`` per row: the record key as one string.

    A frame without a source column (a bare reference file, an analyst's zone)
    gets ``source`` if given, else an empty source."""
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


def fmt_distance(metres: np.ndarray | float) -> np.ndarray:
    """780 m, 1.2 km, 35 km: precise enough to read, not more."""
    m = np.atleast_1d(np.asarray(metres, dtype="float64"))
    out = np.empty(len(m), dtype=object)
    small = m < 1000
    out[small] = [f"{v:.0f} m" for v in m[small]]
    mid = ~small & (m < 10_000)
    out[mid] = [f"{v / 1000:.1f} km" for v in m[mid]]
    big = ~small & ~mid
    out[big] = [f"{v / 1000:.0f} km" for v in m[big]]
    return out


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


def text_column(frame: pd.DataFrame, *names: str, default: str = "") -> np.ndarray:
    """The first non-empty of several columns, per row, as str (e.g. title, else category)."""
    out = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for name in names:
        if name in frame:
            v = frame[name].astype(object)
            v = v.where(v.notna() & (v.astype(str).str.strip() != ""), None)
            out = out.where(out.notna(), v)
    return out.fillna(default).astype(str).to_numpy(dtype=object)


def place_suffix(title: np.ndarray, place: np.ndarray, before: str, after: str = "") -> np.ndarray:
    """``before + place + after`` where the place is known and the title does not already name it."""
    show = np.array([bool(p) and p.casefold() not in t.casefold() for t, p in zip(title.tolist(), place.tolist())],
                    dtype=bool)
    out = np.full(len(place), "", dtype=object)
    out[show] = before + place[show] + after
    return out


def xy(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat of point geometries (other geometries: their representative point)."""
    g = frame.geometry.values
    if len(g) and not (shapely.get_type_id(g) == 0).all():
        g = np.where(shapely.get_type_id(g) == 0, g, shapely.point_on_surface(g))
    return shapely.get_x(g), shapely.get_y(g)
