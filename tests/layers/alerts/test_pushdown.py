"""The alert rules evaluated where the data is (PostGIS, ingest/store/analysis.py) find exactly what
they find in memory over all the data (layers/alerts/refresh.py `evaluate_store`, both paths).

On the demo scenario loaded into a PostGIS schema, plus a few tracks made to reach the corners the
demo may miss: a track that leaves Albania over the sea and lands in Montenegro (the country it
left is carried over the sea fixes), one that flies into an enclave inside Kosovo (where border
polygons overlap, the smallest is the country), one that passes through a restricted zone between two fixes
and one that enters it (a zone of the rules file, sent to the database as WKB), and one that
loiters at a power plant twice, the dwells split by a gap in its reports, with a fix far away in
between. The in-memory path is the oracle (its rules are specified in tests/layers/analysis/).
"""

from __future__ import annotations

import json
import uuid

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from ingest.demo import load_demo
from ingest.pipeline import ingest_frame
from layers.alerts import DEFAULT_FILE, load_rules, with_zone
from layers.alerts.refresh import GEOFENCE_WINDOW, evaluate_store, geofence_query
from layers.picture import operational_bounds, reference_boxes
from tests.conftest import DEMO_NOW

pytestmark = pytest.mark.postgis

GEOD = Geod(ellps="WGS84")
RULES = ("incident_near_infrastructure", "incident_near_deployment", "border_crossing", "disputed_area_entry",
         "restricted_zone_entry", "loitering")
PROXIMITY = ("incident_near_infrastructure", "incident_near_deployment")
ZONE = "POLYGON ((20.895 42.405, 20.905 42.405, 20.905 42.415, 20.895 42.415, 20.895 42.405))"
ENCLAVE = shapely.box(21.00, 42.55, 21.05, 42.60)  # inside Kosovo
T0 = pd.Timestamp(DEMO_NOW) - pd.Timedelta(hours=3)


def fixes(track: str, points: list[tuple[float, float, float]]) -> gpd.GeoDataFrame:
    """A track's fixes from (minutes after T0, lon, lat)."""
    times = [T0 + pd.Timedelta(minutes=m) for m, _, _ in points]
    return gpd.GeoDataFrame(
        {"source_id": [f"{track}@{t.isoformat()}" for t in times], "track_id": track, "time": times,
         "callsign": track, "marking": "UNCLASSIFIED"},
        geometry=[shapely.Point(x, y) for _, x, y in points], crs=4326)


def edge_tracks(store) -> gpd.GeoDataFrame:
    """The edge tracks; the loitering one at the first power plant the picture holds."""
    box = reference_boxes(operational_bounds(store))["infrastructure"]
    plants = store.read("infrastructure", bbox=box, where={"kind": "power_plant"})
    plant = plants[plants.geometry.geom_type == "Point"].sort_values("source_id").iloc[0].geometry
    near = [GEOD.fwd(plant.x, plant.y, 90.0 * k, 150.0)[:2] for k in range(4)]
    far = GEOD.fwd(plant.x, plant.y, 0.0, 5000.0)[:2]
    # at the plant every 30 s for 15 min; 5 min unheard; 12 min more; 5 km away; back for 2 min
    loiter = [(60 + m / 2, *near[m % 4]) for m in range(31)] + [(80 + m / 2, *near[m % 4]) for m in range(25)]
    loiter += [(93, *far)] + [(94 + m / 2, *near[m % 4]) for m in range(5)]
    return pd.concat([
        fixes("EDGE-SEA", [(0, 19.60, 42.10), (1, 19.51, 42.07), (2, 19.30, 41.85), (3, 19.25, 41.80),
                           (4, 19.10, 42.09), (5, 19.05, 42.12)]),
        fixes("EDGE-ENCLAVE", [(30, 20.95, 42.575), (31, 20.99, 42.575), (32, 21.02, 42.575), (33, 21.03, 42.575)]),
        fixes("EDGE-PASS", [(10, 20.85, 42.41), (11, 20.88, 42.41), (12, 20.92, 42.41), (13, 20.95, 42.41)]),
        fixes("EDGE-ENTER", [(20, 20.90, 42.45), (21, 20.90, 42.43), (22, 20.90, 42.41), (23, 20.90, 42.409)]),
        fixes("EDGE-LOITER", [(55, *far), *loiter]),
    ], ignore_index=True)


@pytest.fixture(scope="module")
def demo_pg(postgres_url, tmp_path_factory):
    """The demo scenario in a PostGIS schema of this module's, and the edge tracks."""
    from ingest.store.postgis import PostGISStore, connect, upgrade, with_schema

    schema = f"wf_test_{uuid.uuid4().hex[:12]}"
    with connect(postgres_url) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    store = None
    try:
        url = with_schema(postgres_url, schema)
        upgrade(url)
        store = PostGISStore(url)
        load_demo(store, now=DEMO_NOW, workdir=tmp_path_factory.mktemp("demo-pg"))
        enclave = gpd.GeoDataFrame({"source_id": ["XEL"], "country_code": ["XEL"], "name": ["Enclave"]},
                                   geometry=[ENCLAVE], crs=4326)
        assert ingest_frame(store, "borders", enclave, source="test-edge", default_marking="UNCLASSIFIED").stored == 1
        edges = edge_tracks(store)
        assert ingest_frame(store, "track_points", edges, source="test-edge").stored == len(edges)
        yield store
    finally:
        if store is not None:
            store.close()
        with connect(postgres_url) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="module")
def both(demo_pg):
    rules = with_zone(load_rules(DEFAULT_FILE), "test zone", ZONE)
    memory = evaluate_store(demo_pg, DEMO_NOW, rules, pushdown=False)
    database = evaluate_store(demo_pg, DEMO_NOW, rules, pushdown=True)
    return rules, memory, database


def test_the_edge_tracks_are_what_they_claim(demo_pg, both):
    """The setup itself: the sea track starts in Albania, crosses the sea, lands in Montenegro."""
    borders = demo_pg.read("borders")
    country = {code: shapely.union_all(borders[borders["country_code"] == code].geometry.values)
               for code in ("ALB", "MNE")}
    land = shapely.union_all(borders.geometry.values)
    assert country["ALB"].contains(shapely.Point(19.51, 42.07)) and country["MNE"].contains(shapely.Point(19.10, 42.09))
    assert not land.intersects(shapely.Point(19.30, 41.85)) and not land.intersects(shapely.Point(19.25, 41.80))
    kosovo = shapely.union_all(borders[borders["name"] == "Kosovo"].geometry.values)
    assert kosovo.contains(ENCLAVE) and kosovo.contains(shapely.Point(20.95, 42.575))
    _, memory, _ = both
    seen = memory[memory["key"].str.contains("EDGE-")]
    assert set(seen["rule"]) >= {"border_crossing", "restricted_zone_entry", "loitering"}
    assert seen["message"].str.contains("crossed from Albania into Montenegro").any()
    assert seen["message"].str.contains("crossed from Kosovo into Enclave").any()
    assert seen["message"].str.contains("passed through restricted zone 'test zone'").any()
    assert seen["message"].str.contains("entered restricted zone 'test zone'").any()
    assert (seen["rule"] == "loitering").sum() == 2  # split by the gap; the last 2 min too short


@pytest.mark.parametrize("rule", RULES)
def test_the_database_finds_what_memory_finds(both, rule):
    _, memory, database = both
    m = memory[memory["rule"] == rule].set_index("key").sort_index()
    d = database[database["rule"] == rule].set_index("key").sort_index()
    assert len(m) > 0, f"no {rule} finding to compare: the comparison would prove nothing"
    assert list(d.index) == list(m.index)
    assert (d["subjects"] == m["subjects"]).all()
    if rule not in PROXIMITY:
        pd.testing.assert_frame_equal(pd.DataFrame(d), pd.DataFrame(m))  # everything, to the last bit
        return
    # distances are PostGIS's own (geography, the WGS84 ellipsoid), the rest as in memory
    dm = pd.json_normalize(m["details"].map(json.loads).tolist())
    dd = pd.json_normalize(d["details"].map(json.loads).tolist())
    assert np.allclose(dd["distance_m"], dm["distance_m"], atol=1.0)
    pd.testing.assert_frame_equal(dd.drop(columns="distance_m"), dm.drop(columns="distance_m"))
    for col in ("severity", "time", "geometry"):
        assert (d[col] == m[col]).all(), col


def test_the_database_hands_over_only_the_fixes_that_matter(demo_pg, both):
    rules, _, _ = both
    query = geofence_query(rules, DEMO_NOW, operational_bounds(demo_pg))
    selected = demo_pg.geofence_fixes(query)
    window = demo_pg.read("track_points", start=DEMO_NOW - GEOFENCE_WINDOW, end=DEMO_NOW, columns=["track_id"])
    assert 0 < len(selected) < len(window) / 4
    sea = selected[selected["track_id"] == "EDGE-SEA"]
    # the crossing, the sea fix before it, and the last Albanian fix (the second sea fix is not needed)
    assert [(p.x, p.y) for p in sea.geometry] == [(19.51, 42.07), (19.25, 41.80), (19.10, 42.09)]
    assert sea["_joined"].tolist() == [False, False, True] and not sea["_last"].any()
    loiter = selected[selected["track_id"] == "EDGE-LOITER"]
    assert len(loiter) == 61 and loiter["_last"].iloc[-1] and (~loiter["_joined"]).sum() == 2  # at the plant only
