"""Coordinate text: DMS spellings and MGRS (ingest/adapters/coords.py)."""

from __future__ import annotations

import pytest

from ingest.adapters import coords


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
