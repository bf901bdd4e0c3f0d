"""The store contract, run against every backend (see the `store` fixture)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from ingest.adapters.base import ReadResult
from ingest.errors import StoreQueryError
from ingest.pipeline import ingest
from ingest.schema import LAYERS
from ingest.store import open_store
from ingest.store.base import ALERT_COLUMNS, AlertWriteReport
from ingest.validate import validate
from tests.support.storeproc import DEADLINE_S, Child, findings, store_root

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


# --- process-level guarantees (every backend: writer and reader processes) ----------------
# tests/support/storeproc.py: the child processes, and `Child`, which waits for their lines.


def _committed(lines: list[str]) -> dict[int, list[int]]:
    """{batch: [inserted, updated, unchanged]} from a writer's "committed K I U N" lines."""
    return {int(w[1]): [int(x) for x in w[2:]] for w in map(str.split, lines) if w and w[0] == "committed"}


def _sessions_of(store, name: str) -> int:
    from ingest.store.postgis import connect

    with connect(store.url) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                            (name,)).fetchone()[0]


def _killed_writer_is_gone(store, name: str) -> None:
    """A killed client's server session may still be finishing (a COMMIT already sent still
    commits): its outcome is final once the session has ended."""
    if not hasattr(store, "url"):
        return  # the embedded store has no server: the killed process was all there was
    deadline = time.monotonic() + DEADLINE_S
    while _sessions_of(store, name) and time.monotonic() < deadline:
        threading.Event().wait(0.05)
    assert _sessions_of(store, name) == 0, f"the killed writer's session {name} did not end"


def _batches(store) -> pd.Series:
    """Rows stored per batch number (a fresh store opened as another process would)."""
    ids = open_store(store_root(store)).read("track_points", columns=["source_id"])["source_id"]
    assert not ids.duplicated().any(), "a record was stored twice"
    return ids.str.extract(r"^b(\d+)-")[0].astype(int).value_counts().sort_index()


def test_a_writer_killed_mid_write_leaves_the_previous_state_intact(store):
    """Round after round on one store, a writer commits batch S, then is killed at one moment
    of writing batch S+1. After each kill the store holds every batch it held before, each
    whole, S too, and S+1 only if it was committed (and then whole)."""
    moments = ["before-write", "during-write", "after-commit"]
    if hasattr(store, "url"):  # the embedded store commits inside one native call: no moment before it
        moments.insert(1, "before-commit")
    batch = 20_000
    expected: set[int] = set()
    for i, moment in enumerate(moments):
        start, name = i * 100, f"wf-writer-{uuid.uuid4().hex[:8]}"
        target = store_root(store)
        if hasattr(store, "url"):  # the name its server sessions go by
            target += ("&" if "?" in target else "?") + f"application_name={name}"
        hold = [] if moment == "during-write" else [f"{moment}@{start + 1}"]
        w = Child("writer", target, str(batch), "5", str(start), *hold)
        assert w.expect("committed ") == f"committed {start} {batch} 0 0"
        if moment == "during-write":
            w.expect(f"writing {start + 1}")  # killed at once: somewhere inside the write
        else:
            held = w.expect("held ").split()
            assert held[1:3] == [moment, str(start + 1)]
            if moment == "before-commit":
                assert held[3] == str(batch), "the rows were not in the table before the kill"
        lines = w.kill()
        assert _committed(lines).keys() == {start}, f"{moment}: the writer went on past where it was held"
        _killed_writer_is_gone(store, name)
        batches = _batches(store)
        assert (batches == batch).all(), f"{moment}: a batch was half-written: {batches.to_dict()}"
        expected.add(start)
        if moment == "after-commit":
            expected.add(start + 1)  # committed, though the writer never said so
        elif moment == "during-write" and start + 1 in batches.index:
            expected.add(start + 1)  # the kill landed after the commit: whole, as checked above
        assert set(batches.index) == expected, f"{moment}: a batch was lost or appeared"


def test_readers_see_whole_batches_while_a_writer_writes(store, tmp_path):
    """The writer pauses before batch 30 until both readers have read; they go on reading
    while it writes batches 30-35, and read once more after batch 35 was committed."""
    target, batch, stop = store_root(store), 5_000, tmp_path / "stop"
    writer = Child("writer", target, str(batch), "60", "0", "before-write@30")
    readers = [Child("reader", target, str(stop)) for _ in range(2)]
    writer.expect("held before-write 30")
    for r in readers:
        r.expect("")  # a first count: the reader is reading
    writer.send("go")
    writer.expect("committed 35 ")
    stop.touch()
    for r in readers:
        counts = [int(x) for x in r.succeed()]
        assert all(c % batch == 0 for c in counts), f"a reader saw a partial write: {counts}"
        assert counts == sorted(counts), f"a reader went back in time: {counts}"
        assert counts[-1] >= 36 * batch  # the read that began after batch 35 was committed
    assert sorted(_committed(writer.succeed())) == list(range(60))
    assert len(_batches(store)) == 60


def test_two_writers_and_readers_at_once_lose_and_duplicate_nothing(store, tmp_path):
    """Two writer processes (batches 0-29 and 0-44: the first 30 written by both, released
    at the same moment, so they race on the same keys) and two readers, reading from before
    the release until both writers have committed batch 29: every batch stored once and
    whole, each record inserted by exactly one writer, readers never see part of a batch."""
    target, batch, stop = store_root(store), 2_000, tmp_path / "stop"
    writers = [Child("writer", target, str(batch), "30", "0", "before-write@0"),
               Child("writer", target, str(batch), "45", "0", "before-write@0")]
    readers = [Child("reader", target, str(stop)) for _ in range(2)]
    for c in [*writers, *readers]:
        c.expect("held before-write 0" if c in writers else "")
    for w in writers:
        w.send("go")
    for w in writers:
        w.expect("committed 29 ")
    stop.touch()
    for r in readers:
        counts = [int(x) for x in r.succeed()]
        assert all(c % batch == 0 for c in counts), "a reader saw a partial write"
        assert counts == sorted(counts), "a reader went back in time"
        assert counts[-1] >= 30 * batch
    reports = [_committed(w.succeed()) for w in writers]
    assert [sorted(r) for r in reports] == [list(range(30)), list(range(45))]
    inserted = sum(rep[0] for r in reports for rep in r.values())
    assert inserted == 45 * batch, "a record was inserted twice or not at all"
    assert sum(rep[1] for r in reports for rep in r.values()) == 0  # same content: never an update
    for k in range(30):  # written by both: one inserted it, the other found it unchanged
        assert sorted(r[k][0] for r in reports) == [0, batch] and sorted(r[k][2] for r in reports) == [0, batch]
    batches = _batches(store)
    assert list(batches.index) == list(range(45)) and (batches == batch).all()
    assert store.stats("track_points").count == 45 * batch


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


# --- alerts -----------------------------------------------------------------------------

N0 = T0 + pd.Timedelta(hours=1)  # when the first evaluation ran


def _states(store, **kw) -> dict[str, str]:
    return dict(zip(store.alerts(**kw)["key"], store.alerts(**kw)["state"]))


def test_alerts_are_deduplicated_by_key_across_refreshes_and_within_a_batch(store):
    first = findings(["a", "b", "a"])  # "a" twice: the newest time wins
    assert store.put_alerts(first, now=N0) == AlertWriteReport(2, 0, 0)
    later = findings(["a", "b", "c"], message=["entered", "left", "entered"])
    rep = store.put_alerts(later, now=N0 + pd.Timedelta(minutes=5))
    assert (rep.new, rep.updated, rep.unchanged) == (1, 2, 0)  # a: time changed; b: message changed
    rep = store.put_alerts(later, now=N0 + pd.Timedelta(minutes=10))
    assert (rep.new, rep.updated, rep.unchanged) == (0, 0, 3)
    got = store.alerts()
    assert list(got.columns) == ALERT_COLUMNS and got.crs == "EPSG:4326"
    assert list(got["key"]) == ["c", "b", "a"]  # newest time first
    row = got.set_index("key").loc["b"]
    assert row["message"] == "left" and row["state"] == "open" and row["subjects"] == '["b"]'
    assert row["first_seen"] == N0 and row["last_seen"] == N0 + pd.Timedelta(minutes=10)
    assert got.set_index("key").loc["c", "first_seen"] == N0 + pd.Timedelta(minutes=5)
    assert row.geometry.equals(shapely.Point(20.001, 42))
    # an evaluation older than what is stored changes nothing
    stale = findings(["b"], severity="low")
    assert store.put_alerts(stale, now=N0).unchanged == 1
    assert store.alerts().set_index("key").loc["b", "severity"] == "high"


def test_an_acknowledgement_survives_later_refreshes(store):
    store.put_alerts(findings(["a", "b"]), now=N0)
    assert store.acknowledge("a", "alice", at=N0 + pd.Timedelta(minutes=1))
    for k in range(2, 5):  # refreshes with changed content
        store.put_alerts(findings(["a", "b"], severity="critical", message=f"refresh {k}"),
                         now=N0 + pd.Timedelta(minutes=k))
    got = store.alerts().set_index("key")
    assert got.loc["a", "state"] == "acknowledged" and got.loc["a", "acknowledged_by"] == "alice"
    assert got.loc["a", "acknowledged_at"] == N0 + pd.Timedelta(minutes=1)
    assert got.loc["a", "message"] == "refresh 4" and got.loc["a", "severity"] == "critical"
    assert got.loc["b", "state"] == "open" and pd.isna(got.loc["b", "acknowledged_by"])
    assert pd.isna(got.loc["b", "acknowledged_at"])


def test_the_first_acknowledgement_is_kept(store):
    store.put_alerts(findings(["a"]), now=N0)
    assert store.acknowledge("a", "alice", at=N0 + pd.Timedelta(minutes=1))
    assert store.acknowledge("a", "bob", at=N0 + pd.Timedelta(minutes=2))  # the alert exists
    assert not store.acknowledge("nope", "bob")
    row = store.alerts().iloc[0]
    assert (row["acknowledged_by"], row["acknowledged_at"]) == ("alice", N0 + pd.Timedelta(minutes=1))
    assert len(store.alerts()) == 1
    with pytest.raises(StoreQueryError, match="tz-aware"):
        store.acknowledge("a", "carol", at=datetime(2026, 11, 20))


def test_resolve_missing_resolves_what_the_latest_evaluation_did_not_find(store):
    store.put_alerts(findings(["a", "b", "c"]), now=N0)
    store.put_alerts(findings(["z"], rule="loitering"), now=N0)
    store.acknowledge("b", "alice")
    n1 = N0 + pd.Timedelta(minutes=1)
    store.put_alerts(findings(["a"]), now=n1)
    assert store.resolve_missing({"a"}, rules=["zone-entry"], now=n1) == 2
    assert _states(store) == {"a": "open", "b": "resolved", "c": "resolved", "z": "open"}
    assert store.alerts().set_index("key").loc["b", "acknowledged_by"] == "alice"  # resolved keeps the ack
    assert store.resolve_missing({"a"}, rules=["zone-entry"], now=n1) == 0  # already resolved
    # re-appearing: open again, unless acknowledged
    n2 = N0 + pd.Timedelta(minutes=2)
    rep = store.put_alerts(findings(["a", "b", "c"]), now=n2)
    assert (rep.new, rep.updated, rep.unchanged) == (0, 2, 1)  # b and c re-opened
    assert _states(store) == {"a": "open", "b": "acknowledged", "c": "open", "z": "open"}
    # an alert put by a newer evaluation is not resolved by an older one
    store.put_alerts(findings(["y"], rule="loitering"), now=N0 + pd.Timedelta(minutes=10))
    assert store.resolve_missing(set(), rules=["loitering"], now=n2) == 1  # z, not y
    assert _states(store)["z"] == "resolved" and _states(store)["y"] == "open"
    assert store.resolve_missing(set(), now=N0 + pd.Timedelta(minutes=11)) == 4
    assert set(_states(store).values()) == {"resolved"} and len(store.alerts()) == 5


def test_alert_filters(store):
    store.put_alerts(findings([f"z{i}" for i in range(4)]), now=N0)  # times T0 .. T0+3min
    store.put_alerts(findings(["l0", "l1"], rule="loitering", t0=T0 + pd.Timedelta(hours=1)), now=N0)
    store.acknowledge("z1", "alice")
    store.resolve_missing({"z0", "z1", "l0", "l1"}, now=N0 + pd.Timedelta(minutes=1))  # z2, z3
    assert list(store.alerts(since=T0 + pd.Timedelta(minutes=2))["key"]) == ["l1", "l0", "z3", "z2"]
    assert list(store.alerts(rules=["loitering"])["key"]) == ["l1", "l0"]
    assert list(store.alerts(states=["open"])["key"]) == ["l1", "l0", "z0"]
    assert list(store.alerts(states=["acknowledged"])["key"]) == ["z1"]
    assert list(store.alerts(states=["resolved"])["key"]) == ["z3", "z2"]
    assert list(store.alerts(states=["open", "acknowledged"], rules=["zone-entry"])["key"]) == ["z1", "z0"]
    assert list(store.alerts(limit=2)["key"]) == ["l1", "l0"]
    got = store.alerts(since=T0 + pd.Timedelta(days=1))
    assert got.empty and list(got.columns) == ALERT_COLUMNS
    with pytest.raises(StoreQueryError, match="states"):
        store.alerts(states=["closed"])
    with pytest.raises(StoreQueryError, match="tz-aware"):
        store.alerts(since=datetime(2026, 11, 20))


def test_no_alerts_is_an_empty_frame_with_the_columns(store):
    got = store.alerts(states=["open"], rules=["zone-entry"], since=T0, limit=5)
    assert got.empty and list(got.columns) == ALERT_COLUMNS and got.crs == "EPSG:4326"
    for c in ("time", "first_seen", "last_seen", "acknowledged_at"):
        assert str(got[c].dtype) == "datetime64[us, UTC]"
    assert not store.acknowledge("a", "alice")
    assert store.resolve_missing(set()) == 0
    rep = store.put_alerts(findings([]))
    assert (rep.new, rep.updated, rep.unchanged) == (0, 0, 0) and store.alerts().empty


def test_an_acknowledgement_in_one_process_is_seen_by_every_other(store, tmp_path):
    root = store_root(store)
    store.put_alerts(findings(["a", "b"]), now=N0)

    def run(*args: str) -> str:
        return "\n".join(Child(*args).succeed())

    assert run("ack", root, "alice", "a", "nope").split("\n")[:2] == ["acked a True", "acked nope False"]
    seen = {r["key"]: r for r in map(json.loads, run("alerts", root).splitlines())}
    assert seen["a"] == {"key": "a", "state": "acknowledged", "acknowledged_by": "alice"}
    assert seen["b"]["state"] == "open"
    # and a refresh loop in one process racing acknowledgements in another never loses one
    store.put_alerts(findings([f"k{i}" for i in range(2000)]), now=N0)
    stop = tmp_path / "stop"
    acked = tmp_path / "acked"
    writer = Child("alert-writer", root, "2000", str(stop), str(acked))
    writer.expect("put 0")  # the refreshes are under way
    keys = [f"k{i}" for i in range(0, 2000, 50)]
    out = run("ack", root, "bob", *keys)
    acked_at = store.version("_alerts")
    acked.touch()
    for _ in range(2):
        writer.expect("put after ")  # a refresh that began after the acknowledgements had ended
    stop.touch()
    writer.succeed()
    assert out.split() == [w for k in keys for w in ("acked", k, "True")]
    assert store.version("_alerts") >= acked_at + 2, "no refresh after the acknowledgements"
    seen = {r["key"]: r for r in map(json.loads, run("alerts", root).splitlines())}
    assert len(seen) == 2002
    assert all(seen[k]["state"] == "acknowledged" and seen[k]["acknowledged_by"] == "bob" for k in keys)
    assert sum(r["state"] == "acknowledged" for r in seen.values()) == len(keys) + 1


def test_a_track_is_as_restricted_as_its_most_restricted_fix(store):
    frame = gpd.GeoDataFrame(
        {"source_id": ["a", "b", "c"], "track_id": "u1",
         "time": ["2026-11-20T10:00:00Z", "2026-11-20T10:00:10Z", "2026-11-20T10:00:20Z"],
         "marking": ["UNCLASSIFIED//REL TO USA, GBR", "UNCLASSIFIED//REL TO USA, GBR, FRA",
                     "UNCLASSIFIED//REL TO USA, GBR, FRA"]},
        geometry=[shapely.Point(21, 42), shapely.Point(21.001, 42), shapely.Point(21.002, 42)], crs=4326)
    ingest(store, ReadResult("track_points", frame), source="csv")
    marking = store.read("tracks")["marking"].iloc[0]
    assert marking == "UNCLASSIFIED//REL TO GBR, USA"  # FRA may not see the early part of the path
