"""The fast proximity path is pyproj.Geod's answer, pair for pair and digit for digit.

`pairs_within` filters candidates with 3D chords on cube faces, estimates
each geodesic from its chord, and asks pyproj.Geod only where the estimate
could decide the limit or a rounding differently (layers/analysis/_geo.py).
These tests hold it against a brute-force Geod sweep of every pair where
that is hardest: across the antimeridian, around both poles, and with
targets placed a few centimetres either side of the limit; and hold the
findings built in Arrow against the same findings written plainly in Python.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from ingest.schema import SEVERITIES, TIME_DTYPE
from layers.analysis import incidents_near
from layers.analysis._geo import Targets, _tolerance, ecef, geodesic_estimate, pairs_within

GEOD = Geod(ellps="WGS84")
T0 = pd.Timestamp("2026-11-21T08:00:00Z")
CM = 0.01  # metres


def brute_force(points: np.ndarray, targets: np.ndarray, limit: np.ndarray) -> dict[tuple[int, int], float]:
    """Every (point, target) pair within the target's limit, by pyproj.Geod over the full cross product."""
    p, t = np.meshgrid(np.arange(len(points)), np.arange(len(targets)), indexing="ij")
    p, t = p.ravel(), t.ravel()
    _, _, d = GEOD.inv(points[p, 0], points[p, 1], targets[t, 0], targets[t, 1])
    d = np.abs(d)
    hit = d <= limit[t]
    return dict(zip(zip(p[hit].tolist(), t[hit].tolist()), d[hit].tolist()))


def ring(centre: tuple[float, float], metres: np.ndarray, azimuths: np.ndarray) -> np.ndarray:
    """Points at these distances and azimuths from the centre (pyproj.Geod.fwd), as (lon, lat) rows."""
    n = len(metres)
    lon, lat, _ = GEOD.fwd(np.full(n, centre[0]), np.full(n, centre[1]), azimuths, metres)
    return np.column_stack([lon, lat])


def assert_exact(points: np.ndarray, targets: np.ndarray, limit: np.ndarray) -> int:
    pi, tj, dist = pairs_within(points[:, 0], points[:, 1], Targets(shapely.points(targets)), limit)
    expected = brute_force(points, targets, limit)
    got = dict(zip(zip(pi.tolist(), tj.tolist()), dist.tolist()))
    assert set(got) == set(expected), (sorted(set(got) - set(expected))[:5], sorted(set(expected) - set(got))[:5])
    for pair, d in got.items():
        assert d == pytest.approx(expected[pair], abs=1e-6)
        # Rounded as a finding shows it, the distance is Geod's to the last digit.
        assert round(d, 1) == round(expected[pair], 1)
    return len(expected)


# -- where the geometry is hardest ------------------------------------------------------------

@pytest.mark.parametrize("centre", [
    (179.9995, -16.8),   # Fiji: the antimeridian at low latitude
    (-179.999, 65.9),    # Bering Strait
    (180.0, 0.0),        # on the antimeridian, on the equator
    (0.0, 89.999),       # 11 cm from the North Pole
    (135.0, -89.99),     # 1.1 km from the South Pole
    (-45.0, 90.0),       # the North Pole itself
    (21.07, 42.69),      # Kosovo, for comparison
])
def test_pairs_match_brute_force_geod_at_the_antimeridian_and_the_poles(centre):
    rng = np.random.default_rng(abs(hash(centre)) % 2**32)
    points = ring(centre, rng.uniform(0, 6_000, 120), rng.uniform(-180, 180, 120))
    targets = ring(centre, rng.uniform(0, 6_000, 90), rng.uniform(-180, 180, 90))
    limit = rng.choice([300.0, 1_000.0, 2_500.0, np.nan], len(targets))
    assert assert_exact(points, targets, limit) > 100  # real pairs, not an empty agreement


@pytest.mark.parametrize("centre", [(179.99995, 10.0), (-179.99995, -70.0), (10.0, 89.9995), (-60.0, -89.9995),
                                    (21.07, 42.69)])
@pytest.mark.parametrize("limit_m", [500.0, 2_000.0, 5_000.0])
def test_targets_a_few_centimetres_either_side_of_the_limit(centre, limit_m):
    """Each target sits at limit +- 1, 2, 3 or 5 cm from the point, in every direction (so across
    the antimeridian and over the pole): exactly those inside are found."""
    offsets = np.array([-5, -3, -2, -1, 1, 2, 3, 5]) * CM
    azimuths = np.arange(0.0, 360.0, 15.0)
    az, off = np.meshgrid(azimuths, offsets)
    targets = ring(centre, limit_m + off.ravel(), az.ravel())
    points = np.array([centre])
    limit = np.full(len(targets), limit_m)
    n = assert_exact(points, targets, limit)
    assert n == len(azimuths) * (offsets < 0).sum()  # every one inside, no one outside
    # The rule says the same, and shows Geod's distance.
    inc = frame([centre])
    fac = facilities(targets)
    found = incidents_near(inc, fac, distances_m=limit_m)
    assert len(found) == n
    _, _, d = GEOD.inv(np.full(len(targets), centre[0]), np.full(len(targets), centre[1]), targets[:, 0], targets[:, 1])
    inside = np.flatnonzero(np.abs(d) <= limit_m)
    shown = {json.loads(s)[1]: json.loads(x)["distance_m"] for s, x in zip(found["subjects"], found["details"])}
    assert shown == {f"infrastructure/ref/f{j}": float(np.round(abs(d[j]), 1)) for j in inside}


def test_distances_that_round_on_a_knife_edge_are_geods():
    """999.95 m shows as "1000 m" and 999.9499 m as "999.9 m"-ish: a distance a hair either side of a
    rounding step must round as Geod's own value does, wherever the estimate would tip it."""
    centre = (21.07, 42.69)
    steps = np.array([999.5, 1049.95, 1050.0, 9999.95, 1000.0, 1499.95, 10_500.0, 700.05, 2500.05])
    metres = np.concatenate([steps + k * 1e-9 for k in (-30, -3, 0, 3, 30)])
    az = np.linspace(0, 360, len(metres), endpoint=False)
    targets = ring(centre, metres, az)
    found = incidents_near(frame([centre]), facilities(targets), distances_m=20_000.0)
    _, _, d = GEOD.inv(np.full(len(targets), centre[0]), np.full(len(targets), centre[1]), targets[:, 0], targets[:, 1])
    want = {f"infrastructure/ref/f{j}": (plain_distance(abs(d[j])), round(abs(d[j]), 1)) for j in range(len(d))}
    got = {json.loads(s)[1]: (m.split(" is ")[1].split(" from ")[0], json.loads(x)["distance_m"])
           for s, m, x in zip(found["subjects"], found["message"], found["details"])}
    assert got == want


def test_the_estimate_is_within_its_tolerance_everywhere():
    """The bound the fast path trusts: chord-based estimate vs pyproj.Geod on random pairs all over
    the ellipsoid (poles and antimeridian included), from a centimetre to 1,000 km."""
    rng = np.random.default_rng(11)
    n = 200_000
    lon = rng.uniform(-180, 180, n)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lat[: n // 10] = rng.choice([-1, 1], n // 10) * rng.uniform(89.0, 90.0, n // 10)
    lon2, lat2, _ = GEOD.fwd(lon, lat, rng.uniform(-180, 180, n), 10 ** rng.uniform(-2, 6, n))
    _, _, s = GEOD.inv(lon, lat, lon2, lat2)
    chord, est = geodesic_estimate(ecef(lon, lat), ecef(lon2, lat2))
    assert (chord <= s + 1e-8).all()  # the filter's premise: a chord is never longer than the geodesic
    assert (np.abs(est - s) <= _tolerance(chord) / 4).all()  # the bound holds with room to spare


# -- the findings, against the same findings written plainly ------------------------------------

def frame(points, *, severity=None, titles=None, places=None) -> gpd.GeoDataFrame:
    n = len(points)
    return gpd.GeoDataFrame({
        "source": pd.array(["acled"] * n, dtype="string"),
        "source_id": pd.array([f"i{i}" for i in range(n)], dtype="string"),
        "occurred_at": pd.Series([T0 + pd.Timedelta(minutes=i) for i in range(n)]).astype(TIME_DTYPE),
        "category": pd.array(["Explosions"] * n, dtype="string"),
        "severity": pd.array(severity or ["high"] * n, dtype="string"),
        "title": pd.array(titles or [f"Incident {i}" for i in range(n)], dtype="string"),
        "location_name": pd.array(places or [None] * n, dtype="string"),
    }, geometry=gpd.GeoSeries(shapely.points(np.asarray(points)), crs=4326), crs=4326)


def facilities(points, *, kinds=None, names=None) -> gpd.GeoDataFrame:
    n = len(points)
    return gpd.GeoDataFrame({
        "source": pd.array(["ref"] * n, dtype="string"),
        "source_id": pd.array([f"f{i}" for i in range(n)], dtype="string"),
        "kind": pd.array(kinds or ["power_plant"] * n, dtype="string"),
        "name": pd.array(names or [f"Plant {i}" for i in range(n)], dtype="string"),
    }, geometry=gpd.GeoSeries(shapely.points(np.asarray(points)), crs=4326), crs=4326)


def plain_distance(m: float) -> str:
    return f"{m:.0f} m" if m < 1000 else f"{m / 1000:.1f} km" if m < 10_000 else f"{m / 1000:.0f} km"


def plain_findings(inc: gpd.GeoDataFrame, fac: gpd.GeoDataFrame, distances: dict[str, float]) -> list[dict]:
    """incidents_near written the obvious way: every pair through Geod, every string through Python."""
    out = []
    targets = fac.to_dict("records")
    for a in inc.to_dict("records"):
        for b in targets:
            limit = distances.get(b["kind"], distances.get("*"))
            if limit is None:
                continue
            d = abs(GEOD.inv(a["geometry"].x, a["geometry"].y, b["geometry"].x, b["geometry"].y)[2])
            if d > limit:
                continue
            title = a["title"] if isinstance(a["title"], str) and a["title"].strip() else a["category"]
            place = a["location_name"] if isinstance(a["location_name"], str) and a["location_name"].strip() else ""
            where = f" ({place})" if place and place.casefold() not in title.casefold() else ""
            subj = [f"incidents/{a['source']}/{a['source_id']}", f"infrastructure/{b['source']}/{b['source_id']}"]
            sev = a["severity"] if a["severity"] in SEVERITIES else "medium"
            out.append({
                "rule": "incident_near_infrastructure", "severity": sev, "time": a["occurred_at"],
                "key": "incident_near_infrastructure|" + "|".join(subj),
                "subjects": json.dumps(subj, ensure_ascii=False, separators=(",", ":")),
                "message": (f"Incident '{title}' is {plain_distance(d)} from {b['kind'].replace('_', ' ')} "
                            f"'{b['name']}'{where}"),
                "details": json.dumps({
                    "distance_m": round(d, 1), "incident_severity": a["severity"], "target_kind": b["kind"],
                    "target_lat": round(b["geometry"].y, 6), "target_lon": round(b["geometry"].x, 6),
                    "target_name": b["name"], "threshold_m": float(limit)},
                    ensure_ascii=False, sort_keys=True, separators=(",", ":")),
                "geometry": a["geometry"],
            })
    return out


def test_findings_are_the_plainly_written_findings_on_a_seeded_scenario():
    """300 incidents x 400 facilities in a 30 km square over Pristina, with awkward text (quotes,
    backslashes, a control character, accents, places the title already names) and per-kind
    distances: the frame is the one a pair-by-pair Python loop builds."""
    rng = np.random.default_rng(2026)
    lon0, lat0 = 21.17, 42.66

    def scatter(n):
        return np.column_stack([lon0 + rng.uniform(-0.18, 0.18, n), lat0 + rng.uniform(-0.13, 0.13, n)])

    n_inc, n_fac = 300, 400
    titles = [rng.choice(["Explosion at \"Obilić\"", "Riot in Mitrovica", "Back\\slash", "Tab\there", "  ", "Ünïcode"])
              + f" {i}" if i % 7 else "" for i in range(n_inc)]
    places = [rng.choice(["Mitrovica", "Prishtinë", "", None]) for _ in range(n_inc)]
    inc = frame(scatter(n_inc), severity=[str(rng.choice(list(SEVERITIES))) for _ in range(n_inc)],
                titles=titles, places=places)
    fac = facilities(scatter(n_fac), kinds=[str(rng.choice(["power_plant", "hospital", "dam", "other"]))
                                            for _ in range(n_fac)],
                     names=[f"Site \"{i}\" é" for i in range(n_fac)])
    distances = {"power_plant": 2000.0, "hospital": 500.0, "dam": 3000.0}
    got = incidents_near(inc, fac, distances_m=distances)
    want = plain_findings(inc, fac, distances)
    assert len(want) > 300
    expected = pd.DataFrame(want)
    got_rows = pd.DataFrame(got).drop(columns="geometry").astype(object).reset_index(drop=True)
    exp_rows = expected.drop(columns="geometry").astype(object)
    exp_rows["time"] = pd.to_datetime(exp_rows["time"], utc=True)
    got_rows["time"] = pd.to_datetime(got_rows["time"], utc=True)
    pd.testing.assert_frame_equal(got_rows, exp_rows, check_dtype=False)
    assert all(g.equals(w) for g, w in zip(got.geometry, expected["geometry"]))
