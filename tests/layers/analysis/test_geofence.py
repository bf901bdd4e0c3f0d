"""Border crossings, area entries and loitering from track fixes (layers/analysis/geofence.py)."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from ingest.config import REFERENCE_DIR
from layers.analysis import (
    area_entries,
    border_crossings,
    loitering,
)
from tests.support.frames import (
    SQUARES,
    T0,
    area,
    assert_findings,
    away,
    circling,
    details,
    fixes,
    infra,
)


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
