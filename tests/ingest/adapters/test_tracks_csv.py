"""Track-point CSV with configurable columns (ingest/adapters/tracks_csv.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ingest import reasons
from ingest.adapters.tracks_csv import read_tracks_csv
from ingest.errors import ConfigError, UnreadableInputError
from tests.ingest.adapters.conftest import DATA, SRC, by_id, is_null, xy


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
