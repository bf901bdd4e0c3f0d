"""Analysis benchmark: proximity of 50k incidents to 30k facilities, geofencing of 1M track fixes, and
every alert rule over the scale scenario.

Each figure stands next to what a competent user would write with the same
libraries, measured in the same run:

- proximity: a plain ``shapely.STRtree.query(predicate="dwithin")`` in
  EPSG:3035 (LAEA Europe), including the ``to_crs`` of both layers, per-kind
  distances as the query distance. It returns index pairs only, in a
  projection whose distances are off by up to a few metres here (the table
  counts the pairs it gets wrong); ours are exact ellipsoidal pairs, checked
  against a brute-force pyproj.Geod sweep of a sample in this run. The row
  for the whole rule builds the findings too (keys, messages, JSON details),
  which the peer does not.
- geofencing: ``geopandas.sjoin(fixes, polygons, predicate="within")`` with
  the borders and the disputed areas (which fix is in which polygon: geopandas
  indexes the fixes and prepares each polygon for "within"); the rules do
  that and then find the crossings and entries between fixes.
- the rules engine has no peer; its rows break the evaluation down by rule.
"""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Geod

from bench import scenario
from bench.common import Row, median_times, table
from ingest.config import REFERENCE_DIR
from ingest.tracks import derive_tracks
from ingest.validate import validate
from layers import alerts
from layers.alerts import rules as alert_rules
from layers.analysis import (
    area_entries,
    border_crossings,
    coverage_gaps,
    hotspots,
    incidents_near,
    loitering,
    prepare_fixes,
    stale_tracks,
)
from layers.analysis._geo import Targets, pairs_within, xy

N_INFRA = 30_000
CHECK_SAMPLE = 25  # incidents checked against every facility with pyproj.Geod, pair by pair
LAEA = "EPSG:3035"
_GEOD = Geod(ellps="WGS84")


def kind_limits(infra: gpd.GeoDataFrame, distances: dict[str, float]) -> np.ndarray:
    """Per facility, the distance of its kind (NaN: not checked), as the rule reads the config."""
    return infra["kind"].astype(object).map(distances).to_numpy(dtype="float64")


def projected_strtree(incidents: gpd.GeoDataFrame, infra: gpd.GeoDataFrame,
                      distances: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """The peer: both layers to LAEA Europe, one tree, one dwithin query with per-kind distances."""
    inc = incidents.to_crs(LAEA).geometry.values
    fac = infra.to_crs(LAEA).geometry.values
    limit = kind_limits(infra, distances)
    checked = np.flatnonzero(np.isfinite(limit))
    fi, ii = shapely.STRtree(inc).query(fac[checked], predicate="dwithin", distance=limit[checked])
    return ii, checked[fi]


def geodesic_pairs(incidents: gpd.GeoDataFrame, infra: gpd.GeoDataFrame, limit: np.ndarray) -> tuple:
    """Our pair search alone: (incident, facility, metres), exact on the ellipsoid."""
    lon, lat = xy(incidents)
    return pairs_within(lon, lat, Targets(np.asarray(infra.geometry.values)), limit)


def brute_force(incidents: gpd.GeoDataFrame, infra: gpd.GeoDataFrame, limit: np.ndarray) -> set:
    """Every (incident, facility) pair of the sample through pyproj.Geod: the reference."""
    lon, lat = xy(incidents)
    flon, flat = xy(infra)
    out = set()
    for i in range(len(lon)):
        _, _, d = _GEOD.inv(np.full(len(flon), lon[i]), np.full(len(flon), lat[i]), flon, flat)
        out |= {(i, j) for j in np.flatnonzero(np.abs(d) <= limit).tolist()}
    return out


def run(repeats: int = 5) -> str:
    incidents = scenario.incidents()
    infra = scenario.infrastructure(N_INFRA)
    points = scenario.track_points()
    borders = gpd.read_parquet(REFERENCE_DIR / "borders.parquet")
    disputed = gpd.read_parquet(REFERENCE_DIR / "disputed_areas.parquet")
    rules = alerts.parse_rules(alert_rules._read_toml(alerts.DEFAULT_FILE), origin="bundled defaults")
    distances = rules.incident_near_infrastructure.distances
    limit = kind_limits(infra, distances)
    rows: list[Row] = []

    # -- proximity ---------------------------------------------------------------------
    peer, peer_cpu = median_times(lambda: projected_strtree(incidents, infra, distances), repeats)
    pairs, pairs_cpu = median_times(lambda: geodesic_pairs(incidents, infra, limit), repeats)
    rule, rule_cpu = median_times(lambda: incidents_near(incidents, infra, distances_m=distances), repeats)
    pi, tj, _ = geodesic_pairs(incidents, infra, limit)
    ours = set(zip(pi.tolist(), tj.tolist()))
    sample = incidents.iloc[:CHECK_SAMPLE]
    sp, st, _ = geodesic_pairs(sample, infra, limit)
    reference = brute_force(sample, infra, limit)
    assert set(zip(sp.tolist(), st.tolist())) == reference, "geodesic pairs differ from pyproj.Geod"
    ii, ff = projected_strtree(incidents, infra, distances)
    theirs = set(zip(ii.tolist(), ff.tolist()))
    wrong = len(theirs - ours) + len(ours - theirs)
    n_found = len(incidents_near(incidents, infra, distances_m=distances))
    peer_name = f"shapely STRtree dwithin in {LAEA}, to_crs of both layers included"
    rows += [
        Row(f"proximity pairs: {len(incidents):,} incidents x {len(infra):,} facilities, per-kind distances "
            "(pairs_within, ellipsoidal)", pairs, peer_name, peer,
            f"{len(ours):,} pairs, identical to a pyproj.Geod sweep of {CHECK_SAMPLE} incidents x "
            f"{len(infra):,} ({len(reference)} pairs); the projected peer gets {wrong} pairs wrong; "
            + _cpu(pairs_cpu, peer_cpu)),
        Row("proximity rule: the same, with the findings (keys, messages, JSON details) (incidents_near)", rule,
            peer_name + " (pairs only)", peer,
            f"{n_found:,} findings; target <= 0.1 s and <= 1.2x the peer; " + _cpu(rule_cpu, peer_cpu)),
    ]

    # -- geofencing --------------------------------------------------------------------
    def geofence() -> int:
        fixes = prepare_fixes(points)
        return len(border_crossings(fixes, borders)) + len(area_entries(fixes, disputed))

    def sjoin() -> int:
        fixes = points[["track_id", "time", "geometry"]]
        return (len(gpd.sjoin(fixes, borders[["geometry"]], predicate="within"))
                + len(gpd.sjoin(fixes, disputed[["geometry"]], predicate="within")))

    n_geo = geofence()
    geo, geo_cpu = median_times(geofence, repeats)
    join, join_cpu = median_times(sjoin, repeats)
    rows.append(Row(f"geofence: {len(points):,} fixes vs {len(borders)} borders + {len(disputed)} disputed areas "
                    "(border_crossings + area_entries)", geo,
                    "geopandas.sjoin(fixes, polygons, predicate='within'), borders and disputed areas", join,
                    f"{n_geo:,} findings; the peer only says which fix is in which polygon; "
                    + _cpu(geo_cpu, join_cpu)))
    rows += _stages(points, borders, disputed)

    # -- the whole rules engine ------------------------------------------------------
    tracks = validate(derive_tracks(points), "tracks").valid
    picture = {"incidents": incidents, "infrastructure": scenario.infrastructure(), "imagery": scenario.imagery(),
               "tracks": tracks, "borders": borders, "disputed_areas": disputed}
    found = alerts.evaluate(picture, rules, scenario.NOW, track_points=points)
    everything, everything_cpu = median_times(
        lambda: alerts.evaluate(picture, rules, scenario.NOW, track_points=points), repeats)
    counts = found["rule"].value_counts()
    rows.append(Row("evaluate(): every default rule over the scale scenario (1M fixes, 50k incidents, 20k "
                    "facilities, 5k scenes, 2k tracks)", everything,
                    note=f"target <= 2 s; CPU {everything_cpu:.3f} s; "
                    + ", ".join(f"{k} {v:,}" for k, v in counts.items())))
    rows += _rules(picture, points, rules, repeats)
    return table(f"Analysis rules (medians of {repeats} runs; peers measured in the same run)", rows)


def _stages(points: gpd.GeoDataFrame, borders: gpd.GeoDataFrame, disputed: gpd.GeoDataFrame) -> list[Row]:
    out = []
    t = time.perf_counter()
    fixes = prepare_fixes(points)
    fixes.by_lon  # noqa: B018 - build it, to time it
    out.append(Row("  of which: sort fixes + longitude index", time.perf_counter() - t, note="one run"))
    for name, fn in (("border_crossings", lambda: border_crossings(fixes, borders)),
                     ("area_entries (disputed)", lambda: area_entries(fixes, disputed))):
        t = time.perf_counter()
        fn()
        out.append(Row(f"  of which: {name}", time.perf_counter() - t, note="one run, index built"))
    return out


def _rules(picture: dict, points: gpd.GeoDataFrame, rules: alerts.Rules, repeats: int) -> list[Row]:
    """Each rule of the evaluation on its own (the profile of the row above)."""
    inc, infra = picture["incidents"], picture["infrastructure"]
    lt, now = rules.loitering, scenario.NOW
    watched = infra[infra["kind"].isin(lt.kinds).fillna(False).to_numpy()]
    fixes = prepare_fixes(points)
    fixes.by_lon  # noqa: B018 - shared by the geofencing rules, as in evaluate
    parts = {
        "prepare_fixes (sort by track and time)": lambda: prepare_fixes(points),
        "incident_near_infrastructure": lambda: incidents_near(
            inc, infra, distances_m=rules.incident_near_infrastructure.distances),
        "coverage_gap": lambda: coverage_gaps(inc, picture["imagery"]),
        "stale_track": lambda: stale_tracks(picture["tracks"], now),
        "hotspot": lambda: hotspots(inc, now, min_count=rules.hotspot.min_count),
        "border_crossing": lambda: border_crossings(fixes, picture["borders"]),
        "disputed_area_entry": lambda: area_entries(fixes, picture["disputed_areas"]),
        "loitering": lambda: loitering(fixes, watched, radius_m=lt.radius_m, min_dwell_s=lt.min_dwell_s,
                                       max_gap_s=lt.max_gap_s),
    }
    rows = []
    for name, fn in parts.items():
        wall, cpu = median_times(fn, repeats)
        rows.append(Row(f"  of which: {name}", wall, note=f"on its own; CPU {cpu:.3f} s"))
    return rows


def _cpu(ours: float, peer: float) -> str:
    """The same comparison in this process's CPU seconds (bench/common.py median_times)."""
    return f"CPU {ours:.3f} s vs {peer:.3f} s ({ours / peer:.2f}x)"
