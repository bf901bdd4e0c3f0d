"""The store contract, run against every backend (see the `store` fixture)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from ingest.adapters.base import ReadResult
from ingest.errors import StoreQueryError
from ingest.pipeline import ingest
from ingest.schema import LAYERS
from ingest.store.delta import DeltaStore
from ingest.validate import validate

ROOT = Path(__file__).resolve().parents[1]
T0 = pd.Timestamp("2026-11-20T00:00:00Z")


def incidents(n: int, **over) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"source_id": [f"inc-{i}" for i in range(n)],
         "occurred_at": [T0 + pd.Timedelta(hours=i) for i in range(n)],
         "category": "Protests", "severity": "low", "status": "reported", "marking": "UNCLASSIFIED",
         "description": [f"report {i}" for i in range(n)]},
        geometry=[shapely.Point(20 + i * 0.1, 42 + i * 0.05) for i in range(n)], crs=4326)
    for k, v in over.items():
        frame[k] = v
    return validate(frame, "incidents", source="feed").valid


def test_written_rows_read_back_identically(store):
    frame = incidents(5)
    assert store.write("incidents", frame).inserted == 5
    back = store.read("incidents").sort_values("source_id").reset_index(drop=True)
    assert list(back.columns) == LAYERS["incidents"].column_names
    pd.testing.assert_frame_equal(pd.DataFrame(back.drop(columns="geometry")),
                                  pd.DataFrame(frame.drop(columns="geometry")), check_dtype=True)
    assert back.geometry.geom_equals_exact(frame.geometry, tolerance=0).all()
    assert back.crs == "EPSG:4326"


def test_reingesting_the_same_input_changes_nothing(store):
    store.write("incidents", incidents(5))
    first = store.read("incidents").sort_values("source_id").reset_index(drop=True)
    report = store.write("incidents", incidents(5))  # same content, later ingested_at
    assert (report.inserted, report.updated, report.unchanged) == (0, 0, 5)
    pd.testing.assert_frame_equal(store.read("incidents").sort_values("source_id").reset_index(drop=True), first)


def test_newer_version_replaces_older_and_older_never_overwrites(store):
    store.write("incidents", incidents(3))
    newer = incidents(3, status="verified", updated_at=T0 + pd.Timedelta(days=1))
    assert store.write("incidents", newer.iloc[[1]]).updated == 1
    older = incidents(3, status="closed", updated_at=T0 - pd.Timedelta(days=1))
    assert store.write("incidents", older.iloc[[1]]).updated == 0
    back = store.read("incidents").set_index("source_id")
    assert back.loc["inc-1", "status"] == "verified" and back.loc["inc-0", "status"] == "reported"
    assert store.stats("incidents").count == 3


def test_time_window_selects_by_the_layer_time(store):
    store.write("incidents", incidents(10))
    got = store.read("incidents", start=T0 + pd.Timedelta(hours=2), end=T0 + pd.Timedelta(hours=4))
    assert sorted(got["source_id"]) == ["inc-2", "inc-3", "inc-4"]
    with pytest.raises(StoreQueryError, match="tz-aware"):
        store.read("incidents", start=datetime(2026, 11, 20))


def test_bbox_selects_by_geometry_including_across_the_antimeridian(store):
    store.write("incidents", incidents(10))  # lon 20.0 .. 20.9
    got = store.read("incidents", bbox=(20.25, 41, 20.55, 43))
    assert sorted(got["source_id"]) == ["inc-3", "inc-4", "inc-5"]
    east = incidents(2)
    east["geometry"] = [shapely.Point(179.5, -17), shapely.Point(-179.5, -17)]
    east["source_id"] = ["fiji-e", "fiji-w"]
    store.write("incidents", east)
    got = store.read("incidents", bbox=(179, -18, -179, -16))
    assert sorted(got["source_id"]) == ["fiji-e", "fiji-w"]


def test_polygons_are_matched_exactly_not_by_envelope(store):
    tri = shapely.Polygon([(0, 0), (10, 0), (0, 10)])
    frame = validate(gpd.GeoDataFrame({"source_id": ["tri"], "country_code": ["TRI"], "name": ["t"]},
                                      geometry=[tri], crs=4326), "borders", source="ref").valid
    store.write("borders", frame)
    assert len(store.read("borders", bbox=(1, 1, 2, 2))) == 1
    assert len(store.read("borders", bbox=(8, 8, 9, 9))) == 0  # inside the envelope, outside the triangle


def test_where_and_columns(store):
    store.write("incidents", incidents(4, severity=["low", "high", "high", "critical"]))
    got = store.read("incidents", where={"severity": ["high", "critical"]}, columns=["source_id", "severity"])
    assert sorted(got["source_id"]) == ["inc-1", "inc-2", "inc-3"]
    assert list(got.columns) == ["source_id", "severity", "geometry"]


def test_filters_work_across_files_from_first_writes_and_upserts(store):
    store.write("incidents", incidents(4))
    store.write("incidents", incidents(6, severity="high"))  # an upsert: new and rewritten files
    got = store.read("incidents", where={"severity": "high", "source": "feed"})
    assert sorted(got["source_id"]) == [f"inc-{i}" for i in range(6)]


def test_empty_layers_read_as_empty_frames_with_the_schema(store):
    got = store.read("imagery", start=T0, end=T0 + pd.Timedelta(days=1), bbox=(0, 0, 1, 1))
    assert got.empty and list(got.columns) == LAYERS["imagery"].column_names
    assert store.stats("imagery").count == 0 and store.is_empty()


def test_stats_count_and_newest(store):
    store.write("incidents", incidents(4))
    s = store.stats("incidents")
    assert s.count == 4 and s.newest == T0 + pd.Timedelta(hours=3) and s.last_write is not None


def test_deleting_by_key(store):
    store.write("incidents", incidents(4))
    assert store.delete("incidents", pd.DataFrame({"source": ["feed"], "source_id": ["inc-2"]})) == 1
    assert sorted(store.read("incidents")["source_id"]) == ["inc-0", "inc-1", "inc-3"]


def test_quarantine_is_kept_listed_and_idempotent(store):
    bad = gpd.GeoDataFrame({"source_id": ["x"], "track_id": ["t"], "time": ["garbage"]},
                           geometry=[shapely.Point(1, 1)], crs=4326)
    result = ReadResult("track_points", bad)
    for _ in range(2):
        summary = ingest(store, result, source="feed")
        assert (summary.stored, summary.quarantined) == (0, 1)
    q = store.quarantined()
    assert len(q) == 1
    assert q.iloc[0][["layer", "source", "source_id", "reason"]].tolist() == [
        "track_points", "feed", "x", "unparseable_time"]
    assert store.quarantined(layer="incidents").empty


def test_ingest_accounting_adds_up_and_derives_tracks(store):
    frame = gpd.GeoDataFrame(
        {"source_id": ["a", "b", "c", "d"], "track_id": ["u1", "u1", "u1", "u2"],
         "time": ["2026-11-20T10:00:00Z", "2026-11-20T10:00:10Z", "bad", "2026-11-20T10:00:00Z"]},
        geometry=[shapely.Point(21, 42), shapely.Point(21.001, 42), shapely.Point(0, 0), shapely.Point(22, 43)],
        crs=4326)
    s = ingest(store, ReadResult("track_points", frame), source="csv", default_marking="UNCLASSIFIED")
    assert s.read == 4 and s.stored + s.quarantined + s.superseded == 4 and s.quarantined == 1
    assert s.line().startswith("3 stored, 1 quarantined: unparseable_time 1")
    tracks = store.read("tracks").set_index("track_id")
    assert tracks.loc["u1", "point_count"] == 2 and tracks.loc["u1"].geometry.geom_type == "LineString"
    # 0.001 deg of longitude at 42N is 82.8 m (pyproj.Geod), covered in 10 s
    assert tracks.loc["u1", "last_speed_mps"] == pytest.approx(8.28, abs=0.01)
    assert tracks.loc["u1", "last_heading_deg"] == pytest.approx(90.0, abs=0.1)


# --- process-level guarantees (embedded store) ------------------------------------------

def _proc(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.storeproc", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_writer_killed_mid_write_leaves_the_previous_state_intact(tmp_path):
    root = tmp_path / "store"
    batch = 20_000
    committed: set[int] = set()
    for round_, delay in enumerate((0.8, 1.3, 1.9, 2.6)):
        p = _proc("writer", str(root), str(batch), "50", str(round_ * 100))
        time.sleep(delay)
        os.kill(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        committed |= {int(line.split()[1]) for line in out.splitlines() if line.startswith("committed")}
        frame = DeltaStore(root).read("track_points", columns=["source_id"])
        ids = frame["source_id"]
        assert not ids.duplicated().any()
        batches = ids.str.extract(r"^b(\d+)-")[0].astype(int).value_counts()
        assert (batches == batch).all(), "a batch was half-written"
        assert committed <= set(batches.index), "a reported commit was lost"
    assert committed, "the writer never committed: the test proved nothing"


def test_readers_see_whole_batches_while_a_writer_writes(tmp_path):
    root = tmp_path / "store"
    batch = 5_000
    writer = _proc("writer", str(root), str(batch), "60")
    readers = [_proc("reader", str(root), "6") for _ in range(2)]
    seen = []
    for r in readers:
        out, err = r.communicate(timeout=120)
        assert r.returncode == 0, err
        seen.append([int(x) for x in out.split()])
    writer.communicate(timeout=300)
    assert writer.returncode == 0
    for counts in seen:
        assert counts, "reader read nothing"
        assert all(c % batch == 0 for c in counts), "a reader saw a partial write"
        assert counts == sorted(counts), "a reader went back in time"
    assert max(max(c) for c in seen) > 0


def test_feed_status_is_one_row_per_feed_latest_wins(store):
    from ingest.store.base import FeedStatus

    t = pd.Timestamp("2026-11-21T10:00:00Z")
    store.put_feed_status(FeedStatus("uav-json", "http-json", "ok", t, t, None, 0, 12, 0, 10.0))
    store.put_feed_status(FeedStatus("uav-json", "http-json", "failing", t + pd.Timedelta(seconds=10), t,
                                     "timeout after 5 s", 1, 0, 0, 10.0))
    store.put_feed_status(FeedStatus("cot-udp", "cot-udp", "ok", t, t))
    fs = store.feed_status().set_index("feed")
    assert list(fs.index) == ["cot-udp", "uav-json"]
    assert fs.loc["uav-json", "state"] == "failing" and fs.loc["uav-json", "last_success"] == t
    assert fs.loc["uav-json", "last_error"] == "timeout after 5 s"
