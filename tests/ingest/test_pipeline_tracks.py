"""Tracks derived at ingest: a first load derives them from the points it has just
written, and they are exactly the tracks that reading those points back would give."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ingest.adapters.cot import read_cot
from ingest.adapters.tracks_csv import read_tracks_csv
from ingest.pipeline import ingest, refresh_tracks
from ingest.store.delta import DeltaStore
from ingest.validate import validate

DATA = Path(__file__).resolve().parents[1] / "data"
NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


class CountingStore(DeltaStore):
    """The embedded store, noting which layers were read."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads: list[str] = []

    def read(self, layer: str, **kwargs):  # type: ignore[override]
        self.reads.append(layer)
        return super().read(layer, **kwargs)


def test_a_first_load_derives_the_tracks_a_read_back_would(tmp_path: Path) -> None:
    res = read_tracks_csv(DATA / "csv/tracks_partner.csv", source="partner")
    first = CountingStore(tmp_path / "first")
    summary = ingest(first, res, source="partner", default_marking="UNCLASSIFIED", now=NOW)
    # UAV-DELTA-2's two fixes are stored; UAV-ECHO-5's one fix has a naive time (quarantined).
    assert summary.tracks_updated == 1 and "track_points" not in first.reads

    # The same points written, then the tracks derived by reading them back.
    valid = validate(res.frame, "track_points", source="partner", default_marking="UNCLASSIFIED",
                     now=NOW).valid
    other = CountingStore(tmp_path / "other")
    other.write("track_points", valid)
    assert refresh_tracks(other, valid["track_id"].unique().tolist()) == 1
    assert "track_points" in other.reads

    # ingested_at is when each track version was stored: the only column that may differ.
    got, expected = (s.read("tracks").drop(columns="ingested_at") for s in (first, other))
    pd.testing.assert_frame_equal(got, expected)


def test_a_later_load_reads_back_the_points_already_stored(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "store")
    ingest(store, read_cot(DATA / "cot/drone_events.xml", source="tak"), source="tak", now=NOW)
    store.reads.clear()
    # Another source reporting a track already known: its line must join both sources' fixes.
    later = read_cot(DATA / "cot/drone_events.xml", source="relay")
    later.frame["time"] = later.frame["time"].str.replace("10:00:0", "11:00:0")
    ingest(store, later, source="relay", now=NOW)
    assert "track_points" in store.reads
    alpha = store.read("tracks", where={"track_id": "UAV-ALPHA-01"}).iloc[0]
    assert alpha.point_count == 4  # two fixes from each source
