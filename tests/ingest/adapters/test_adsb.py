"""ADS-B snapshots through adapter -> validate -> store.

`dump1090_aircraft_{1,2,3}.json` are three aircraft.json files written by the
real dump1090-mutability decoder while it replayed a real Beast capture over
Toulouse (tests/data/README.md): TRA89M (48520a) located, TJT62CB (3981e4)
heard but never located. `opensky_states_quickstart.json` is an OpenSky
/states/all response built from real OpenSky fixes around Paris: 29 state
vectors, 3 of them without a position.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ingest.adapters import detect, read
from ingest.errors import UnreadableInputError
from ingest.pipeline import ingest

ADSB = Path(__file__).resolve().parents[2] / "data" / "adsb"
SNAPSHOTS = [ADSB / f"dump1090_aircraft_{i}.json" for i in (1, 2, 3)]
OPENSKY = ADSB / "opensky_states_quickstart.json"


def test_an_aircraft_json_stores_located_aircraft_and_quarantines_the_others(store):
    assert detect(SNAPSHOTS[0]) == "adsb-aircraft-json"
    summary = ingest(store, read(SNAPSHOTS[0], source="rx-tls"), source="rx-tls")
    assert (summary.read, summary.stored, summary.quarantined) == (2, 1, 1)
    fix = store.read("track_points").iloc[0]
    assert fix["track_id"] == "adsb:48520a"
    # "now" 1796356775.4, "seen_pos" 0.1: the position is a tenth of a second older than the file
    assert fix["time"] == pd.Timestamp("2026-12-04T03:59:35.300Z")  # 1796356775.3
    assert (fix.geometry.y, fix.geometry.x) == (43.646028, 1.231253)
    assert fix["altitude_m"] == pytest.approx(38000 * 0.3048)  # "altitude" in feet
    assert fix["speed_mps"] == pytest.approx(395 * 1852 / 3600)  # "speed" in knots
    assert fix["heading_deg"] == 355
    assert pd.isna(fix["callsign"])  # no "flight" decoded yet in this snapshot
    q = store.quarantined(source="rx-tls").iloc[0]
    assert q["reason"] == "missing_geometry" and q["source_id"] == "adsb:3981e4"
    assert "aircraft 3981e4 was heard but not located" in q["detail"]
    assert json.loads(q["raw"])["messages"] == 18


def test_successive_snapshots_store_each_position_once(store):
    for path in SNAPSHOTS:
        summary = ingest(store, read(path, source="rx-tls"), source="rx-tls")
        assert summary.stored + summary.quarantined == summary.read == 2
    points = store.read("track_points").sort_values("time")
    # Snapshot 3 repeats snapshot 2's position with seen_pos 12.4 instead of 0.3:
    # 1796356793.5 - 12.4 = 1796356781.4 - 0.3, the same fix, stored once.
    assert list(points["time"]) == [pd.Timestamp("2026-12-04T03:59:35.300Z"),
                                    pd.Timestamp("2026-12-04T03:59:41.100Z")]
    assert list(points["callsign"].fillna("-")) == ["-", "TRA89M"]
    assert points["platform_type"].iloc[-1] == "large aircraft"  # category A3
    track = store.read("tracks").iloc[0]
    assert (track["track_id"], track["point_count"], track["callsign"]) == ("adsb:48520a", 2, "TRA89M")


def test_opensky_state_vectors_use_the_time_of_the_position(store):
    assert detect(OPENSKY) == "opensky-states"
    summary = ingest(store, read(OPENSKY, source="opensky"), source="opensky")
    assert (summary.read, summary.stored, summary.quarantined) == (29, 26, 3)
    q = store.quarantined(source="opensky")
    assert sorted(q["source_id"]) == ["adsb:39cea9", "adsb:46ad61", "adsb:4d2238"]
    assert q["detail"].str.contains("time_position=None").all()
    fix = store.read("track_points", where={"track_id": "adsb:3946e5"}).iloc[0]
    assert fix["callsign"] == "AFR1013"
    assert fix["time"] == pd.Timestamp("2021-10-07T13:50:01Z")  # time_position 1633614601
    assert (fix.geometry.y, fix.geometry.x) == (48.9877, 2.4687)
    assert (fix["altitude_m"], fix["speed_mps"], fix["heading_deg"]) == (365.76, 81.28, 84.9)


def test_readsb_field_names_ground_altitude_and_an_aircraft_heard_by_both_feeds(store, tmp_path):
    """readsb / dump1090-fa spell the fields differently from dump1090-mutability."""
    doc = {"now": 1633614611.0, "messages": 10, "aircraft": [
        {"hex": "3946E5", "flight": "AFR1013 ", "lat": 48.9901, "lon": 2.4913, "seen_pos": 0.5,
         "alt_baro": 1300, "alt_geom": 1375, "gs": 160.2, "track": 85.1, "category": "A3", "seen": 0.1},
        {"hex": "~2be10c", "lat": 48.72, "lon": 2.37, "seen_pos": 3, "alt_baro": "ground",
         "gs": 12, "category": "C1", "type": "tisb_other"},
        {"flight": "NOHEX"},
    ]}
    path = tmp_path / "aircraft.json"
    path.write_text(json.dumps(doc))
    summary = ingest(store, read(path, source="readsb"), source="readsb")
    assert (summary.read, summary.stored, summary.quarantined) == (3, 2, 1)
    assert "expected an aircraft with a 'hex' address" in store.quarantined(source="readsb")["detail"].iloc[0]
    ground = store.read("track_points", where={"track_id": "adsb:~2be10c"}).iloc[0]
    assert pd.isna(ground["altitude_m"]) and ground["platform_type"] == "emergency vehicle"
    ingest(store, read(OPENSKY, source="opensky"), source="opensky")
    # The ICAO address is the track id whichever feed heard it, in whatever case.
    afr = store.read("track_points", where={"track_id": "adsb:3946e5"}).sort_values("time")
    assert list(afr["source"]) == ["opensky", "readsb"]
    assert afr["altitude_m"].iloc[1] == pytest.approx(1375 * 0.3048)  # geometric before barometric
    assert afr["time"].iloc[1] == pd.Timestamp("2021-10-07T13:50:10.500Z")


@pytest.mark.parametrize("doc, why", [
    ({"aircraft": []}, "expected 'now' \\(Unix seconds\\)"),
    ({"now": 1.0, "aircraft": {}}, "expected 'aircraft' to be a list"),
    ([1, 2], "an object with 'aircraft'"),
])
def test_snapshots_without_their_frame_are_refused(tmp_path, doc, why):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(UnreadableInputError, match=why):
        read(path, source="x", fmt="adsb-aircraft-json")


def test_opensky_with_nothing_in_view_and_a_broken_state(tmp_path):
    path = tmp_path / "states.json"
    path.write_text(json.dumps({"time": 1633614601, "states": None}))
    assert read(path, source="x").records_read == 0
    path.write_text(json.dumps({"time": 1633614601, "states": [["3946e5", "AFR1013 "]]}))
    result = read(path, source="x")
    assert result.records_read == 1 and result.rejected.iloc[0]["reason"] == "malformed_record"
    assert "array of 17 or 18 values" in result.rejected.iloc[0]["detail"]
