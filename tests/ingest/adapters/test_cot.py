"""Cursor-on-Target files and events (ingest/adapters/cot.py)."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest

from ingest import reasons
from ingest.adapters.cot import is_rejection, iter_cot_events, parse_cot_event, read_cot
from ingest.errors import HostileInputError, UnreadableInputError
from tests.ingest.adapters.conftest import DATA, SRC, by_id, is_null, xy


def test_cot_file_fields_and_rejections() -> None:
    res = read_cot(DATA / "cot/drone_events.xml", source=SRC)
    assert (len(res.frame), len(res.rejected), res.records_read) == (3, 2, 5)
    rows = by_id(res.frame)
    assert list(rows) == [
        "UAV-ALPHA-01@2024-05-04T10:00:00Z",
        "UAV-ALPHA-01@2024-05-04T12:00:10+02:00",
        "UAV-BRAVO-07@2024-05-04T10:00:05Z",
    ]
    a = rows["UAV-ALPHA-01@2024-05-04T10:00:00Z"]
    assert xy(a.geometry) == (21.1655, 42.6629)  # lon, lat
    assert a.track_id == "UAV-ALPHA-01"
    assert a.time == "2024-05-04T10:00:00Z"
    assert a.stale_at == "2024-05-04T10:05:00Z"
    assert a.altitude_m == 850.5
    assert a.speed_mps == 33.4
    assert a.heading_deg == 271.5
    assert a.callsign == "ALPHA 1"
    assert a.platform_type == "a-h-A-M-F-Q"
    assert a.marking == "UNCLASSIFIED//REL TO USA, GBR, FRA"

    a2 = rows["UAV-ALPHA-01@2024-05-04T12:00:10+02:00"]
    assert a2.time == "2024-05-04T12:00:10+02:00"  # passed as found: validate converts
    assert math.isnan(a2.altitude_m)  # hae 9999999.0 = unknown
    assert xy(a2.geometry) == (21.1614, 42.6631)

    b = rows["UAV-BRAVO-07@2024-05-04T10:00:05Z"]
    assert xy(b.geometry) == (20.8660, 42.8914)
    assert b.altitude_m == 410.0
    assert is_null(b.speed_mps) and is_null(b.heading_deg)  # no <track>
    assert is_null(b.marking)  # pipeline applies the source default

    rej = res.rejected.set_index("source_id")
    nopoint = rej.loc["UAV-BRAVO-07@2024-05-04T10:00:15Z"]
    assert nopoint.reason == reasons.MALFORMED_RECORD
    assert "<point" in nopoint.detail and "found none" in nopoint.detail
    assert "UAV-BRAVO-07" in nopoint.raw
    badlat = rej.loc["UAV-BRAVO-07@2024-05-04T10:00:25Z"]
    assert badlat.reason == reasons.BAD_COORDINATE_TEXT
    assert "forty-two" in badlat.detail


def test_cot_real_single_event_documents() -> None:
    res = read_cot(DATA / "cot/pycot_tak_example.xml", source=SRC)
    (row,) = [r for _, r in res.frame.iterrows()]
    assert row.source_id == "demo-1@2025-08-18T00:00:00.000Z"
    assert xy(row.geometry) == (-3.7038, 40.4168)
    assert row.altitude_m == 650.0
    assert row.callsign == "Unit"
    assert row.platform_type == "a-f-G-U-C"
    assert row.stale_at == "2025-08-18T01:00:00.000Z"

    res = read_cot(DATA / "cot/takproto_wintak_event.xml", source=SRC)
    (row,) = [r for _, r in res.frame.iterrows()]
    assert row.track_id == "aa0b0312-b5cd-4c2c-bbbc-9c4c70216261"
    assert xy(row.geometry) == (-66.07737696, 43.97957317)
    assert row.altitude_m == 26.767999
    assert (row.speed_mps, row.heading_deg) == (0.0, 0.0)
    assert row.callsign == "Eliopoli HQ"
    assert row.time == "2020-02-08T18:10:44.000Z"


def test_parse_cot_event_for_listeners() -> None:
    raw = (DATA / "cot/takproto_wintak_event.xml").read_bytes()
    row = parse_cot_event(raw, source="udp")
    assert not is_rejection(row)
    assert xy(row["geometry"]) == (-66.07737696, 43.97957317)
    assert row["source_id"] == "aa0b0312-b5cd-4c2c-bbbc-9c4c70216261@2020-02-08T18:10:44.000Z"

    rej = parse_cot_event(b"<event uid='x' time='t'><poin", source="udp")
    assert is_rejection(rej) and rej["reason"] == reasons.MALFORMED_RECORD
    assert "well-formed" in rej["detail"]
    rej = parse_cot_event(b"<ping/>", source="udp")
    assert is_rejection(rej) and "expected an <event>" in rej["detail"]
    with pytest.raises(HostileInputError):
        parse_cot_event((DATA / "hostile/xxe_cot.xml").read_bytes(), source="udp")


def test_iter_cot_events_splits_a_tcp_stream() -> None:
    e1 = (DATA / "cot/takproto_wintak_event.xml").read_bytes().strip()
    e2 = (DATA / "cot/pycot_tak_example.xml").read_bytes().strip()
    stream = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        + e1
        + b"\n"
        + b'<?xml version="1.0"?>'
        + e2
        + b"GARBAGE"
        + b'<event uid="tail" time="2024-01-01T00:00:00Z"><point lat="1" lon="2"/></event>'
        + b'<event uid="cut"><point lat="1"'  # connection closed mid-event
    )
    # Deliver in 7-byte pieces, as a socket might.
    pieces = [stream[i : i + 7] for i in range(0, len(stream), 7)]
    events = list(iter_cot_events(pieces))
    assert events[0] == e1 and events[1] == e2
    assert events[2] == b"GARBAGE"
    assert events[3].startswith(b'<event uid="tail"')
    assert events[4].startswith(b'<event uid="cut"')
    parsed = [parse_cot_event(e, source="tcp") for e in events]
    assert [is_rejection(p) for p in parsed] == [False, False, True, False, True]
    # Same result from a file object.
    assert list(iter_cot_events(io.BytesIO(stream))) == events


def test_iter_cot_events_refuses_doctype_and_endless_events() -> None:
    with pytest.raises(HostileInputError):
        list(iter_cot_events([b'<!DOCTYPE x [<!ENTITY a "b">]><event uid="1"/>']))
    with pytest.raises(HostileInputError, match="longer than"):
        list(iter_cot_events([b"<event uid='1'>" + b"x" * 2000], max_event_bytes=1000))


def test_cot_file_of_concatenated_events(tmp_path: Path) -> None:
    p = tmp_path / "capture.cot"
    p.write_bytes(
        (DATA / "cot/takproto_wintak_event.xml").read_bytes()
        + (DATA / "cot/pycot_tak_example.xml").read_bytes()
    )
    res = read_cot(p, source=SRC)
    assert (len(res.frame), len(res.rejected)) == (2, 0)
    assert list(res.frame.track_id) == ["aa0b0312-b5cd-4c2c-bbbc-9c4c70216261", "demo-1"]


@pytest.mark.parametrize("name", ["billion_laughs_cot.xml", "xxe_cot.xml"])
def test_cot_hostile_xml_is_refused(name: str) -> None:
    with pytest.raises(HostileInputError) as err:
        read_cot(DATA / "hostile" / name, source=SRC)
    assert name in str(err.value)
    assert "DOCTYPE" in str(err.value)


def test_cot_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(UnreadableInputError, match="no such file"):
        read_cot(tmp_path / "missing.xml", source=SRC)
    with pytest.raises(UnreadableInputError, match="not well-formed XML"):
        read_cot(DATA / "geojson/incidents.geojson", source=SRC)
    with pytest.raises(UnreadableInputError, match="expected Cursor-on-Target <event>"):
        read_cot(DATA / "gpx/uav_mission.gpx", source=SRC)
    with pytest.raises(UnreadableInputError, match="limit"):
        read_cot(DATA / "cot/drone_events.xml", source=SRC, max_bytes=100)
    empty = tmp_path / "empty.xml"
    empty.write_text("<events/>")
    res = read_cot(empty, source=SRC)
    assert (len(res.frame), res.records_read) == (0, 0)
