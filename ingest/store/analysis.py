"""Alert-rule work done inside PostGIS (`Store.geofence_fixes`, `Store.near_pairs`), so the
process evaluating the rules does not pull a day of track fixes to find the few that matter.

The database selects; the rules (layers/analysis/) still decide, on what it selected, so the
findings are those of the rules over all the data (tests/layers/alerts/test_pushdown.py):

- `near_pairs`: incidents near infrastructure or partner units, `ST_DWithin` on geography (the
  WGS84 ellipsoid, as pyproj.Geod), through GiST indexes on the layers' geography
  (migration 0003); the distances are the database's.
- `geofence_fixes`: one pass over the window's fixes in track order, with window functions
  (`lag`, `lead`, running counts) over (track_id, time):
  * border crossings: each fix's country (the smallest border polygon it lies in), carried over
    fixes outside every country as the rule carries it (a running count of labelled fixes makes
    groups; a group's label is its first fix's); a crossing is a fix whose country differs from
    the one carried to the fix before it. Kept: the crossing fix, the fix before it, and the
    last labelled fix before that (where the carried country came from), which is all
    `border_crossings` needs to find the same crossing at the same place and time;
  * area entries: each fix's set of areas (disputed areas, restricted zones); kept where the
    set changes (and the fix before), and both ends of every segment that meets an area
    neither end lies in (a pass-through);
  * loitering: the fixes within the radius (plus a metre) of a watched facility.
  `_joined` and `_last` tell the rules which kept fixes were consecutive in the track and which
  ended it, so they never join two fixes that were not neighbours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
from psycopg import sql

from ingest.schema import spec
from ingest.store.base import GeofenceQuery
from ingest.store.delta import _ts, empty_layer, from_arrow

if TYPE_CHECKING:
    from ingest.store.postgis import PostGISStore

# Track order: what `layers.analysis.geofence.prepare_fixes` sorts by, ties broken by key.
TRACK_ORDER = sql.SQL('PARTITION BY track_id ORDER BY "time", source, source_id')
# A loitering target this much beyond the radius is still selected: the rule measures exactly.
LOITER_MARGIN_M = 1.0
# The sorts of one evaluation's transaction may use this much memory (SET LOCAL: that transaction only).
WORK_MEM_MB = 256
POLYGONAL = sql.SQL("ST_GeometryType({g}) IN ('ST_Polygon', 'ST_MultiPolygon') AND NOT ST_IsEmpty({g})")


def geofence_fixes(store: PostGISStore, q: GeofenceQuery) -> gpd.GeoDataFrame:
    from ingest.store.postgis import _conditions, _copy_out, _out

    ls = spec("track_points")
    cols = list(dict.fromkeys(c for c in q.columns if c != "geometry"))
    extra = [c for c in cols if c not in ("source", "source_id", "track_id", "time")]

    def chosen(layer: str, alias: str, bbox) -> tuple[sql.Composable, list]:
        """The layer's polygons the picture reads (in `bbox`), as a condition on `alias`."""
        cond, p = _conditions(spec(layer), None, None, bbox, None)
        return sql.SQL(" AND ").join([*cond, POLYGONAL.format(g=sql.SQL(f"{alias}.geometry"))]), list(p)

    # Sorting a day of fixes by track and time, several times: in memory, not in temporary files.
    setup: list[tuple[sql.Composable, list]] = [(sql.SQL(f"SET LOCAL work_mem = '{WORK_MEM_MB}MB'"), [])]
    # Reference polygons first, into indexed temporary tables: a country's polygon has thousands of
    # vertices, so it is cut in pieces (ST_Subdivide) that a fix is tested against, through an index.
    borders = sql.SQL("SELECT NULL::text AS label, NULL::float8 AS area, NULL::geometry AS geometry WHERE FALSE")
    borders_params: list = []
    if q.borders:
        where, borders_params = chosen("borders", "b", q.borders_bbox)
        borders = sql.SQL("SELECT b.source || '/' || b.source_id, ST_Area(b.geometry), "
                          "ST_Subdivide(b.geometry, 128) FROM borders b WHERE {w}").format(w=where)
    setup.append((sql.SQL("CREATE TEMP TABLE _wf_borders (label, area, geometry) ON COMMIT DROP AS {q}").format(
        q=borders), borders_params))
    areas: list[sql.Composable] = []
    area_params: list = []
    if q.disputed_areas:
        where, p = chosen("disputed_areas", "a", q.areas_bbox)
        areas.append(sql.SQL("SELECT a.geometry FROM disputed_areas a WHERE {w}").format(w=where))
        area_params += p
    if q.restricted_zones:
        where, p = chosen("infrastructure", "a", q.areas_bbox)
        areas.append(sql.SQL("SELECT a.geometry FROM infrastructure a WHERE {w} AND a.kind = 'restricted_zone'")
                     .format(w=where))
        area_params += p
    if q.zones_wkb:
        areas.append(sql.SQL("SELECT ST_SetSRID(ST_GeomFromWKB(decode(w, 'hex')), 4326) FROM unnest(%s::text[]) AS z(w)"))
        area_params.append([bytes(w).hex() for w in q.zones_wkb])
    rows = sql.SQL(" UNION ALL ").join(areas) if areas else sql.SQL("SELECT NULL::geometry WHERE FALSE")
    setup.append((sql.SQL("CREATE TEMP TABLE _wf_areas (id, geometry) ON COMMIT DROP AS SELECT id, "
                          "ST_Subdivide(geometry, 128) FROM (SELECT row_number() OVER () AS id, geometry "
                          "FROM ({rows}) s) t").format(rows=rows), area_params))
    for table in ("_wf_borders", "_wf_areas"):
        setup.append((sql.SQL("CREATE INDEX ON {t} USING gist (geometry)").format(t=sql.Identifier(table)), []))
        setup.append((sql.SQL("ANALYZE {t}").format(t=sql.Identifier(table)), []))

    # The facilities a track may loiter at, each with a box in degrees surely holding every point
    # within the radius (a degree of latitude is at least 110.57 km; a degree of longitude shrinks
    # with the cosine of the latitude; a box over the antimeridian gets a copy on the other side).
    targets = sql.SQL("SELECT NULL::geography AS geog, NULL::geometry AS box WHERE FALSE")
    target_params: list = []
    reach = float(q.loiter_radius_m or 0.0) + LOITER_MARGIN_M
    if q.loiter_radius_m is not None:
        cond, target_params = _conditions(spec("infrastructure"), None, None, q.areas_bbox, None)
        cond = [*cond, sql.SQL("NOT ST_IsEmpty(geometry)")]
        if q.loiter_kinds:
            cond.append(sql.SQL("kind = ANY(%s::text[])"))
            target_params = [*target_params, list(q.loiter_kinds)]
        targets = sql.SQL("""
SELECT geog, ST_Translate(box, shift, 0) FROM (
  SELECT geometry::geography AS geog,
         ST_Expand(geometry, CASE WHEN lat + d >= 89.0 THEN 360.0 ELSE d / cos(radians(lat + d)) END, d) AS box
  FROM (SELECT geometry, greatest(abs(ST_YMin(geometry)), abs(ST_YMax(geometry))) AS lat, %s / 110000.0 AS d
        FROM infrastructure WHERE {cond}) s) t
CROSS JOIN LATERAL (VALUES (0.0), (360.0), (-360.0)) AS v(shift)
WHERE shift = 0 OR (shift > 0 AND ST_XMin(box) < -180) OR (shift < 0 AND ST_XMax(box) > 180)""").format(
            cond=sql.SQL(" AND ").join(cond))
        target_params = [reach, *target_params]
    setup.append((sql.SQL("CREATE TEMP TABLE _wf_targets (geog, box) ON COMMIT DROP AS {q}").format(q=targets),
                  target_params))
    setup.append((sql.SQL("CREATE INDEX ON _wf_targets USING gist (box)"), []))
    setup.append((sql.SQL("ANALYZE _wf_targets"), []))

    kinds_out = {c: ls.column(c).kind for c in cols} | {"geometry": "geometry", "_joined": "bool", "_last": "bool"}
    # the window's fixes, as Store.read("track_points", start=, end=) takes them
    window = sql.SQL('tp."time" >= %s AND tp."time" <= %s AND tp.track_id IS NOT NULL AND tp.geometry IS NOT NULL '
                     "AND NOT ST_IsEmpty(tp.geometry)")
    tw = [_ts(q.start).as_py(), _ts(q.end).as_py()]
    # Set-based spatial joins (each polygon piece or target finds its fixes through the indexes),
    # then one ordered pass per track with window functions.
    query = sql.SQL("""
WITH lab AS (
  SELECT DISTINCT ON (tp.source, tp.source_id) tp.source, tp.source_id, b.label
  FROM track_points tp JOIN _wf_borders b ON ST_Intersects(b.geometry, tp.geometry)
  WHERE {window} ORDER BY tp.source, tp.source_id, b.area, b.label
),
ins AS (
  SELECT tp.source, tp.source_id, array_agg(DISTINCT a.id ORDER BY a.id) AS inside
  FROM track_points tp JOIN _wf_areas a ON ST_Intersects(a.geometry, tp.geometry)
  WHERE {window} GROUP BY tp.source, tp.source_id
),
nr AS (  -- from each target to its fixes (OFFSET 0 keeps the planner from probing the targets per fix)
  SELECT DISTINCT x.source, x.source_id FROM _wf_targets t CROSS JOIN LATERAL (
    SELECT tp.source, tp.source_id FROM track_points tp
    WHERE tp.geometry && t.box AND ST_DWithin(t.geog, tp.geometry::geography, %s) AND {window} OFFSET 0) x
),
fx AS (
  SELECT tp.source, tp.source_id, tp.track_id, tp."time", {extra}tp.geometry, lab.label,
         coalesce(ins.inside, '{{}}') AS inside, nr.source IS NOT NULL AS near,
         lag(tp.geometry) OVER w AS prev_geometry, lag(coalesce(ins.inside, '{{}}')) OVER w AS prev_inside,
         lag(tp.source_id) OVER w AS prev_id, lag(tp.source) OVER w AS prev_src,
         lead(tp.source_id) OVER w IS NULL AS last_fix, count(lab.label) OVER w AS grp
  FROM track_points tp
  LEFT JOIN lab ON lab.source = tp.source AND lab.source_id = tp.source_id
  LEFT JOIN ins ON ins.source = tp.source AND ins.source_id = tp.source_id
  LEFT JOIN nr ON nr.source = tp.source AND nr.source_id = tp.source_id
  WHERE {window}
  WINDOW w AS (PARTITION BY tp.track_id ORDER BY tp."time", tp.source, tp.source_id)
),
pas AS (
  SELECT DISTINCT f.source, f.source_id FROM fx f JOIN _wf_areas a
    ON f.prev_geometry IS NOT NULL AND ST_Intersects(a.geometry, ST_MakeLine(f.prev_geometry, f.geometry))
  WHERE NOT a.id = ANY(f.inside) AND NOT a.id = ANY(f.prev_inside)
),
h AS (
  SELECT fx.*, max(fx.label) OVER (PARTITION BY fx.track_id, fx.grp) AS carried,
         (fx.prev_inside IS NOT NULL AND fx.inside <> fx.prev_inside) AS moved, pas.source IS NOT NULL AS passed
  FROM fx LEFT JOIN pas ON pas.source = fx.source AND pas.source_id = fx.source_id
),
i AS (
  SELECT h.*, (label IS NOT NULL AND lag(carried) OVER w IS NOT NULL AND label <> lag(carried) OVER w) AS crossed
  FROM h WINDOW w AS ({order})
),
j AS (
  SELECT i.*, coalesce(lead(crossed) OVER w, FALSE) AS before_cross,
         coalesce(lead(moved OR passed) OVER w, FALSE) AS before_change
  FROM i WINDOW w AS ({order})
),
k AS (
  SELECT j.*, bool_or(before_cross) OVER (PARTITION BY track_id, grp) AS left_from FROM j
)
SELECT {out_cols},
       coalesce(prev_src = lag(source) OVER w AND prev_id = lag(source_id) OVER w, FALSE) AS _joined,
       last_fix AS _last
FROM k
WHERE crossed OR before_cross OR (label IS NOT NULL AND left_from) OR moved OR passed OR before_change OR near
WINDOW w AS ({order})
ORDER BY track_id, "time", source, source_id""").format(
        window=window, extra=sql.SQL("").join(sql.SQL("tp.{}, ").format(sql.Identifier(c)) for c in extra),
        order=TRACK_ORDER, out_cols=sql.SQL(", ").join(_out(c, k) for c, k in kinds_out.items() if c[0] != "_"))
    params = [*tw, *tw, reach, *tw, *tw]  # lab, ins, nr (its distance before its window), fx

    def run(conn) -> pa.Table:
        for statement, p in setup:
            conn.execute(statement, p or None)
        return _copy_out(conn, query, params, kinds_out)

    table = store._run(run, transaction=True)  # the temporary tables live as long as the transaction
    frame = from_arrow(_wkb(table.drop_columns(["_joined", "_last"])), ls) if table.num_rows else empty_layer(ls, cols)
    for c in ("_joined", "_last"):
        frame[c] = table.column(c).to_numpy(zero_copy_only=False).astype(bool)
    return frame


def _wkb(table: pa.Table) -> pa.Table:
    """The geometry column from hex (COPY's text) to WKB bytes, as the store's readers give it."""
    hexes = table.column("geometry").to_pylist()
    wkb = pa.array([None if h is None else bytes.fromhex(h) for h in hexes], pa.binary())
    return table.set_column(table.column_names.index("geometry"), "geometry", wkb)


def near_pairs(store: PostGISStore, left: str, left_keys: pd.DataFrame, right: str, right_keys: pd.DataFrame,
               limits_m) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    spec(left), spec(right)
    limits = np.asarray(limits_m, dtype="float64")
    usable = np.isfinite(limits) & (limits >= 0)
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    if left_keys.empty or not usable.any():
        return empty
    reach = float(limits[usable].max())
    query = sql.SQL("""
WITH l AS (SELECT * FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS l(source, source_id, i)),
r AS (SELECT * FROM unnest(%s::text[], %s::text[], %s::float8[]) WITH ORDINALITY AS r(source, source_id, lim, j)
      WHERE lim IS NOT NULL)
SELECT l.i - 1 AS i, r.j - 1 AS j, ST_Distance(a.geometry::geography, b.geometry::geography) AS d
FROM l JOIN {left} a ON a.source = l.source AND a.source_id = l.source_id
JOIN {right} b ON ST_DWithin(a.geometry::geography, b.geometry::geography, %s)
JOIN r ON r.source = b.source AND r.source_id = b.source_id
WHERE ST_DWithin(a.geometry::geography, b.geometry::geography, r.lim)
ORDER BY 1, 2""").format(left=sql.Identifier(left), right=sql.Identifier(right))
    params = [left_keys["source"].astype(str).tolist(), left_keys["source_id"].astype(str).tolist(),
              right_keys["source"].astype(str).tolist(), right_keys["source_id"].astype(str).tolist(),
              [float(v) if ok else None for v, ok in zip(limits.tolist(), usable.tolist())], reach]
    table: pa.Table = store._arrow(query, params)
    if table.num_rows == 0:
        return empty
    return (table.column("i").to_numpy().astype(np.int64), table.column("j").to_numpy().astype(np.int64),
            table.column("d").to_numpy().astype("float64"))
