"""Analysis benchmark: proximity of 50k incidents to 30k facilities, and geofencing of 1M track fixes.

Targets (issue "Analysis and alerts"): proximity in about a second or two;
geofencing a million fixes against every border and disputed area in seconds.
Each is measured against a naive pairwise baseline in the same run. The naive
versions are far too slow to run in full (tens of minutes for proximity), so
they run on a SAMPLE and are extrapolated linearly: the per-incident (per-fix)
cost of a pairwise loop does not depend on how many others there are, so
linear extrapolation is fair; the table says which sample.
"""

from __future__ import annotations

import time

import geopandas as gpd
import shapely
from pyproj import Geod

from bench import scenario
from bench.common import Row, median_time, table
from ingest.config import REFERENCE_DIR
from layers import alerts
from layers.alerts import rules as alert_rules
from layers.analysis import area_entries, border_crossings, incidents_near, prepare_fixes

N_INFRA = 30_000
PROXIMITY_SAMPLE = 100  # incidents, each against all 30,000 facilities
GEOFENCE_SAMPLE = 20_000  # fixes (the first 40 tracks), each against every polygon
_GEOD = Geod(ellps="WGS84")


def naive_proximity(incidents: gpd.GeoDataFrame, infra: gpd.GeoDataFrame, distances: dict[str, float]) -> list:
    """The obvious version: every pair, one pyproj.Geod.inv call each."""
    ix, iy = incidents.geometry.x.tolist(), incidents.geometry.y.tolist()
    tx, ty = infra.geometry.x.tolist(), infra.geometry.y.tolist()
    limit = [distances.get(k, -1.0) for k in infra["kind"].tolist()]
    out = []
    for i, (x, y) in enumerate(zip(ix, iy)):
        for j, (a, b) in enumerate(zip(tx, ty)):
            d = _GEOD.inv(x, y, a, b)[2]
            if d <= limit[j]:
                out.append((i, j, d))
    return out


def naive_geofence(points: gpd.GeoDataFrame, borders: gpd.GeoDataFrame, disputed: gpd.GeoDataFrame) -> list:
    """The obvious version: every fix against every polygon (shapely contains), then for each
    change between consecutive fixes the segment's intersection with the boundary."""
    b_polys, d_polys = list(borders.geometry), list(disputed.geometry)
    p = points.sort_values(["track_id", "time"], kind="stable")
    geoms, tracks, times = list(p.geometry), p["track_id"].tolist(), p["time"].tolist()
    found = []
    prev_track, prev_pt, prev_country, prev_in = None, None, None, set()
    for g, tr, t in zip(geoms, tracks, times):
        country = next((k for k, poly in enumerate(b_polys) if poly.contains(g)), None)
        inside = {k for k, poly in enumerate(d_polys) if poly.contains(g)}
        if tr == prev_track:
            seg = shapely.LineString([prev_pt, g])
            if country is not None and prev_country is not None and country != prev_country:
                found.append(("border", seg.intersection(b_polys[prev_country].boundary), t))
            for k in inside - prev_in:
                found.append(("area", seg.intersection(d_polys[k].boundary), t))
        prev_track, prev_pt, prev_in = tr, g, inside
        prev_country = country if country is not None else prev_country
    return found


def run(repeats: int = 5) -> str:
    incidents = scenario.incidents()
    infra = scenario.infrastructure(N_INFRA)
    imagery = scenario.imagery()
    points = scenario.track_points()
    borders = gpd.read_parquet(REFERENCE_DIR / "borders.parquet")
    disputed = gpd.read_parquet(REFERENCE_DIR / "disputed_areas.parquet")
    rules = alerts.parse_rules(alert_rules._read_toml(alerts.DEFAULT_FILE), origin="bundled defaults")
    distances = rules.incident_near_infrastructure.distances
    base_repeats = min(repeats, 3)

    # -- proximity ---------------------------------------------------------------------
    found = incidents_near(incidents, infra, distances_m=distances)
    prox = median_time(lambda: incidents_near(incidents, infra, distances_m=distances), repeats)
    sample = incidents.iloc[:PROXIMITY_SAMPLE]
    # Same answer on the sample (the check that makes the ratio honest).
    naive_pairs = naive_proximity(sample, infra, distances)
    fast_sample = incidents_near(sample, infra, distances_m=distances)
    inc_ids, inf_ids = sample["source_id"].tolist(), infra["source_id"].tolist()
    expected = {f"incident_near_infrastructure|incidents/bench/{inc_ids[i]}|infrastructure/bench/{inf_ids[j]}"
                for i, j, _ in naive_pairs}
    assert set(fast_sample["key"]) == expected, "fast and naive proximity disagree on the sample"
    naive_prox = median_time(lambda: naive_proximity(sample, infra, distances), base_repeats, warmup=0)
    prox_scale = len(incidents) / PROXIMITY_SAMPLE

    # -- geofencing --------------------------------------------------------------------
    def geofence() -> int:
        fixes = prepare_fixes(points)
        return len(border_crossings(fixes, borders)) + len(area_entries(fixes, disputed))

    n_geo = geofence()
    geo = median_time(geofence, repeats)
    stages = _stages(points, borders, disputed)
    gsample = points.iloc[:GEOFENCE_SAMPLE]
    naive_found = naive_geofence(gsample, borders, disputed)
    fast_found = border_crossings(gsample, borders).shape[0] + area_entries(gsample, disputed).shape[0]
    naive_geo = median_time(lambda: naive_geofence(gsample, borders, disputed), base_repeats, warmup=0)
    geo_scale = len(points) / GEOFENCE_SAMPLE

    # -- the whole rules engine ------------------------------------------------------
    picture = {"incidents": incidents, "infrastructure": infra, "imagery": imagery, "borders": borders,
               "disputed_areas": disputed}
    n_all = alerts.evaluate(picture, rules, scenario.NOW, track_points=points)
    everything = median_time(lambda: alerts.evaluate(picture, rules, scenario.NOW, track_points=points),
                             min(repeats, 3))
    counts = n_all["rule"].value_counts()

    rows = [
        Row(f"proximity: {len(incidents):,} incidents x {len(infra):,} infrastructure (incidents_near)", prox,
            f"naive double loop, Geod.inv per pair: {PROXIMITY_SAMPLE} incidents x {len(infra):,}, "
            f"extrapolated x{prox_scale:,.0f}", naive_prox * prox_scale,
            f"**{naive_prox * prox_scale / prox:,.0f}x faster**; {len(found):,} findings, default per-kind "
            f"distances; identical pairs to naive on the sample ({len(naive_pairs)}); target ~1-2 s"),
        Row(f"geofence: {len(points):,} fixes vs {len(borders)} borders + {len(disputed)} disputed areas", geo,
            f"naive per-fix x per-polygon contains + segment intersection: {GEOFENCE_SAMPLE:,} fixes, "
            f"extrapolated x{geo_scale:,.0f}", naive_geo * geo_scale,
            f"**{naive_geo * geo_scale / geo:,.0f}x faster**; {n_geo:,} findings (crossings + entries); "
            f"on the sample naive {len(naive_found)}, fast {fast_found} (fast also sees pass-throughs)"),
        Row("  of which: sort fixes + point tree", stages["prepare"], note="one run"),
        Row("  of which: border_crossings", stages["borders"], note="one run, tree built"),
        Row("  of which: area_entries (disputed)", stages["disputed"], note="one run, tree built"),
        Row("evaluate(): every default rule, incl. loitering near 30k sites over 1M fixes, 5k scenes",
            everything, note=f"median of {min(repeats, 3)}; " + ", ".join(f"{k} {v:,}" for k, v in counts.items())),
    ]
    return table(f"Analysis rules (medians of {repeats}; naive baselines medians of {base_repeats} on a sample, "
                 "extrapolated linearly)", rows)


def _stages(points: gpd.GeoDataFrame, borders: gpd.GeoDataFrame, disputed: gpd.GeoDataFrame) -> dict[str, float]:
    out = {}
    t = time.perf_counter()
    fixes = prepare_fixes(points)
    fixes.tree  # noqa: B018 - build it, to time it
    out["prepare"] = time.perf_counter() - t
    t = time.perf_counter()
    border_crossings(fixes, borders)
    out["borders"] = time.perf_counter() - t
    t = time.perf_counter()
    area_entries(fixes, disputed)
    out["disputed"] = time.perf_counter() - t
    return out

