"""One drone, one track: `$WATCHFLOOR_HOME/track_ids.toml` aliases applied by the pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.adapters import read
from ingest.errors import ConfigError
from ingest.pipeline import ingest
from ingest.store.delta import DeltaStore
from ingest.track_ids import load_track_ids, parse_track_ids

DATA = Path(__file__).resolve().parents[1] / "data"
TLOG = DATA / "mavlink" / "ardupilot_flight_2015.tlog"
ULOG = DATA / "ulog" / "px4_global_position.ulg"
UUID = "000600000000373833333430510d002c0035"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("WATCHFLOOR_HOME", str(home))
    return home


@pytest.fixture
def store(tmp_path) -> DeltaStore:
    return DeltaStore(tmp_path / "store")


def test_the_telemetry_and_the_flight_log_of_one_drone_make_one_track(home, store):
    (home / "track_ids.toml").write_text(f'[track_ids]\n"mavlink:1" = "UAV-7"\n"ULOG:{UUID.upper()}" = "UAV-7"\n')
    for path, source in ((TLOG, "gcs"), (ULOG, "sd-card")):
        summary = ingest(store, read(path, source=source), source=source)
        assert summary.stored + summary.quarantined == summary.read
    tracks = store.read("tracks")
    assert list(tracks["track_id"]) == ["UAV-7"]
    assert tracks["point_count"].iloc[0] == 676 + 60
    points = store.read("track_points")
    # the record keys keep the ids as read, so the origin of every fix stays visible
    assert points.groupby("source")["source_id"].agg(lambda s: s.str.split("@").str[0].unique().tolist()
                                                      ).to_dict() == {"gcs": ["mavlink:1"],
                                                                      "sd-card": [f"ulog:{UUID}"]}


def test_a_source_table_wins_and_other_sources_keep_the_common_alias(home, store):
    (home / "track_ids.toml").write_text('[track_ids]\n"mavlink:1" = "UAV-7"\n'
                                         '[sources."gcs-north".track_ids]\n"mavlink:1" = "UAV-9"\n')
    ingest(store, read(TLOG, source="gcs-north"), source="gcs-north")
    ingest(store, read(TLOG, source="gcs-south"), source="gcs-south")
    counts = store.read("track_points").groupby("source")["track_id"].unique().to_dict()
    assert {k: list(v) for k, v in counts.items()} == {"gcs-north": ["UAV-9"], "gcs-south": ["UAV-7"]}


def test_an_edited_file_applies_to_the_next_ingest_and_no_file_changes_nothing(home, store):
    assert not load_track_ids()
    ingest(store, read(ULOG, source="sd"), source="sd")
    assert set(store.read("track_points")["track_id"]) == {f"ulog:{UUID}"}
    (home / "track_ids.toml").write_text(f'[track_ids]\n"ulog:{UUID}" = "UAV-7"\n')
    ingest(store, read(ULOG, source="sd"), source="sd")
    assert set(store.read("track_points")["track_id"]) == {"UAV-7"}  # same keys, new track id


@pytest.mark.parametrize("doc, expect", [
    ({"track_id": {}}, "only \\[track_ids\\] and \\[sources.NAME.track_ids\\]"),
    ({"track_ids": {"mavlink:1": 7}}, "a non-empty track id"),
    ({"track_ids": {"adsb:4ca1f3": "UAV-7", "ADSB:4CA1F3": "UAV-8"}}, "differs only in case"),
    ({"sources": {"gcs": {"aliases": {}}}}, "only a track_ids table"),
])
def test_a_table_that_cannot_be_used_is_refused_naming_the_key(doc, expect):
    with pytest.raises(ConfigError, match=expect):
        parse_track_ids(doc)


def test_a_file_that_is_not_toml_is_refused(home, store):
    (home / "track_ids.toml").write_text('[track_ids]\n"mavlink:1" = UAV-7\n')
    with pytest.raises(ConfigError, match="valid TOML"):
        ingest(store, read(ULOG, source="sd"), source="sd")
