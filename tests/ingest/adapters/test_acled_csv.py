"""ACLED-style incident CSV (ingest/adapters/acled_csv.py): decimal, DMS and MGRS locations."""

from __future__ import annotations

from pathlib import Path

import pyproj
import pytest

from ingest import reasons
from ingest.adapters.acled_csv import derive_severity, read_acled_csv
from ingest.errors import UnreadableInputError
from tests.ingest.adapters.conftest import DATA, SRC, by_id, is_null, xy


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
