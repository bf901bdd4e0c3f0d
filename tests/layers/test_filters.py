"""The view (window, filters, layers, area, viewport) and its URL form: a link reopens the same view."""

from __future__ import annotations

from datetime import datetime, timezone

import geopandas as gpd
import pandas as pd
import shapely

from layers.filters import DEFAULT_LAYERS, View, Viewport, apply_view

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def test_default_view_has_an_empty_url():
    assert View().to_params() == {}
    assert View.from_params({}) == View()


def test_every_setting_round_trips_through_the_url():
    view = View(window="custom", start=datetime(2026, 11, 1, tzinfo=timezone.utc),
                end=datetime(2026, 11, 2, 6, 30, tzinfo=timezone.utc), categories=("Protests", "Flood"),
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
