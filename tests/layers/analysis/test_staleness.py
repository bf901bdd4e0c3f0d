"""Stale tracks and unit reports (layers/analysis/staleness.py)."""

from __future__ import annotations

from datetime import timedelta

import geopandas as gpd
import pandas as pd
import shapely

from ingest.schema import TIME_DTYPE
from layers.analysis import (
    stale_deployments,
    stale_tracks,
)
from tests.support.frames import NOW, assert_findings


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
