"""The alert rules run over a picture (layers/alerts/evaluate.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from layers import alerts
from layers.alerts import rules as alert_rules
from layers.analysis import (
    area_entries,
)
from tests.support.frames import (
    NOW,
    OBILIC,
    SQUARES,
    area,
    assert_findings,
    away,
    circling,
    details,
    fixes,
    incidents,
    infra,
    scenes,
)


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
