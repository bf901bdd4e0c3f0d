"""GPX track points (ingest/adapters/gpx.py), checked against gpxpy."""

from __future__ import annotations

import gpxpy
import pandas as pd
import pytest

from ingest import reasons
from ingest.adapters.gpx import read_gpx
from ingest.errors import HostileInputError, UnreadableInputError
from tests.ingest.adapters.conftest import DATA, SRC, by_id, is_null, xy


def test_gpx_real_file_with_speed() -> None:
    res = read_gpx(DATA / "gpx/track_with_speed.gpx", source=SRC)
    assert (len(res.frame), len(res.rejected)) == (3, 0)
    f = res.frame
    assert list(f.track_id.unique()) == ["track_with_speed-1"]  # unnamed trk: stem + index
    assert list(f.source_id) == [
        "track_with_speed-1@2009-03-02T14:05:52Z",
        "track_with_speed-1@2009-03-02T14:05:58Z",
        "track_with_speed-1@2009-03-02T14:06:05Z",
    ]
    assert xy(f.geometry.iloc[0]) == (5.541371, 52.330848)
    assert xy(f.geometry.iloc[2]) == (5.541333, 52.331014)
    assert list(f.altitude_m) == [48.962041, 58.166437, 53.381747]
    assert list(f.speed_mps) == [1.2, 2.2, 3.2]
    assert list(f.time) == ["2009-03-02T14:05:52Z", "2009-03-02T14:05:58Z", "2009-03-02T14:06:05Z"]


@pytest.mark.parametrize(
    "name", ["track_with_speed.gpx", "track-with-empty-segment.gpx", "track-with-less-sec-time.gpx"]
)
def test_gpx_agrees_with_gpxpy_on_its_own_files(name: str) -> None:
    path = DATA / "gpx" / name
    ours = read_gpx(path, source=SRC).frame
    ref = [p for t in gpxpy.parse(path.read_text()).tracks for s in t.segments for p in s.points]
    assert len(ours) == len(ref)
    for (_, row), p in zip(ours.iterrows(), ref):
        assert xy(row.geometry) == (p.longitude, p.latitude)
        assert (is_null(row.altitude_m) and p.elevation is None) or row.altitude_m == p.elevation
        assert pd.Timestamp(row.time) == pd.Timestamp(p.time)


def test_gpx_named_track_offsets_and_type() -> None:
    f = read_gpx(DATA / "gpx/track-with-empty-segment.gpx", source=SRC).frame
    assert len(f) == 9 and set(f.track_id) == {"2013-07-06T14:59:00Z"}
    f = read_gpx(DATA / "gpx/track-with-less-sec-time.gpx", source=SRC).frame
    assert list(f.time) == ["2015-12-11T15:43:13.000+01:00", "2015-12-11T15:43:13.994+01:00"]
    assert set(f.platform_type) == {"run"}
    assert xy(f.geometry.iloc[0]) == (9.992872, 57.011456)


def test_gpx_extensions_marking_and_rejection() -> None:
    res = read_gpx(DATA / "gpx/uav_mission.gpx", source=SRC)
    assert (len(res.frame), len(res.rejected), res.records_read) == (3, 1, 4)
    rows = by_id(res.frame)
    c = rows["UAV-CHARLIE-3@2024-05-04T09:00:00Z"]
    assert xy(c.geometry) == (21.15, 42.65)
    assert (c.altitude_m, c.speed_mps, c.heading_deg) == (612.4, 18.5, 45.0)
    assert c.platform_type == "uav"
    assert c.marking == "UNCLASSIFIED//REL TO NATO"
    other = rows["uav_mission-2@2024-05-04T09:30:00Z"]
    assert other.track_id == "uav_mission-2"
    assert other.marking == "UNCLASSIFIED//REL TO NATO"  # file-level marking
    (rej,) = [r for _, r in res.rejected.iterrows()]
    assert rej.reason == reasons.MALFORMED_RECORD
    assert rej.source_id == "UAV-CHARLIE-3@2024-05-04T09:00:20Z"
    assert "lat and lon" in rej.detail and "['lat']" in rej.detail


def test_gpx_route_only_file_is_refused_not_empty() -> None:
    with pytest.raises(UnreadableInputError, match="55 route points"):
        read_gpx(DATA / "gpx/route.gpx", source=SRC)


@pytest.mark.parametrize("name", ["billion_laughs.gpx", "xxe.gpx"])
def test_gpx_hostile_xml_is_refused(name: str) -> None:
    with pytest.raises(HostileInputError) as err:
        read_gpx(DATA / "hostile" / name, source=SRC)
    assert name in str(err.value)


def test_gpx_not_gpx() -> None:
    with pytest.raises(UnreadableInputError, match="expected a <gpx> root"):
        read_gpx(DATA / "cot/pycot_tak_example.xml", source=SRC)
