"""Incidents near infrastructure and units, geodesic (layers/analysis/proximity.py)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers.analysis import (
    incidents_near,
)
from layers.analysis._geo import Targets, pairs_within
from tests.support.frames import (
    GEOD,
    OBILIC,
    T0,
    assert_findings,
    away,
    details,
    haversine_m,
    incidents,
    infra,
)


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
