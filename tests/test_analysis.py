"""Analysis rules and the alerts engine, against hand-computed expectations.

Distances are set up with pyproj.Geod.fwd (a point *known* to be N metres
away) and checked against an independent spherical haversine as well; border
crossings against shapely's own segment/boundary intersection computed here;
dwell times against the fixes' schedule.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from ingest.config import REFERENCE_DIR
from ingest.errors import ConfigError
from ingest.schema import TIME_DTYPE
from layers import alerts
from layers.alerts import rules as alert_rules
from layers.analysis import (
    FINDING_COLUMNS,
    area_entries,
    border_crossings,
    coverage_gaps,
    covering_scenes,
    empty_findings,
    hex_density,
    hotspots,
    incidents_near,
    loitering,
    make_findings,
    stale_deployments,
    stale_tracks,
)
from layers.analysis._geo import Targets, pairs_within

GEOD = Geod(ellps="WGS84")
T0 = pd.Timestamp("2026-11-21T08:00:00Z")
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
OBILIC = (21.0706, 42.6867)


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Independent check: great circle on the mean sphere (within ~0.5 % of the ellipsoid)."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def away(origin: tuple[float, float], azimuth: float, metres: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(origin[0], origin[1], azimuth, metres)
    return lon, lat


def incidents(points, *, times=None, severity="high", titles=None, places=None, source="test") -> gpd.GeoDataFrame:
    n = len(points)
    times = times if times is not None else [T0] * n
    return gpd.GeoDataFrame({
        "source": pd.array([source] * n, dtype="string"),
        "source_id": pd.array([f"i{i}" for i in range(n)], dtype="string"),
        "occurred_at": pd.Series(pd.to_datetime(times, utc=True)).astype(TIME_DTYPE),
        "category": pd.array(["explosion"] * n, dtype="string"),
        "severity": pd.array(severity if isinstance(severity, list) else [severity] * n, dtype="string"),
        "title": pd.array(titles or [f"Incident {i}" for i in range(n)], dtype="string"),
        "location_name": pd.array(places or [None] * n, dtype="string"),
    }, geometry=gpd.GeoSeries([shapely.Point(p) for p in points], crs=4326), crs=4326)


def infra(geoms, *, kind="power_plant", names=None) -> gpd.GeoDataFrame:
    n = len(geoms)
    kinds = kind if isinstance(kind, list) else [kind] * n
    return gpd.GeoDataFrame({
        "source": pd.array(["reference:infrastructure"] * n, dtype="string"),
        "source_id": pd.array([f"f{i}" for i in range(n)], dtype="string"),
        "kind": pd.array(kinds, dtype="string"),
        "name": pd.array(names or [f"Facility {i}" for i in range(n)], dtype="string"),
    }, geometry=gpd.GeoSeries([g if isinstance(g, shapely.Geometry) else shapely.Point(g) for g in geoms],
                              crs=4326), crs=4326)


def fixes(track_id: str, coords, *, t0=T0, step_s: float = 10.0, times=None, callsign=None) -> gpd.GeoDataFrame:
    n = len(coords)
    times = times if times is not None else [t0 + pd.Timedelta(seconds=step_s * i) for i in range(n)]
    return gpd.GeoDataFrame({
        "source": pd.array(["test-cot"] * n, dtype="string"),
        "source_id": pd.array([f"{track_id}-{i}" for i in range(n)], dtype="string"),
        "track_id": pd.array([track_id] * n, dtype="string"),
        "time": pd.Series(pd.to_datetime(times, utc=True)).astype(TIME_DTYPE),
        "callsign": pd.array([callsign] * n, dtype="string"),
    }, geometry=gpd.GeoSeries([shapely.Point(c) for c in coords], crs=4326), crs=4326)


def area(polys, *, names, layer_source="test") -> gpd.GeoDataFrame:
    n = len(polys)
    return gpd.GeoDataFrame({"source": [layer_source] * n, "source_id": names, "name": names,
                             "country_code": names}, geometry=gpd.GeoSeries(polys, crs=4326), crs=4326)


def details(frame: gpd.GeoDataFrame, i: int = 0) -> dict:
    return json.loads(frame["details"].iloc[i])


def assert_findings(frame: gpd.GeoDataFrame) -> None:
    assert list(frame.columns) == FINDING_COLUMNS
    assert frame.crs.to_epsg() == 4326
    assert str(frame["time"].dtype) == TIME_DTYPE
    assert frame["key"].is_unique
    for s in frame["subjects"]:
        assert isinstance(json.loads(s), list)
    for s in frame["details"]:
        assert isinstance(json.loads(s), dict)
    assert set(frame["severity"]) <= {"low", "medium", "high", "critical"}
    assert (frame.geometry.geom_type == "Point").all()


# -- findings contract -----------------------------------------------------------------

def test_empty_findings_has_the_contract_columns_and_types():
    f = empty_findings()
    assert list(f.columns) == FINDING_COLUMNS and f.empty
    assert str(f["time"].dtype) == TIME_DTYPE and f.crs.to_epsg() == 4326


def test_make_findings_encodes_subjects_and_details_and_rejects_bad_severity():
    f = make_findings([{"rule": "r", "severity": "high", "time": T0, "key": "r|x", "subjects": ["a/b/c"],
                        "message": "m", "details": {"b": 1, "a": 2.5}, "geometry": (21.0, 42.0)}])
    assert_findings(f)
    assert f["subjects"].iloc[0] == '["a/b/c"]'
    assert f["details"].iloc[0] == '{"a":2.5,"b":1}'  # sorted keys: stable text
    assert f.geometry.iloc[0].equals(shapely.Point(21.0, 42.0))
    with pytest.raises(ValueError, match="severity"):
        make_findings([{"rule": "r", "severity": "urgent", "time": T0, "key": "k", "subjects": [], "message": "",
                        "details": {}, "geometry": (0, 0)}])
    assert make_findings([]).empty


# -- proximity -------------------------------------------------------------------------

def test_incident_800_m_from_a_power_plant_near_obilic():
    plant = away(OBILIC, 60.0, 800.0)
    assert abs(haversine_m(OBILIC, plant) - 800.0) < 4.0  # the set-up, checked independently
    inc = incidents([OBILIC], titles=["Explosion at Obilić"], places=["Obiliq"])
    fac = infra([plant], names=["Kosovo B"])
    f = incidents_near(inc, fac, distances_m={"power_plant": 1000})
    assert_findings(f)
    assert len(f) == 1
    d = details(f)
    assert d["distance_m"] == pytest.approx(800.0, abs=0.05)
    assert d["target_name"] == "Kosovo B" and d["threshold_m"] == 1000
    assert f["message"].iloc[0] == "Incident 'Explosion at Obilić' is 800 m from power plant 'Kosovo B' (Obiliq)"
    assert f["severity"].iloc[0] == "high"  # inherits the incident's
    assert f["time"].iloc[0] == T0
    assert json.loads(f["subjects"].iloc[0]) == ["incidents/test/i0", "infrastructure/reference:infrastructure/f0"]
    assert f["key"].iloc[0] == "incident_near_infrastructure|incidents/test/i0|infrastructure/reference:infrastructure/f0"
    assert f.geometry.iloc[0].equals(shapely.Point(OBILIC))
    # 780 m threshold: 800 m is not near.
    assert incidents_near(inc, fac, distances_m={"power_plant": 780}).empty


def test_distance_per_kind_and_default_and_unlisted_kinds():
    a = OBILIC
    inc = incidents([a])
    fac = infra([away(a, 0, 1000), away(a, 90, 1000), away(a, 180, 1000)],
                kind=["power_plant", "hospital", "other"])
    f = incidents_near(inc, fac, distances_m={"power_plant": 2000, "hospital": 500})
    assert [details(f, i)["target_kind"] for i in range(len(f))] == ["power_plant"]
    f = incidents_near(inc, fac, distances_m={"power_plant": 2000, "hospital": 500, "*": 1500})
    assert sorted(details(f, i)["target_kind"] for i in range(len(f))) == ["other", "power_plant"]
    f = incidents_near(inc, fac, distances_m=1200.0, severity={"hospital": "critical"})
    assert dict(zip([details(f, i)["target_kind"] for i in range(3)], f["severity"])) == {
        "power_plant": "high", "hospital": "critical", "other": "high"}


@pytest.mark.parametrize("origin,azimuth,metres", [
    ((179.999, -16.8), 90.0, 200.0),     # Fiji, across the antimeridian to 179.999 W
    ((-179.9995, 65.9), 270.0, 200.0),   # Bering Sea, westward across it
    ((15.63, 78.22), 45.0, 900.0),       # Longyearbyen, 78 N
    ((25.0, 89.95), 200.0, 700.0),       # near the pole
])
def test_distances_are_right_across_the_antimeridian_and_at_high_latitude(origin, azimuth, metres):
    target = away(origin, azimuth, metres)
    assert abs(haversine_m(origin, target) - metres) < 0.006 * metres
    inc, fac = incidents([origin]), infra([target])
    f = incidents_near(inc, fac, distances_m=metres + 5)
    assert len(f) == 1
    assert details(f)["distance_m"] == pytest.approx(metres, abs=0.05)
    assert incidents_near(inc, fac, distances_m=metres - 5).empty
    # Nothing further than the limit, in any direction.
    for az in (0.0, 90.0, 180.0, 270.0):
        assert incidents_near(inc, infra([away(origin, az, metres * 1.5)]), distances_m=metres + 5).empty


def test_a_degree_of_longitude_is_what_the_ellipsoid_says_it_is():
    """Degrees are not distances: one degree of longitude is ~111 km at the equator, ~23 km at 78 N
    and ~97 m at 89.95 N. The rule must find exactly the ellipsoid's answer at each."""
    for lat in (0.0, 78.0, 89.95):
        _, _, expected = GEOD.inv(10.0, lat, 11.0, lat)
        inc, fac = incidents([(10.0, lat)]), infra([(11.0, lat)])
        assert len(incidents_near(inc, fac, distances_m=expected * 1.001)) == 1
        assert incidents_near(inc, fac, distances_m=expected * 0.999).empty
    assert 96 < GEOD.inv(10.0, 89.95, 11.0, 89.95)[2] < 98


def test_pairs_match_a_brute_force_geodesic_check_on_clusters_around_the_world():
    rng = np.random.default_rng(7)
    centres = [(179.95, 0.0), (-179.9, -60.0), (15.6, 78.2), (0.0, 89.7), (21.07, 42.69), (-70.0, -33.4),
               (100.0, -89.5)]
    def scatter(n):
        out = []
        for c in centres:
            lon, lat, _ = GEOD.fwd(np.full(n, c[0]), np.full(n, c[1]), rng.uniform(0, 360, n),
                                   rng.uniform(0, 30_000, n))
            out += list(zip(lon, lat))
        return np.array(out)
    p, t = scatter(60), scatter(40)
    limit = rng.choice([500.0, 2000.0, 8000.0], len(t))
    pi, tj, dist = pairs_within(p[:, 0], p[:, 1], Targets(shapely.points(t)), limit)
    P, T = np.meshgrid(np.arange(len(p)), np.arange(len(t)), indexing="ij")
    _, _, d_all = GEOD.inv(p[P.ravel(), 0], p[P.ravel(), 1], t[T.ravel(), 0], t[T.ravel(), 1])
    within = np.abs(d_all) <= limit[T.ravel()]
    expected = set(zip(P.ravel()[within].tolist(), T.ravel()[within].tolist()))
    assert set(zip(pi.tolist(), tj.tolist())) == expected
    assert len(expected) > 50  # the test exercises real pairs
    np.testing.assert_allclose(dist, np.abs(d_all.reshape(P.shape)[pi, tj]), atol=1e-6)


def test_polygon_targets_inside_is_zero_and_outside_is_the_distance_to_the_edge():
    zone = shapely.box(21.0, 42.0, 21.1, 42.1)
    outside = away((21.1, 42.05), 90.0, 300.0)  # 300 m east of the east edge
    f = incidents_near(incidents([(21.05, 42.05), outside]), infra([zone], kind="restricted_zone"),
                       distances_m={"restricted_zone": 500})
    got = {json.loads(s)[0]: details(f, i)["distance_m"] for i, s in enumerate(f["subjects"])}
    assert got["incidents/test/i0"] == 0.0
    assert got["incidents/test/i1"] == pytest.approx(300.0, abs=1.0)


def test_incidents_near_partner_units():
    units = gpd.GeoDataFrame({"source": ["demo-geojson"], "source_id": ["u1"], "nation": ["DEU"],
                              "unit_name": ["Panzergrenadierbataillon 122"]},
                             geometry=[shapely.Point(away(OBILIC, 0, 2500))], crs=4326)
    f = incidents_near(incidents([OBILIC], titles=["Armed clash"]), units, distances_m=3000,
                       target_layer="deployments", severity="critical")
    assert f["rule"].iloc[0] == "incident_near_deployment"
    assert f["message"].iloc[0] == "Incident 'Armed clash' is 2.5 km from partner unit 'Panzergrenadierbataillon 122' (DEU)"
    assert f["severity"].iloc[0] == "critical"
    assert json.loads(f["subjects"].iloc[0])[1] == "deployments/demo-geojson/u1"


# -- border crossings ------------------------------------------------------------------

SQUARES = area([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(3, 0, 4, 1)],
               names=["AAA", "BBB", "CCC"])


def test_border_crossing_on_a_synthetic_square_border():
    # From (0.9, 0.2) at T0 to (1.3, 0.6) at T0+40 s: x = 1 at a quarter of the way, so the
    # crossing is (1.0, 0.3) at T0+10 s.
    pts = fixes("uav-1", [(0.5, 0.2), (0.9, 0.2), (1.3, 0.6), (1.5, 0.6)], times=[
        T0 - pd.Timedelta(seconds=40), T0, T0 + pd.Timedelta(seconds=40), T0 + pd.Timedelta(seconds=80)],
        callsign="HAWK 1")
    f = border_crossings(pts, SQUARES)
    assert_findings(f)
    assert len(f) == 1
    x, y = f.geometry.iloc[0].x, f.geometry.iloc[0].y
    assert (x, y) == (pytest.approx(1.0, abs=1e-12), pytest.approx(0.3, abs=1e-12))
    assert f["time"].iloc[0] == T0 + pd.Timedelta(seconds=10)
    d = details(f)
    assert (d["from_country"], d["to_country"], d["estimated"]) == ("AAA", "BBB", False)
    assert f["message"].iloc[0] == "Track 'HAWK 1' crossed from AAA into BBB at 08:00:10 UTC"
    assert f["key"].iloc[0] == "border_crossing|tracks/derived/uav-1|AAA>BBB|2026-11-21T08:00:40Z"
    assert json.loads(f["subjects"].iloc[0]) == ["tracks/derived/uav-1", "borders/test/AAA", "borders/test/BBB"]


def test_border_crossing_over_unmapped_ground_and_back_is_not_a_crossing():
    # AAA -> gap between BBB and CCC (unmapped) -> CCC: one crossing BBB>CCC, located where the track
    # entered CCC; AAA -> BBB first. Then CCC -> unmapped -> CCC: nothing more.
    pts = fixes("uav-2", [(0.5, 0.5), (1.5, 0.5), (2.5, 0.5), (3.5, 0.5), (4.5, 0.5), (3.6, 0.5)])
    f = border_crossings(pts, SQUARES).sort_values("time")
    assert [(details(f, i)["from_country"], details(f, i)["to_country"]) for i in range(len(f))] == [
        ("AAA", "BBB"), ("BBB", "CCC")]
    entry = f.geometry.iloc[1]
    assert (entry.x, entry.y) == (pytest.approx(3.0), pytest.approx(0.5))
    # Entered CCC halfway between the fixes at T0+20 s and T0+30 s.
    assert f["time"].iloc[1] == T0 + pd.Timedelta(seconds=25)


def test_border_crossing_kosovo_into_north_macedonia_on_the_real_border():
    borders = gpd.read_parquet(REFERENCE_DIR / "borders.parquet")
    kos = borders[borders["country_code"] == "XKX"].geometry.iloc[0]
    mkd = borders[borders["country_code"] == "MKD"].geometry.iloc[0]
    a, b = (21.26, 42.22), (21.36, 42.10)
    assert kos.contains(shapely.Point(a)) and mkd.contains(shapely.Point(b))
    # Independent expectation: shapely's intersection of the segment with Kosovo's boundary.
    seg = shapely.LineString([a, b])
    hit = seg.intersection(kos.boundary)
    first = min(shapely.get_parts(hit), key=seg.project)
    frac = seg.project(first) / seg.length
    t_a, t_b = T0, T0 + pd.Timedelta(seconds=600)
    expected_time = t_a + (t_b - t_a) * frac
    pts = fixes("uav-k", [(21.25, 42.23), a, b, (21.37, 42.09)],
                times=[t_a - pd.Timedelta(seconds=60), t_a, t_b, t_b + pd.Timedelta(seconds=60)])
    f = border_crossings(pts, borders)
    assert len(f) == 1
    assert (details(f)["from_country"], details(f)["to_country"]) == ("XKX", "MKD")
    assert f.geometry.iloc[0].distance(first) < 1e-9
    assert abs((f["time"].iloc[0] - expected_time).total_seconds()) < 1e-3
    assert f["message"].iloc[0].startswith("Track 'uav-k' crossed from Kosovo into North Macedonia at ")


def test_border_crossing_across_the_antimeridian():
    east = shapely.box(179.0, -1.0, 180.0, 1.0)
    west = shapely.box(-180.0, -1.0, -179.0, 1.0)
    pts = fixes("uav-a", [(179.5, 0.0), (179.99, 0.0), (-179.97, 0.0), (-179.5, 0.0)], step_s=40)
    f = border_crossings(pts, area([east, west], names=["EEE", "WWW"]))
    assert len(f) == 1
    p = f.geometry.iloc[0]
    assert abs(abs(p.x) - 180.0) < 1e-9 and abs(p.y) < 1e-9
    # 0.01 degrees of 0.04 from the fix at T0+40 s: a quarter of the 40 s interval.
    assert f["time"].iloc[0] == T0 + pd.Timedelta(seconds=50)


# -- area entries ------------------------------------------------------------------------

def test_area_entry_point_and_time_and_first_fix_inside_is_not_an_entry():
    zone = area([shapely.box(0, 0, 1, 1)], names=["Zone A"])
    pts = pd.concat([
        fixes("t1", [(-0.5, 0.5), (0.5, 0.5), (1.5, 0.5), (0.5, 0.5)], step_s=20),  # in, out, in again
        fixes("t2", [(0.5, 0.5), (0.6, 0.5)]),  # first seen inside: no entry observed
    ])
    f = area_entries(pts, zone, rule="restricted_zone_entry", label="restricted zone", layer="zones")
    assert_findings(f)
    f = f.sort_values("time")
    assert len(f) == 2
    assert not details(f, 0)["passed_through"]
    assert (f.geometry.iloc[0].x, f.geometry.iloc[0].y) == (pytest.approx(0.0), pytest.approx(0.5))
    assert f["time"].iloc[0] == T0 + pd.Timedelta(seconds=10)
    assert (f.geometry.iloc[1].x, f.geometry.iloc[1].y) == (pytest.approx(1.0), pytest.approx(0.5))
    assert f["time"].iloc[1] == T0 + pd.Timedelta(seconds=50)
    assert f["message"].iloc[0] == "Track 't1' entered restricted zone 'Zone A' at 08:00:10 UTC"
    assert f["key"].nunique() == 2


def test_disputed_area_entry_into_kosovo_from_serbia():
    disputed = gpd.read_parquet(REFERENCE_DIR / "disputed_areas.parquet")
    kos = disputed[disputed["source_id"] == "ne-disputed:XKX"].geometry.iloc[0]
    a, b = (21.55, 43.05), (21.05, 42.65)  # Serbia (Prokuplje area) -> Kosovo (Obilić area)
    assert not kos.contains(shapely.Point(a)) and kos.contains(shapely.Point(b))
    f = area_entries(fixes("x", [a, b], step_s=300), disputed)
    assert len(f) == 1 and f["rule"].iloc[0] == "disputed_area_entry"
    assert "entered disputed area 'Kosovo'" in f["message"].iloc[0]
    assert kos.boundary.distance(f.geometry.iloc[0]) < 1e-9


# -- loitering ---------------------------------------------------------------------------

def circling(centre, radius_m, n, start_az=0.0):
    return [away(centre, start_az + 6.0 * i, radius_m) for i in range(n)]


def test_loiter_of_twenty_minutes_at_ten_second_fixes():
    plant = (20.99, 42.63)
    approach = [away(plant, 270, d) for d in (3000, 2000, 1000)]
    circle = circling(plant, 200.0, 121)  # t = 30 s .. 1230 s: 1200 s within 500 m
    leave = [away(plant, 90, d) for d in (1000, 2000)]
    pts = fixes("uav-l", approach + circle + leave, step_s=10, callsign="RAVEN 2")
    f = loitering(pts, infra([plant], names=["Kosovo A"]), radius_m=500, min_dwell_s=600)
    assert_findings(f)
    assert len(f) == 1
    d = details(f)
    assert d["dwell_s"] == pytest.approx(1200, abs=10)
    assert d["fixes"] == 121 and d["ongoing"] is False
    assert d["min_distance_m"] == pytest.approx(200.0, abs=0.5)
    assert f["time"].iloc[0] == T0 + pd.Timedelta(seconds=30 + 600)  # when it had lasted 10 min
    assert f["key"].iloc[0] == ("loitering|tracks/derived/uav-l|infrastructure/reference:infrastructure/f0|"
                                "2026-11-21T08:00:30Z")
    assert f["message"].iloc[0] == "Track 'RAVEN 2' loitered 20 min within 500 m of power plant 'Kosovo A'"
    assert f.geometry.iloc[0].equals(shapely.Point(plant))
    # Too short for 30 minutes.
    assert loitering(pts, infra([plant]), radius_m=500, min_dwell_s=1800).empty


def test_two_separate_dwells_and_a_gap_that_splits_one():
    plant = (20.0, 60.0)
    first = circling(plant, 300.0, 61)  # 600 s
    away_pts = [away(plant, 0, 5000)] * 30
    second = circling(plant, 300.0, 91)  # 900 s
    pts = fixes("t", first + away_pts + second, step_s=10)
    f = loitering(pts, infra([plant]), radius_m=400, min_dwell_s=500)
    assert sorted(details(f, i)["dwell_s"] for i in range(len(f))) == [600, 900]
    assert details(f.sort_values("time"), 1)["ongoing"] is True  # the track's last fix is in the dwell
    # One dwell with a 30-minute hole in the fixes: max_gap_s splits it, and neither half is long enough.
    times = [T0 + pd.Timedelta(seconds=10 * i) for i in range(40)] + \
            [T0 + pd.Timedelta(seconds=390 + 1800 + 10 * i) for i in range(40)]
    gappy = fixes("g", circling(plant, 100.0, 80), times=times)
    assert len(loitering(gappy, infra([plant]), radius_m=400, min_dwell_s=500)) == 1
    assert loitering(gappy, infra([plant]), radius_m=400, min_dwell_s=500, max_gap_s=120).empty


# -- coverage ----------------------------------------------------------------------------

def scenes(rows) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "source": ["stac"] * len(rows), "source_id": [r[0] for r in rows],
        "acquired_at": pd.Series(pd.to_datetime([r[1] for r in rows], utc=True)).astype(TIME_DTYPE),
        "cloud_cover": [r[2] for r in rows], "platform": ["sentinel-2a"] * len(rows),
    }, geometry=gpd.GeoSeries([r[3] for r in rows], crs=4326), crs=4326)


def test_coverage_gap_before_cloudy_and_clear_scenes():
    a, b, c = (20.0, 42.0), (21.0, 42.0), (22.0, 42.0)
    inc = incidents([a, b, c], titles=["Bridge damaged", "Dam breach", "Fire"])
    box = lambda p: shapely.box(p[0] - 0.1, p[1] - 0.1, p[0] + 0.1, p[1] + 0.1)
    img = scenes([
        ("before", T0 - pd.Timedelta(hours=2), 0.0, box(a)),     # covers A, but before it
        ("cloudy", T0 + pd.Timedelta(hours=2), 80.0, box(b)),    # covers B after, too cloudy
        ("clear", T0 + pd.Timedelta(hours=3), 10.0, box(c)),     # covers C after, clear
        ("elsewhere", T0 + pd.Timedelta(hours=1), 0.0, box((25.0, 45.0))),
        ("unknown", T0 + pd.Timedelta(hours=1), None, box(a)),    # no cloud figure: not clear
    ])
    f = coverage_gaps(inc, img, max_cloud=30)
    assert_findings(f)
    got = {json.loads(s)[0]: details(f, i) for i, s in enumerate(f["subjects"])}
    assert set(got) == {"incidents/test/i0", "incidents/test/i1"}
    assert got["incidents/test/i0"]["scenes_before"] == 1
    assert got["incidents/test/i1"]["later_scenes_too_cloudy"] == 1
    assert got["incidents/test/i1"]["clearest_later_cloud"] == 80.0
    msg = dict(zip([json.loads(s)[0] for s in f["subjects"]], f["message"]))
    assert msg["incidents/test/i1"] == ("No clear imagery (<= 30% cloud) of incident 'Dam breach' since it occurred "
                                        "21 Nov 08:00 UTC (1 later scene(s) too cloudy)")
    # The UI's list: C is covered by the clear scene, 3 h after it.
    sc = covering_scenes(inc, img, max_cloud=30)
    assert sc[["incident", "scene_source_id"]].values.tolist() == [["incidents/test/i2", "clear"]]
    assert sc["lag_s"].iloc[0] == 3 * 3600
    # Raising the cloud limit to 90 covers B.
    assert {json.loads(s)[0] for s in coverage_gaps(inc, img, max_cloud=90)["subjects"]} == {"incidents/test/i0"}
    # Only incidents at least min_severity count.
    assert coverage_gaps(incidents([a], severity="medium"), img, min_severity="high").empty
    # No imagery at all: every qualifying incident is a gap.
    assert len(coverage_gaps(inc, None)) == 3


# -- staleness ---------------------------------------------------------------------------

def test_stale_tracks_and_deployments():
    tracks = gpd.GeoDataFrame({
        "source": ["derived"] * 3, "source_id": ["a", "b", "c"], "track_id": ["a", "b", "c"],
        "callsign": ["ALPHA", None, "CHARLIE"],
        "last_seen": pd.Series(pd.to_datetime([NOW - timedelta(minutes=20), NOW - timedelta(minutes=2),
                                               NOW - timedelta(minutes=8)], utc=True)).astype(TIME_DTYPE),
        "stale_at": pd.Series(pd.to_datetime([NOW - timedelta(minutes=15), NOW + timedelta(minutes=3), None],
                                             utc=True)).astype(TIME_DTYPE),
        "last_lon": [20.0, 20.1, 20.2], "last_lat": [42.0, 42.1, 42.2],
    }, geometry=[shapely.Point(20.0, 42.0), shapely.Point(20.1, 42.1), shapely.Point(20.2, 42.2)], crs=4326)
    f = stale_tracks(tracks, NOW, max_age=timedelta(minutes=5))
    assert_findings(f)
    assert sorted(f["key"]) == ["stale_track|tracks/derived/a|2026-11-21T11:40:00Z",
                                "stale_track|tracks/derived/c|2026-11-21T11:52:00Z"]
    by = dict(zip(f["key"], f["time"]))
    assert by["stale_track|tracks/derived/c|2026-11-21T11:52:00Z"] == pd.Timestamp(NOW - timedelta(minutes=3))
    assert "Track 'ALPHA' is stale: last fix 20 min ago" in " ".join(f["message"])

    deps = gpd.GeoDataFrame({
        "source": ["partner"] * 2, "source_id": ["u1", "u2"], "nation": ["ITA", "POL"],
        "unit_name": ["Genio", "Saperzy"],
        "reported_at": pd.Series(pd.to_datetime([NOW - timedelta(days=3), NOW - timedelta(hours=1)],
                                                utc=True)).astype(TIME_DTYPE),
        "stale_at": pd.Series([pd.NaT, pd.NaT], dtype=TIME_DTYPE),
    }, geometry=[shapely.Point(19.2, 42.4), shapely.Point(19.1, 44.4)], crs=4326)
    f = stale_deployments(deps, NOW, max_age=timedelta(hours=48))
    assert_findings(f)
    assert f["message"].tolist() == ["Partner unit 'Genio' (ITA) last reported its position 3 d 0 h ago"]
    assert f["time"].iloc[0] == pd.Timestamp(NOW - timedelta(days=1))


# -- hotspots ----------------------------------------------------------------------------

def test_hex_density_and_hotspot_finding():
    spot = (21.1655, 42.6629)  # Pristina
    times = [NOW - timedelta(hours=h) for h in (5, 4, 3, 2, 1)]
    inc = incidents([spot] * 5 + [(19.26, 42.44), spot], times=times + [NOW - timedelta(hours=1),
                                                                       NOW - timedelta(days=3)],
                    places=["Pristina"] * 5 + ["Podgorica", "Pristina"])
    cell = h3.latlng_to_cell(spot[1], spot[0], 6)
    dens = hex_density(inc, resolution=6, start=NOW - timedelta(hours=24), end=NOW)
    assert dens["h3"].iloc[0] == cell
    assert (dens["count"].iloc[0], dens["score"].iloc[0]) == (5, 20.0)  # 5 high = 5 x 4; the 3-day-old one is out
    assert dens.geometry.iloc[0].contains(shapely.Point(spot))
    assert dens["count"].sum() == 6
    f = hotspots(inc, NOW, window=timedelta(hours=24), resolution=6, min_score=20, min_count=3)
    assert_findings(f)
    assert len(f) == 1
    assert f["key"].iloc[0] == f"hotspot|h3/{cell}|2026-11-21T00:00:00Z"
    assert f["time"].iloc[0] == pd.Timestamp(NOW - timedelta(hours=1))  # the 5th incident reached 20
    assert f["message"].iloc[0].startswith("Hot spot near Pristina: 5 incidents (score 20)")
    assert len(json.loads(f["subjects"].iloc[0])) == 5
    assert hotspots(inc, NOW, min_score=24).empty


def test_hexagon_on_the_antimeridian_is_split_not_wrapped_round_the_world():
    from layers.analysis.hotspots import cell_polygon

    poly = cell_polygon(h3.latlng_to_cell(0.0, 179.99, 3))
    minx, _, maxx, _ = poly.bounds
    assert poly.geom_type == "MultiPolygon" and minx == -180.0 and maxx == 180.0
    assert shapely.area(poly) < 2.0  # a res-3 cell is ~0.1 square degrees, not a 360-degree band


# -- empty inputs --------------------------------------------------------------------------

def test_every_function_returns_empty_findings_for_empty_inputs():
    e = gpd.GeoDataFrame({"geometry": []}, geometry="geometry", crs=4326)
    some_inc = incidents([OBILIC])
    some_pts = fixes("t", [(0.5, 0.5), (1.5, 0.5)])
    results = [
        incidents_near(e, infra([OBILIC]), distances_m=1000), incidents_near(some_inc, e, distances_m=1000),
        incidents_near(some_inc, infra([(0, 0)]), distances_m=1000),
        border_crossings(e, SQUARES), border_crossings(some_pts, e), border_crossings(None, None),
        area_entries(e, SQUARES), area_entries(some_pts, e),
        loitering(e, infra([OBILIC]), radius_m=100, min_dwell_s=60),
        loitering(some_pts, e, radius_m=100, min_dwell_s=60),
        coverage_gaps(e, e), stale_tracks(e, NOW), stale_deployments(e, NOW, max_age=timedelta(hours=1)),
        hotspots(e, NOW), alerts.evaluate({}, alerts.Rules(), NOW),
        alerts.evaluate({k: e for k in ("incidents", "tracks", "imagery", "deployments", "borders",
                                        "disputed_areas", "infrastructure")}, alerts.load_rules(), NOW,
                        track_points=e),
    ]
    for r in results:
        assert list(r.columns) == FINDING_COLUMNS and r.empty and str(r["time"].dtype) == TIME_DTYPE
    assert hex_density(e).empty and list(hex_density(e).columns) == ["h3", "count", "score", "first_time",
                                                                        "last_time", "geometry"]
    assert covering_scenes(e, e).empty


# -- rules engine ----------------------------------------------------------------------------

def picture_and_fixes():
    plant = away(OBILIC, 90, 800)
    pic = {
        "incidents": incidents([OBILIC, (21.1655, 42.6629)], titles=["Explosion at Obilić", "Protest"],
                               times=[NOW - timedelta(hours=2), NOW - timedelta(hours=1)]),
        "infrastructure": infra([plant, shapely.box(20.9, 42.5, 20.95, 42.55)], kind=["power_plant",
                                                                                    "restricted_zone"],
                                names=["Kosovo B", "Range"]),
        "borders": SQUARES, "disputed_areas": area([shapely.box(0.5, 0.8, 0.6, 0.9)], names=["Disputed"]),
        "imagery": scenes([]), "tracks": gpd.GeoDataFrame(geometry=[], crs=4326),
        "deployments": gpd.GeoDataFrame(geometry=[], crs=4326),
    }
    pts = pd.concat([
        fixes("cross", [(0.5, 0.5), (1.5, 0.5)], t0=pd.Timestamp(NOW) - pd.Timedelta(hours=1)),
        fixes("zone", [(20.8, 42.52), (20.92, 42.52), (20.93, 42.52)], t0=pd.Timestamp(NOW) - pd.Timedelta(hours=1)),
        fixes("loiter", circling(plant, 100, 70), t0=pd.Timestamp(NOW) - pd.Timedelta(hours=1)),
        fixes("dz", [(0.55, 0.5), (0.55, 0.85)], t0=pd.Timestamp(NOW) - pd.Timedelta(hours=1)),
    ])
    return pic, pts


def test_evaluate_runs_every_enabled_rule_with_stable_keys():
    pic, pts = picture_and_fixes()
    rules = alerts.with_zone(alerts.load_rules(), "Drawn box", "POLYGON ((0.2 0.2, 0.4 0.2, 0.4 0.6, 0.2 0.6, 0.2 0.2))")
    f = alerts.evaluate(pic, rules, NOW, track_points=pts)
    assert_findings(f)
    assert set(f["rule"]) == {"incident_near_infrastructure", "border_crossing", "restricted_zone_entry",
                              "loitering", "disputed_area_entry", "coverage_gap"}
    zone_subjects = {json.loads(s)[1] for s, r in zip(f["subjects"], f["rule"]) if r == "restricted_zone_entry"}
    assert zone_subjects == {"infrastructure/reference:infrastructure/f1"}
    assert f["time"].is_monotonic_decreasing
    # Re-evaluating on the next refresh (30 s later, same data) gives the same keys.
    again = alerts.evaluate(pic, rules, NOW + timedelta(seconds=30), track_points=pts)
    assert again["key"].tolist() == f["key"].tolist()
    # Disabled rules do not run; without track points the geofencing rules cannot.
    off = alerts.parse_rules(alert_rules._merge(alert_rules._read_toml(alerts.DEFAULT_FILE),
                                           {"rules": {"coverage_gap": {"enabled": False}}}))
    assert "coverage_gap" not in set(alerts.evaluate(pic, off, NOW)["rule"])
    assert set(alerts.evaluate(pic, rules, NOW)["rule"]) == {"incident_near_infrastructure", "coverage_gap"}


def test_zone_drawn_by_analyst_is_entered_and_a_pass_between_fixes_counts():
    pic, pts = picture_and_fixes()
    drawn = "POLYGON ((1.2 0.2, 1.4 0.2, 1.4 0.8, 1.2 0.8, 1.2 0.2))"
    rules = alerts.with_zone(alerts.load_rules(), "Drawn box", drawn)
    # Track "cross" flies (0.5, 0.5) -> (1.5, 0.5) in 10 s: no fix inside the box, but it passed
    # through it, entering at x = 1.2, 70 % of the way.
    f = alerts.evaluate(pic, rules, NOW, track_points=pts)
    hit = f[(f["rule"] == "restricted_zone_entry") & f["subjects"].str.contains("zones/config/Drawn box")]
    assert len(hit) == 1
    assert (hit.geometry.iloc[0].x, hit.geometry.iloc[0].y) == (pytest.approx(1.2), pytest.approx(0.5))
    assert hit["time"].iloc[0] == pd.Timestamp(NOW) - pd.Timedelta(hours=1) + pd.Timedelta(seconds=7)
    assert details(hit)["passed_through"] is True
    assert hit["message"].iloc[0] == "Track 'cross' passed through restricted zone 'Drawn box' at 11:00:07 UTC"


def test_pass_through_detection_catches_long_and_short_segments_and_nothing_else():
    zone = area([shapely.box(10.0, 10.0, 10.01, 10.01)], names=["Tiny"])
    # Many short hops far away set the typical segment length; one long leg (well above the
    # 99th percentile) crosses the zone; one short hop crosses its corner; others miss it.
    background = fixes("bg", [(0.0 + 0.005 * k, 0.0) for k in range(500)])  # 0.005-degree hops
    long_leg = fixes("long", [(9.0, 10.005), (11.0, 10.005)])
    corner = fixes("corner", [(10.008, 10.0115), (10.0115, 10.008)])  # cuts the corner, 0.0035 long
    miss = fixes("miss", [(10.02, 10.02), (10.03, 10.03), (9.9, 10.02)])
    f = area_entries(pd.concat([background, long_leg, corner, miss]), zone, rule="restricted_zone_entry",
                     layer="zones", label="restricted zone")
    assert sorted(details(f, i)["track_id"] for i in range(len(f))) == ["corner", "long"]
    assert all(details(f, i)["passed_through"] for i in range(len(f)))


def test_default_rules_load_and_a_site_file_overrides_only_what_it_says(tmp_path, monkeypatch):
    monkeypatch.setenv("WATCHFLOOR_HOME", str(tmp_path))
    d = alerts.load_rules()
    assert d.origin.endswith("alerts.default.toml")
    assert d.incident_near_infrastructure.distances["power_plant"] == 2000.0
    assert d.loitering.min_dwell_s == 600.0 and d.loitering.radius_m == 500.0
    assert d.stale_deployment.max_age_s == 48 * 3600 and d.coverage_gap.severity is None
    (tmp_path / "alerts.toml").write_text(
        '[rules.loitering]\nradius = "0.3 km"\nmin_dwell = "15 min"\nseverity = "Critical"\n'
        '[rules.incident_near_infrastructure.distances]\nhospital = 800\n'
        '[rules.hotspot]\nenabled = "no"\n'
        '[[rules.restricted_zone_entry.zones]]\nname = "Range 4"\n'
        'wkt = "POLYGON ((20 42, 20.1 42, 20.1 42.1, 20 42.1, 20 42))"\n')
    r = alerts.load_rules()
    assert r.loitering.radius_m == 300.0 and r.loitering.min_dwell_s == 900.0 and r.loitering.severity == "critical"
    assert r.loitering.max_gap_s == 120.0  # untouched default
    assert r.incident_near_infrastructure.distances["hospital"] == 800.0
    assert r.incident_near_infrastructure.distances["power_plant"] == 2000.0
    assert not r.hotspot.enabled and "hotspot" not in r.enabled
    assert r.restricted_zone_entry.zones[0].name == "Range 4"
    assert r == alerts.load_rules()  # frozen, comparable


@pytest.mark.parametrize("toml,setting", [
    ('[rules.loitering]\nradius = "near"\n', "rules.loitering.radius"),
    ('[rules.loitering]\nmin_dwell = "soon"\n', "rules.loitering.min_dwell"),
    ('[rules.loitering]\nkinds = ["castle"]\n', "rules.loitering.kinds"),
    ('[rules.border_crossing]\nseverity = "urgent"\n', "rules.border_crossing.severity"),
    ('[rules.border_crossing]\nseverity = "inherit"\n', "rules.border_crossing.severity"),
    ('[rules.coverage_gap]\nmax_cloud = 130\n', "rules.coverage_gap.max_cloud"),
    ('[rules.hotspot]\nresolution = 6.5\n', "rules.hotspot.resolution"),
    ('[rules.loiterring]\nenabled = true\n', "rules.loiterring"),
    ('[rules.loitering]\nradiuss = 3\n', "rules.loitering.radiuss"),
    ('[rules.incident_near_infrastructure.distances]\npowerplant = 3\n',
     "rules.incident_near_infrastructure.distances.powerplant"),
    ('[[rules.restricted_zone_entry.zones]]\nname = "x"\nwkt = "POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))"\n',
     "rules.restricted_zone_entry.zones[0].wkt"),
    ('[rules.stale_track]\nenabled = "maybe"\n', "rules.stale_track.enabled"),
    ('rules = 3\n', "rules"),
    ('not toml = = 1\n', "alerts.toml"),
])
def test_bad_config_raises_config_error_naming_the_setting(tmp_path, toml, setting):
    path = tmp_path / "alerts.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as err:
        alerts.load_rules(path)
    assert setting in str(err.value)
    assert "expected" in str(err.value)


def test_analyst_zone_validation():
    with pytest.raises(ConfigError, match="WKT"):
        alerts.with_zone(alerts.Rules(), "bad", "LINESTRING (0 0, 1 1)")
    with pytest.raises(ConfigError, match="longitude"):
        alerts.with_zone(alerts.Rules(), "bad", "POLYGON ((0 0, 200 0, 200 1, 0 1, 0 0))")
    r = alerts.with_zone(alerts.with_zone(alerts.Rules(), "z", "POLYGON ((0 0, 1 0, 1 1, 0 0))"), "z",
                         "POLYGON ((0 0, 2 0, 2 2, 0 0))")
    assert len(r.restricted_zone_entry.zones) == 1  # redrawing a zone replaces it


def test_evaluate_over_the_demo_store(demo_home):
    """The real ingest path's frames (arrow strings, nullable columns) through every rule."""
    from ingest.store.delta import DeltaStore
    from layers.picture import Window, load_picture, operational_bounds
    from tests.conftest import DEMO_NOW

    store = DeltaStore(demo_home / "store")
    pic = load_picture(store, Window.last(24, DEMO_NOW), operational_bounds(store))
    pts = store.read("track_points", start=DEMO_NOW - timedelta(hours=24), end=DEMO_NOW)
    f = alerts.evaluate(pic, alerts.load_rules(), DEMO_NOW, track_points=pts)
    assert_findings(f)
    # The scenario flies cross-border sorties and loiters over real plants and airports.
    assert {"border_crossing", "loitering", "incident_near_infrastructure"} <= set(f["rule"])
    again = alerts.evaluate(pic, alerts.load_rules(), DEMO_NOW + timedelta(seconds=30), track_points=pts)
    assert set(again["key"]) == set(f["key"])
