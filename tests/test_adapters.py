"""File adapters: real sample files in, canonical rows and rejections out.

Expected coordinates and times below were worked out by hand from the sample
files (see tests/data/README.md for where each file came from), not copied
from the adapters' output.
"""

from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path

import gpxpy
import numpy as np
import pandas as pd
import pyproj
import pytest

from ingest import reasons
from ingest.adapters import READERS, coords, detect, read
from ingest.adapters.acled_csv import derive_severity, read_acled_csv
from ingest.adapters.common import output_columns
from ingest.adapters.cot import is_rejection, iter_cot_events, parse_cot_event, read_cot
from ingest.adapters.geojson import read_geojson
from ingest.adapters.gpx import read_gpx
from ingest.adapters.stac import read_stac
from ingest.adapters.tracks_csv import read_tracks_csv
from ingest.adapters.xmlsafe import parse_bytes
from ingest.errors import ConfigError, HostileInputError, UnreadableInputError
from ingest.schema import CRS

DATA = Path(__file__).parent / "data"
SRC = "test-src"


def by_id(frame: pd.DataFrame) -> dict[str, pd.Series]:
    return {row.source_id: row for row in (r for _, r in frame.iterrows())}


def xy(geom) -> tuple[float, float]:
    return (geom.x, geom.y)


def is_null(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


# --------------------------------------------------------------------------
# Every sample: counts add up, canonical columns, EPSG:4326.

SAMPLES = [
    ("cot/drone_events.xml", "cot", {}),
    ("cot/pycot_tak_example.xml", "cot", {}),
    ("cot/takproto_wintak_event.xml", "cot", {}),
    ("gpx/track_with_speed.gpx", "gpx", {}),
    ("gpx/track-with-empty-segment.gpx", "gpx", {}),
    ("gpx/track-with-less-sec-time.gpx", "gpx", {}),
    ("gpx/uav_mission.gpx", "gpx", {}),
    ("csv/tracks_opensky_style.csv", "tracks-csv", {}),
    ("csv/tracks_partner.csv", "tracks-csv", {}),
    ("csv/acled_kosovo_style.csv", "acled-csv", {}),
    ("geojson/incidents.geojson", "geojson-incidents", {}),
    ("geojson/deployments.geojson", "geojson-deployments", {}),
    ("geojson/naturalearth_lux_kos.geojson", "geojson", {"layer": "borders"}),
    ("geojson/naturalearth_lux_kos_3857.geojson", "geojson", {"layer": "borders"}),
    ("geojson/null_geom.geojson", "geojson", {"layer": "disputed_areas"}),
    ("stac/sample-bands-in-item-properties.json", "stac", {}),
    ("stac/eo-landsat-example.json", "stac", {}),
    ("stac/item_collection.json", "stac", {}),
]


@pytest.mark.parametrize("name,fmt,opts", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_every_sample_is_detected_and_accounted_for(name: str, fmt: str, opts: dict) -> None:
    path = DATA / name
    assert detect(path) == fmt
    res = read(path, source=SRC, **opts)
    layer = READERS[fmt][0] or opts["layer"]
    assert res.layer == layer
    assert list(res.frame.columns) == output_columns(layer)
    assert res.frame.crs == CRS
    assert res.records_read == len(res.frame) + len(res.rejected)
    assert (res.frame["source"] == SRC).all()
    assert set(res.rejected["reason"]) <= set(reasons.ALL)
    assert (res.rejected["source"] == SRC).all()


def test_registry_names() -> None:
    assert set(READERS) >= {
        "cot",
        "gpx",
        "tracks-csv",
        "geojson-incidents",
        "geojson-deployments",
        "geojson",
        "acled-csv",
        "stac",
    }
    assert READERS["acled-csv"][0] == "incidents"
    assert READERS["stac"][0] == "imagery"


def test_detect_refuses_unknown(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("hello world\n")
    with pytest.raises(UnreadableInputError, match="cannot tell the format"):
        detect(p)
    with pytest.raises(UnreadableInputError, match="cannot open"):
        detect(tmp_path / "missing.xml")


# --------------------------------------------------------------------------
# Cursor-on-Target


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


# --------------------------------------------------------------------------
# GPX


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


# --------------------------------------------------------------------------
# Track CSV


def test_tracks_csv_opensky_style() -> None:
    res = read_tracks_csv(DATA / "csv/tracks_opensky_style.csv", source=SRC)
    assert (len(res.frame), len(res.rejected), res.records_read) == (5, 2, 7)
    f = res.frame
    assert str(f.time.dtype) == "datetime64[us, UTC]"  # epoch seconds converted here
    rows = by_id(f)
    r0 = rows["4b1805@1714816800"]
    # 1714816800 = 2024-05-01T00:00Z (1714521600) + 3 days + 10 h
    assert r0.time == pd.Timestamp("2024-05-04T10:00:00Z")
    assert xy(r0.geometry) == (21.0358, 42.5728)
    assert (r0.speed_mps, r0.heading_deg, r0.altitude_m) == (72.5, 183.2, 1219.2)
    assert r0.callsign == "SWR1234"  # trailing blank stripped
    dms = rows["3c6444@1714816820"]
    assert dms.geometry.x == pytest.approx(21.325, abs=1e-12)  # 21°19'30"E
    assert dms.geometry.y == pytest.approx(42.72, abs=1e-12)  # 42°43'12"N
    nopos = rows["3c6444@1714816840"]
    assert nopos.geometry is None  # empty lat/lon: validate quarantines as missing
    assert nopos.altitude_m == "fast"  # not a number: passed on for validate
    rej = res.rejected.reset_index(drop=True)
    assert rej.reason.tolist() == [reasons.MALFORMED_RECORD, reasons.BAD_COORDINATE_TEXT]
    assert "expected 8 fields" in rej.detail[0] and "found 9" in rej.detail[0]
    assert rej.raw[0].endswith("EXTRA")
    assert rej.source_id[1] == "3c6444@1714816830" and "'abc'" in rej.detail[1]


def test_tracks_csv_partner_headers_units_and_markings() -> None:
    res = read_tracks_csv(DATA / "csv/tracks_partner.csv", source=SRC)
    f = res.frame
    assert list(f.source_id) == [
        "UAV-DELTA-2@2024-05-04T10:00:00Z",
        "UAV-DELTA-2@2024-05-04T12:00:30+02:00",
        "UAV-ECHO-5@2024-05-04T10:01:00",
    ]
    assert list(f.time) == [
        "2024-05-04T10:00:00Z",
        "2024-05-04T12:00:30+02:00",
        "2024-05-04T10:01:00",
    ]
    assert f.speed_mps.iloc[0] == pytest.approx(20.0)  # 72 km/h
    assert f.speed_mps.iloc[1] == pytest.approx(25.0)  # 90 km/h
    assert f.altitude_m.iloc[0] == 300.0 and math.isnan(f.altitude_m.iloc[2])
    assert f.marking.iloc[0] == "UNCLASSIFIED//REL TO USA" and is_null(f.marking.iloc[1])
    assert f.platform_type.iloc[0] == "uav"
    assert xy(f.geometry.iloc[1]) == (20.4312, 42.3801)


def test_tracks_csv_column_mapping_ms_epoch_and_mgrs(tmp_path: Path) -> None:
    p = tmp_path / "odd.csv"
    p.write_text(
        "Tail,When,Y,X,Grid\nN1,1714816800500,42.5,21.5,\nN1,1714816801500,,,4QFJ12346789\n"
    )
    res = read_tracks_csv(
        p,
        source=SRC,
        columns={"track_id": "Tail", "time": "When", "lat": "Y", "lon": "X", "mgrs": "Grid"},
    )
    f = res.frame
    assert list(f.time) == [
        pd.Timestamp("2024-05-04T10:00:00.500Z"),
        pd.Timestamp("2024-05-04T10:00:01.500Z"),
    ]
    assert xy(f.geometry.iloc[0]) == (21.5, 42.5)
    # Wikipedia's MGRS example, 4Q FJ 1234 6789 = 21°24'35.4306"N 157°54'57.8910"W
    assert f.geometry.iloc[1].x == pytest.approx(-(157 + 54 / 60 + 57.89102787040 / 3600), abs=1e-7)
    assert f.geometry.iloc[1].y == pytest.approx(21 + 24 / 60 + 35.43062452380 / 3600, abs=1e-7)
    with pytest.raises(UnreadableInputError, match="no such header"):
        read_tracks_csv(p, source=SRC, columns={"track_id": "Nope"})
    with pytest.raises(ConfigError, match="speed_unit"):
        read_tracks_csv(p, source=SRC, speed_unit="furlongs/fortnight")


def test_tracks_csv_missing_columns_and_empty(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("name,when\na,b\n")
    with pytest.raises(UnreadableInputError, match=r"track_id.*found headers \['name', 'when'\]"):
        read_tracks_csv(p, source=SRC)
    p.write_text("")
    with pytest.raises(UnreadableInputError, match="empty file"):
        read_tracks_csv(p, source=SRC)


def test_tracks_csv_million_rows_is_vectorised(tmp_path: Path) -> None:
    n = 1_000_000
    rng = np.random.default_rng(7)
    df = pd.DataFrame(
        {
            "track_id": np.char.add("uav-", (np.arange(n) % 500).astype(str)),
            "time": (1714816800 + np.arange(n) // 500).astype(str),
            "lat": np.round(46 + rng.random(n) * 4, 6),
            "lon": np.round(30 + rng.random(n) * 6, 6),
            "alt": np.round(rng.random(n) * 1000, 1),
            "speed": np.round(rng.random(n) * 50, 2),
            "heading": np.round(rng.random(n) * 360, 1),
        }
    )
    p = tmp_path / "big.csv"
    df.to_csv(p, index=False)
    res = read_tracks_csv(p, source=SRC)  # its speed is measured by `make bench`, not here
    assert len(res.frame) == n and len(res.rejected) == 0
    assert xy(res.frame.geometry.iloc[123]) == (df.lon[123], df.lat[123])


# --------------------------------------------------------------------------
# GeoJSON


def test_geojson_incidents() -> None:
    res = read_geojson(DATA / "geojson/incidents.geojson", source=SRC, layer="incidents")
    assert (len(res.frame), len(res.rejected), res.records_read) == (3, 2, 5)
    assert res.default_marking == "UNCLASSIFIED//REL TO NATO"
    rows = by_id(res.frame)
    a = rows["INC-2024-0001"]
    assert xy(a.geometry) == (21.1655, 42.6629)
    assert a.occurred_at == "2024-05-04T09:15:00Z"
    assert (a.category, a.subcategory, a.severity, a.status) == (
        "explosion",
        "IED",
        "high",
        "verified",
    )
    assert a.title == "IED detonation near the main road"
    assert (
        a.description == "Roadside device detonated; <b>two</b> vehicles damaged."
    )  # untrusted, as is
    assert a.location_name == "Pristina"
    assert a.fatalities == 2
    assert a.marking == "UNCLASSIFIED//REL TO USA, GBR"
    b = rows["INC-2024-0002"]  # id from the Feature's own `id` member
    assert b.occurred_at == "2024-05-04T11:40:00+02:00"
    assert is_null(b.fatalities) and is_null(b.marking)
    c = rows["INC-2024-0003"]
    assert c.severity == "catastrophic"  # not judged here: validate quarantines it
    assert c.fatalities == "several"
    rej = res.rejected.reset_index(drop=True)
    assert rej.reason.tolist() == [reasons.MALFORMED_RECORD, reasons.MALFORMED_RECORD]
    assert "'properties' object, found null" in rej.detail[0]
    assert rej.source_id[1] == "INC-2024-0005" and "'21.0E'" in rej.detail[1]


def test_geojson_deployments_with_area() -> None:
    res = read_geojson(DATA / "geojson/deployments.geojson", source=SRC, layer="deployments")
    assert (len(res.frame), len(res.rejected)) == (2, 1)
    rows = by_id(res.frame)
    d = rows["DEU-MNBG-S-1"]
    assert xy(d.geometry) == (20.7397, 42.2139)
    assert (d.nation, d.unit_type, d.echelon, d.strength) == ("DEU", "infantry", "company", 150)
    assert d.unit_name == "Multinational Battle Group South, 1st Company"
    assert d.symbol_code == "10031000151211000000"
    assert d.reported_at == "2024-05-04T06:00:00Z"
    assert d.area.geom_type == "Polygon"
    assert list(d.area.exterior.coords)[:3] == [(20.6, 42.1), (20.9, 42.1), (20.9, 42.35)]
    assert res.frame["area"].crs == CRS
    f = rows["FRA-MP-2"]
    assert f.area is None and f.strength == 35.0
    (rej,) = [r for _, r in res.rejected.iterrows()]
    assert rej.source_id == "ITA-CARA-3" and rej.detail.startswith("area:")


def test_geojson_reference_layer_from_gdal_output() -> None:
    res = read_geojson(DATA / "geojson/naturalearth_lux_kos.geojson", source=SRC, layer="borders")
    f = res.frame
    assert list(f.name) == ["Luxembourg", "Kosovo"]
    assert list(f.country_code) == ["LUX", "-99"]
    assert list(f.source_id) == ["naturalearth_lux_kos#0", "naturalearth_lux_kos#1"]
    assert f.geometry.iloc[0].exterior.coords[0] == (6.043073357781111, 50.128051662794235)


def test_geojson_2008_crs_is_reprojected() -> None:
    wgs = read_geojson(
        DATA / "geojson/naturalearth_lux_kos.geojson", source=SRC, layer="borders"
    ).frame
    web = read_geojson(
        DATA / "geojson/naturalearth_lux_kos_3857.geojson", source=SRC, layer="borders"
    ).frame
    for a, b in zip(wgs.geometry, web.geometry):
        assert np.allclose(
            np.asarray(a.exterior.coords), np.asarray(b.exterior.coords), atol=1e-9, rtol=0
        )


def test_geojson_unknown_crs_rejects_every_record(tmp_path: Path) -> None:
    p = tmp_path / "odd.geojson"
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::999999"}},
        "features": [
            {
                "type": "Feature",
                "properties": {"id": "a", "name": "x"},
                "geometry": {"type": "Point", "coordinates": [1, 2]},
            },
            {
                "type": "Feature",
                "properties": {"id": "b", "name": "y"},
                "geometry": {"type": "Point", "coordinates": [3, 4]},
            },
        ],
    }
    p.write_text(json.dumps(doc))
    res = read_geojson(p, source=SRC, layer="places")
    assert len(res.frame) == 0 and len(res.rejected) == 2
    assert set(res.rejected.reason) == {reasons.UNKNOWN_CRS}
    assert "999999" in res.rejected.detail.iloc[0]


def test_geojson_null_geometry_and_track_points(tmp_path: Path) -> None:
    f = read_geojson(DATA / "geojson/null_geom.geojson", source=SRC, layer="disputed_areas").frame
    assert f.geometry.iloc[0] is None and f.name.iloc[0] == "Null Geometry"  # "Name" matched
    p = tmp_path / "tp.geojson"
    p.write_text(
        json.dumps(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [21.1, 42.6, 500]},
                "properties": {"track_id": "T1", "time": "2024-05-04T10:00:00Z", "speed": 3},
            }
        )
    )
    res = read(p, source=SRC)
    assert res.layer == "track_points"
    row = res.frame.iloc[0]
    assert row.source_id == "T1@2024-05-04T10:00:00Z" and row.speed_mps == 3.0
    assert (row.geometry.x, row.geometry.y) == (21.1, 42.6)


def test_geojson_unreadable_and_hostile(tmp_path: Path) -> None:
    p = tmp_path / "bad.geojson"
    p.write_text("{not json")
    with pytest.raises(UnreadableInputError, match="not valid JSON"):
        read_geojson(p, source=SRC, layer="incidents")
    p.write_text(json.dumps({"type": "Polygon", "coordinates": []}))
    with pytest.raises(UnreadableInputError, match="FeatureCollection or Feature"):
        read_geojson(p, source=SRC, layer="incidents")
    p.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(HostileInputError, match="nested too deeply"):
        read_geojson(p, source=SRC, layer="incidents")


# --------------------------------------------------------------------------
# ACLED CSV


def utm34n_to_lonlat(easting: float, northing: float) -> tuple[float, float]:
    """Independent check of MGRS results: UTM zone 34N via PROJ, not the mgrs package."""
    t = pyproj.Transformer.from_crs("EPSG:32634", "EPSG:4326", always_xy=True)
    return t.transform(easting, northing)


def test_acled_csv_mapping() -> None:
    res = read_acled_csv(DATA / "csv/acled_kosovo_style.csv", source=SRC)
    assert (len(res.frame), len(res.rejected), res.records_read) == (5, 2, 7)
    rows = by_id(res.frame)
    assert list(rows) == ["XKX1001", "XKX1002", "XKX1003", "XKX1004", "XKX1006"]
    p = rows["XKX1001"]
    assert xy(p.geometry) == (21.1655, 42.6629)
    assert p.occurred_at == "2024-05-03T00:00:00Z"
    assert (p.category, p.subcategory) == ("Protests", "Peaceful protest")
    assert p.actors == "Protesters (Kosovo)"
    assert p.location_name == "Pristina"
    assert p.title == "Peaceful protest at Pristina"
    assert p.description.startswith("Source: Koha Ditore\nOn 3 May 2024, around 200 people")
    assert p.fatalities == 0
    assert (p.severity, p.status) == ("low", "reported")
    assert is_null(p.marking)
    # 1714900000 = 2024-05-01T00:00Z (1714521600) + 4 d 9 h 6 min 40 s
    assert p.updated_at == "2024-05-05T09:06:40Z"

    a = rows["XKX1002"]
    assert a.occurred_at == "2024-05-04T00:00:00Z"  # "04 May 2024"
    assert a.actors == "Unidentified Armed Group (Kosovo); Civilians (Kosovo)"
    assert a.description.endswith('shot dead near the "main bridge", police said.')
    assert a.severity == "high"  # 1 fatality
    assert a.geometry.x == pytest.approx(20 + 51 / 60 + 56 / 3600, abs=1e-12)  # 20°51'56"E
    assert a.geometry.y == pytest.approx(42 + 53 / 60 + 28 / 3600, abs=1e-12)  # 42°53'28"N

    assert rows["XKX1003"].severity == "critical"  # 12 fatalities
    assert rows["XKX1004"].severity == "medium"  # explosion, no fatalities
    z = rows["XKX1006"]
    assert (z.severity, z.status, z.marking) == ("high", "verified", "UNCLASSIFIED//REL TO NATO")

    rej = res.rejected.set_index("source_id")
    assert rej.loc["XKX1005"].reason == reasons.BAD_COORDINATE_TEXT
    assert "42.66 north-ish" in rej.loc["XKX1005"].detail
    assert rej.loc["XKX1007"].reason == reasons.MALFORMED_RECORD
    assert (
        "expected 35 fields" in rej.loc["XKX1007"].detail
        and "found 18" in rej.loc["XKX1007"].detail
    )


def test_acled_mgrs_resolves_to_independently_computed_points() -> None:
    rows = by_id(read_acled_csv(DATA / "csv/acled_kosovo_style.csv", source=SRC).frame)
    # 34T EN 13294 23380: zone 34 uses column letters A-H from 100 km, so E = 500 km;
    # even zone rows start at F, so N = 700 km (mod 2000 km) -> 4 723 380 m in band T.
    lon, lat = utm34n_to_lonlat(513294.5, 4723380.5)  # mgrs returns the 1 m square's centre
    g = rows["XKX1003"].geometry
    assert abs(g.x - lon) < 1e-7 and abs(g.y - lat) < 1e-7
    # ...which is Pristina's 42°39'46"N 21°09'44"E to within a metre or two.
    assert (
        abs(g.y - (42 + 39 / 60 + 46 / 3600)) < 2e-5 and abs(g.x - (21 + 9 / 60 + 44 / 3600)) < 2e-5
    )
    # 34T DM 78514 73558 (in the latitude field): D = 400 km, M = 600 km -> 4 673 558 m.
    lon, lat = utm34n_to_lonlat(478514.5, 4673558.5)
    g = rows["XKX1004"].geometry
    assert abs(g.x - lon) < 1e-7 and abs(g.y - lat) < 1e-7
    assert abs(g.x - 20.7397) < 1e-4 and abs(g.y - 42.2139) < 1e-4  # Prizren


def test_severity_rule() -> None:
    assert derive_severity("Battles", 10.0) == "critical"
    assert derive_severity("Protests", 3.0) == "high"
    assert derive_severity("Violence against civilians", 0.0) == "medium"
    assert derive_severity("Riots", None) == "medium"
    assert derive_severity("Strategic developments", 0.0) == "low"
    assert derive_severity("Protests", "unknown") == "low"


def test_acled_missing_columns(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_text("event_id,notes\n1,x\n")
    with pytest.raises(UnreadableInputError, match="event_date, event_type"):
        read_acled_csv(p, source=SRC)


# --------------------------------------------------------------------------
# Coordinate text


@pytest.mark.parametrize(
    "text,axis,expected",
    [
        ("42°39'46\"N", "lat", 42 + 39 / 60 + 46 / 3600),
        ("21°09′44″E", "lon", 21 + 9 / 60 + 44 / 3600),
        ("42 39 46 N", "lat", 42 + 39 / 60 + 46 / 3600),
        ("42 39 46 s", "lat", -(42 + 39 / 60 + 46 / 3600)),
        ("N42:39:46", "lat", 42 + 39 / 60 + 46 / 3600),
        ("42d39m46sN", "lat", 42 + 39 / 60 + 46 / 3600),
        ("42°39.5'N", "lat", 42 + 39.5 / 60),
        ("W 21 09 44", "lon", -(21 + 9 / 60 + 44 / 3600)),
        ("-21.1622", "lon", -21.1622),
        ("42.6628 N", "lat", 42.6628),
    ],
)
def test_dms_spellings(text: str, axis: str, expected: float) -> None:
    assert coords.parse_angle(text, axis) == pytest.approx(expected, abs=1e-12)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["abc", "42.5E", "42 61 00 N", "N 42 S", "-42 N", ""])
def test_dms_refuses_non_coordinates(text: str) -> None:
    with pytest.raises(coords.CoordinateTextError):
        coords.parse_angle(text, "lat")


def test_mgrs_known_value() -> None:
    # Wikipedia's MGRS example: 4Q FJ 1234 6789 at 21°24'35.43062452380"N 157°54'57.89102787040"W.
    lon, lat = coords.parse_mgrs("4Q FJ 1234 6789")
    assert lon == pytest.approx(-(157 + 54 / 60 + 57.89102787040 / 3600), abs=1e-9)
    assert lat == pytest.approx(21 + 24 / 60 + 35.43062452380 / 3600, abs=1e-9)
    with pytest.raises(coords.CoordinateTextError, match="even number of digits"):
        coords.parse_mgrs("34TEN123")
    with pytest.raises(coords.CoordinateTextError, match="not a valid grid square"):
        coords.parse_mgrs("34TZZ1234")


# --------------------------------------------------------------------------
# STAC


def test_stac_real_items() -> None:
    res = read_stac(DATA / "stac/sample-bands-in-item-properties.json", source=SRC)
    (r,) = [r for _, r in res.frame.iterrows()]
    assert r.source_id == "CS3-20160503_132131_05"
    assert r.acquired_at == "2016-05-03T13:22:30Z"
    assert (r.collection, r.platform, r.cloud_cover, r.gsd) == ("CS3", "coolsat2", 0.12, 0.512)
    assert r.thumbnail == "http://cool-sat.com/catalog/CS3-20160503_132130_04/thumbnail.png"
    assert r.geometry.geom_type == "Polygon"
    assert r.geometry.exterior.coords[0] == (-122.308150179, 37.488035566)

    (r,) = [
        r for _, r in read_stac(DATA / "stac/eo-landsat-example.json", source=SRC).frame.iterrows()
    ]
    assert r.source_id == "LC08_L1TP_107018_20181001_20181001_01_RT"
    assert (r.collection, r.platform, r.cloud_cover, r.gsd) == (
        "landsat-8-l1",
        "landsat-8",
        78.0,
        30.0,
    )
    assert r.acquired_at == "2018-10-01T01:08:32.033000Z"
    assert r.thumbnail.endswith("_thumb_large.jpg")
    assert r.geometry.exterior.coords[0] == (152.52758, 60.63437)


def test_stac_item_collection() -> None:
    res = read_stac(DATA / "stac/item_collection.json", source=SRC)
    assert (len(res.frame), len(res.rejected), res.records_read) == (2, 1, 3)
    assert res.default_marking == "UNCLASSIFIED//REL TO NATO"
    rows = by_id(res.frame)
    s2 = rows["S2B_34TEN_20240504_0_L2A"]
    assert s2.acquired_at == "2024-05-04T09:40:19Z"  # start_datetime: datetime is null
    assert (s2.collection, s2.platform, s2.constellation) == (
        "sentinel-2-l2a",
        "sentinel-2b",
        "sentinel-2",
    )
    assert (s2.cloud_cover, s2.gsd, s2.native_crs) == (12.5, 10.0, "EPSG:32634")
    assert s2.thumbnail == "./S2B_34TEN_20240504_0_L2A/preview.jpg"  # found by role
    assert s2.marking == "UNCLASSIFIED"
    assert list(s2.geometry.exterior.coords)[1] == (21.8, 42.3)
    (rej,) = [r for _, r in res.rejected.iterrows()]
    assert rej.source_id == "BROKEN-NO-DATETIME" and rej.reason == reasons.MALFORMED_RECORD
    assert "pystac" in rej.detail and "datetime" in rej.detail


def test_stac_collection_is_not_items(tmp_path: Path) -> None:
    p = tmp_path / "collection.json"
    p.write_text(json.dumps({"type": "Collection", "stac_version": "1.1.0", "id": "c"}))
    with pytest.raises(UnreadableInputError, match="found type 'Collection'"):
        read_stac(p, source=SRC)


# --------------------------------------------------------------------------
# xmlsafe


def test_xmlsafe_names_the_input() -> None:
    with pytest.raises(HostileInputError, match="feed-7"):
        parse_bytes(
            b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/hostname">]><a>&e;</a>', name="feed-7"
        )
    with pytest.raises(UnreadableInputError, match="line 1"):
        parse_bytes(b"<a><b></a>", name="feed-7")
