"""The view (window, filters, layers, area, viewport) and its URL form: a link reopens the same view."""

from __future__ import annotations

from datetime import UTC, datetime

import geopandas as gpd
import pandas as pd
import shapely

from layers.filters import DEFAULT_LAYERS, View, Viewport, apply_view

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_default_view_has_an_empty_url():
    assert View().to_params() == {}
    assert View.from_params({}) == View()


def test_every_setting_round_trips_through_the_url():
    view = View(window="custom", start=datetime(2026, 11, 1, tzinfo=UTC),
                end=datetime(2026, 11, 2, 6, 30, tzinfo=UTC), categories=("Protests", "Flood"),
                severities=("critical",), statuses=("verified",), nations=("GBR", "FRA"), sources=("demo-cot",),
                layers=("borders", "incidents"), country="XKX",
                aoi_wkt="POLYGON ((20 42, 21 42, 21 43, 20 43, 20 42))", viewport=Viewport(21.1, 42.6, 8.5))
    assert View.from_params(view.to_params()) == view


def test_bad_parameters_fall_back_to_defaults_instead_of_failing():
    view = View.from_params({"w": "forever", "v": "999,0,3", "aoi": "POLYGON((nonsense", "lyr": "borders,lasers",
                             "from": "x"})
    assert view.window == "24h" and view.viewport is None and view.aoi_wkt is None
    assert view.layers == ("borders",)
    assert View.from_params({"w": "custom", "from": "2026-11-02T00:00Z", "to": "2026-11-01T00:00Z"}).window == "24h"
    assert View.from_params({"lyr": "-"}).layers == ()
    assert View.from_params({}).layers == DEFAULT_LAYERS


def test_apply_view_filters_without_touching_the_shared_frames():
    incidents = gpd.GeoDataFrame(
        {"occurred_at": pd.to_datetime(["2026-11-21T11:30Z", "2026-11-21T02:00Z", "2026-11-19T00:00Z"]),
         "severity": ["high", "low", "high"], "category": "Flood", "status": "reported", "source": "s"},
        geometry=[shapely.Point(21, 42.5), shapely.Point(25, 45), shapely.Point(21, 42.5)], crs=4326)
    picture = {"incidents": incidents}
    assert len(apply_view(picture, View(window="24h"), NOW)["incidents"]) == 2
    assert len(apply_view(picture, View(window="1h"), NOW)["incidents"]) == 1
    assert len(apply_view(picture, View(window="7d", severities=("high",)), NOW)["incidents"]) == 2
    box = "POLYGON ((20 42, 22 42, 22 43, 20 43, 20 42))"
    assert len(apply_view(picture, View(window="7d", aoi_wkt=box), NOW)["incidents"]) == 2
    assert len(incidents) == 3  # the cached input is never changed


def test_an_area_keeps_the_records_of_every_layer_that_reach_into_it_whole():
    """--bbox 20,42,21,43 (and a drawn area, a country) selects in every layer, reference layers too:
    a record intersecting the box is kept with its whole geometry, one wholly outside is left out."""
    box = "POLYGON ((20 42, 21 42, 21 43, 20 43, 20 42))"

    def layer(ids, geoms, **cols):
        return gpd.GeoDataFrame({"source_id": ids, **cols}, geometry=geoms, crs=4326)

    straddling = shapely.MultiPolygon([shapely.box(20.5, 42.5, 22.0, 44.0)])  # reaches in from the north-east
    picture = {
        "borders": layer(["IN", "EDGE", "OUT"], [shapely.MultiPolygon([shapely.box(20.2, 42.2, 20.8, 42.8)]),
                                               straddling, shapely.MultiPolygon([shapely.box(30, 50, 31, 51)])]),
        "disputed_areas": layer(["EDGE", "OUT"], [straddling, shapely.MultiPolygon([shapely.box(-5, 40, -4, 41)])]),
        "infrastructure": layer(["IN", "ON-EDGE", "OUT"], [shapely.Point(20.5, 42.5), shapely.Point(21.0, 42.5),
                                                           shapely.Point(21.0001, 42.5)]),
        "places": layer(["OUT"], [shapely.Point(2.35, 48.85)]),
        "deployments": layer(["POS-IN", "AREA-IN", "OUT"], [shapely.Point(20.5, 42.5), shapely.Point(25, 45),
                                                            shapely.Point(25, 45)],
                             area=gpd.GeoSeries([None, shapely.box(20.9, 42.9, 21.5, 43.5), shapely.box(24, 44, 26, 46)])),
        "tracks": layer(["CROSSES", "OUT"], [shapely.LineString([(19.5, 42.5), (21.5, 42.6)]),
                                             shapely.LineString([(22, 42), (23, 43)])],
                        first_seen=pd.Timestamp("2026-11-21T11:00Z"), last_seen=pd.Timestamp("2026-11-21T11:30Z")),
    }
    shown = apply_view(picture, View(window="24h", aoi_wkt=box), NOW)
    kept = {name: sorted(f["source_id"]) for name, f in shown.items()}
    assert kept == {"borders": ["EDGE", "IN"], "disputed_areas": ["EDGE"], "infrastructure": ["IN", "ON-EDGE"],
                    "places": [], "deployments": ["AREA-IN", "POS-IN"], "tracks": ["CROSSES"]}
    # whole, not cut at the box's edge
    edge = shown["borders"].set_index("source_id").loc["EDGE", "geometry"]
    assert edge.equals(straddling) and edge.bounds == (20.5, 42.5, 22.0, 44.0)
    assert shown["tracks"].geometry.iloc[0].length == picture["tracks"].geometry.iloc[0].length
    # without an area nothing is dropped
    assert {n: len(f) for n, f in apply_view(picture, View(window="24h"), NOW).items()} == \
        {n: len(f) for n, f in picture.items()}
