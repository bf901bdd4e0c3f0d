"""Times that cannot be true are refused with their reason, and fixes of one track are never taken
for versions of each other.

A real GPSBabel file (gpxpy's `Mojstrovka.gpx`) carries 1901-12-13T20:45:52Z on all 184 points:
the smallest 32-bit Unix time, a logger whose clock was never set. Those points used to become
one `track@1901-...` key and 182 of them were "superseded by a newer version in the same input":
a track silently reduced to two points. Now every point is quarantined as `implausible_time`,
and stored + quarantined = read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from ingest import reasons
from ingest.adapters import read
from ingest.pipeline import ingest
from ingest.store.delta import DeltaStore
from ingest.validate import validate

DATA = Path(__file__).resolve().parents[1] / "data" / "gpx"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_a_gpx_track_with_a_clock_never_set_is_quarantined_point_by_point(tmp_path):
    store = DeltaStore(tmp_path / "store")
    result = read(DATA / "Mojstrovka.gpx", source="gpsbabel")
    assert result.records_read == 184
    summary = ingest(store, result, source="gpsbabel", default_marking="UNCLASSIFIED", now=NOW)
    assert summary.inserted == 0 and summary.superseded == 0
    assert summary.quarantined == 184
    assert summary.reasons == {reasons.IMPLAUSIBLE_TIME: 184}
    held = store.quarantined("track_points")
    assert len(held) == 184
    assert set(held["detail"].astype(str)) == {"time: expected a time after 1980-01-06; found 1901-12-13T20:45:52Z"}


def _fixes(rows: list[tuple[str, str, float, float]]) -> gpd.GeoDataFrame:
    frame = pd.DataFrame([{"track_id": t, "time": when, "source_id": f"{t}@{when}"} for t, when, _, _ in rows])
    return gpd.GeoDataFrame(frame, geometry=[shapely.Point(x, y) for *_, x, y in rows], crs=4326)


def test_two_fixes_of_one_track_at_one_time_somewhere_else_are_not_versions():
    fixes = _fixes([
        ("uav-1", "2026-12-04T10:00:00Z", 19.0, 44.0),
        ("uav-1", "2026-12-04T10:00:00Z", 19.5, 44.5),  # same time, 60 km away: one of them is wrong
        ("uav-1", "2026-12-04T10:00:05Z", 19.01, 44.0),
        ("uav-1", "2026-12-04T10:00:05Z", 19.01, 44.0),  # the same fix sent twice: a plain duplicate
        ("uav-2", "2026-12-04T10:00:00Z", 20.0, 45.0),   # another track at that time: fine
    ])
    out = validate(fixes, "track_points", source="feed", default_marking="UNCLASSIFIED", now=NOW)
    assert sorted(zip(out.valid["track_id"], out.valid["time"].dt.strftime("%H:%M:%S"))) == [
        ("uav-1", "10:00:00"), ("uav-1", "10:00:05"), ("uav-2", "10:00:00")]
    kept = out.valid[(out.valid["track_id"] == "uav-1") & (out.valid["time"].dt.second == 0)].geometry.iloc[0]
    assert (kept.x, kept.y) == (19.0, 44.0)  # the first is kept
    assert out.quarantined["reason"].tolist() == [reasons.DUPLICATE_TIME]
    assert out.quarantined["detail"].iloc[0] == (
        "track uav-1 already has a fix at 2026-12-04T10:00:00Z at (19.000000, 44.000000); "
        "this one is at (19.500000, 44.500000)")
    assert out.notes == ["1 older duplicate(s) of a key in this batch superseded by the newest"]


def test_historical_records_of_other_layers_stay_readable():
    """Only the impossible is refused: an incident of 1995 is history, one of 1899 a broken date."""
    frame = gpd.GeoDataFrame(pd.DataFrame([
        {"source_id": "a", "occurred_at": "1995-07-11T00:00:00Z", "category": "Other", "severity": "high",
         "status": "reported"},
        {"source_id": "b", "occurred_at": "1899-12-31T00:00:00Z", "category": "Other", "severity": "high",
         "status": "reported"}]),
        geometry=[shapely.Point(19.3, 44.1)] * 2, crs=4326)
    out = validate(frame, "incidents", source="feed", default_marking="UNCLASSIFIED", now=NOW)
    assert out.valid["source_id"].tolist() == ["a"]
    assert out.quarantined["reason"].tolist() == [reasons.IMPLAUSIBLE_TIME]
