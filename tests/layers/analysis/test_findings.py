"""The findings contract every analysis function keeps, and empty inputs (layers/analysis/findings.py)."""

from __future__ import annotations

from datetime import timedelta

import geopandas as gpd
import pytest
import shapely

from ingest.schema import TIME_DTYPE
from layers import alerts
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
from tests.support.frames import (
    NOW,
    OBILIC,
    SQUARES,
    T0,
    assert_findings,
    fixes,
    incidents,
    infra,
)


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
