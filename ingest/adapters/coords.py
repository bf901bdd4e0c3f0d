"""Coordinate text as people and partner systems write it -> decimal degrees.

Incident reports arrive with decimal degrees, degrees-minutes-seconds in
several spellings (42°39'46"N, 42 39 46 N, N42:39:46, 42°39.766'N) or an
MGRS grid reference (34TEN1329423380) in whatever column the sender chose.
None of the installed libraries parses DMS text (pyproj does not; pygeodesy
would, but is not a dependency), so a small parser lives here; MGRS goes to
the `mgrs` package (GeoTrans), which does the UTM/UPS maths properly.

These functions only parse. Whether 95°N is a sensible latitude is the
validate step's call; what is refused here is text that is not a coordinate
at all, or a hemisphere letter on the wrong axis (an "E" in a latitude).
"""

from __future__ import annotations

import re
from typing import Literal

import mgrs as _mgrs

Axis = Literal["lat", "lon"]

_PRIMES = str.maketrans(
    {"′": "'", "’": "'", "‘": "'", "″": '"', "”": '"', "“": '"', "º": "°", "˚": "°"}
)
_NUM = r"\d+(?:[.,]\d+)?"
_DMS = re.compile(
    rf"""^\s*
    (?P<pre>[NSEWnsew])?\s*
    (?P<sign>[-+])?\s*
    (?P<deg>{_NUM})\s*(?:°|d|deg|:|\s)?\s*
    (?:(?P<min>{_NUM})\s*(?:'|m|min|:|\s)?\s*)?
    (?:(?P<sec>{_NUM})\s*(?:"|''|sec|s(?=\s*[NSEWnsew]\s*$))?\s*)?
    (?P<post>[NSEWnsew])?\s*$""",
    re.VERBOSE,
)
_MGRS = re.compile(r"^\d{1,2}[C-HJ-NP-X][A-HJ-NP-Z]{2}(?:\d{2}|\d{4}|\d{6}|\d{8}|\d{10})?$")
_AXIS_LETTERS: dict[str, str] = {"lat": "NS", "lon": "EW"}


class CoordinateTextError(ValueError):
    """Text that is not a coordinate; the message says what was expected and found."""


def parse_angle(text: str, axis: Axis) -> float:
    """Decimal degrees from decimal or DMS text for a latitude or longitude.

    Accepts "42.6628", "-21.16", "42.6628N", "N 42.6628", "42°39'46\"N",
    "42 39 46 N", "42:39:46.5N", "42d39m46sN", "42°39.766'N" (degrees and
    decimal minutes), with Unicode primes too. S and W make the value
    negative. A comma is read as a decimal point only inside a number.
    """
    if text is None:
        raise CoordinateTextError(f"expected a {axis} value, found nothing")
    raw = str(text)
    s = raw.translate(_PRIMES).strip()
    if not s:
        raise CoordinateTextError(f"expected a {axis} value, found empty text")
    m = _DMS.match(s)
    if not m:
        raise CoordinateTextError(f"expected a {axis} in decimal degrees or DMS, found {raw!r}")
    pre, post = m["pre"], m["post"]
    if pre and post:
        raise CoordinateTextError(f"expected one hemisphere letter in {axis} {raw!r}, found two")
    hemi = (pre or post or "").upper()
    if hemi and hemi not in _AXIS_LETTERS[axis]:
        raise CoordinateTextError(
            f"expected hemisphere {' or '.join(_AXIS_LETTERS[axis])} for a {axis}, found {hemi!r} in {raw!r}"
        )
    if hemi and m["sign"] == "-":
        raise CoordinateTextError(f"expected a sign or a hemisphere in {raw!r}, found both")

    def num(g: str | None) -> float:
        return float(g.replace(",", ".")) if g else 0.0

    deg, minutes, seconds = num(m["deg"]), num(m["min"]), num(m["sec"])
    if m["min"] and "." in m["deg"].replace(",", "."):
        raise CoordinateTextError(f"expected whole degrees before minutes in {raw!r}")
    if minutes >= 60 or seconds >= 60:
        raise CoordinateTextError(f"expected minutes and seconds below 60 in {raw!r}")
    if m["sec"] and "." in m["min"].replace(",", "."):
        raise CoordinateTextError(f"expected whole minutes before seconds in {raw!r}")
    value = deg + minutes / 60.0 + seconds / 3600.0
    if hemi in ("S", "W") or m["sign"] == "-":
        value = -value
    return value


def normalize_mgrs(text: str) -> str:
    """MGRS text without spaces, upper case ("34T EN 13294 23380" -> "34TEN1329423380")."""
    return re.sub(r"\s+", "", str(text)).upper()


def looks_like_mgrs(text: str | None) -> bool:
    return bool(text) and bool(_MGRS.match(normalize_mgrs(text)))  # type: ignore[arg-type]


def parse_mgrs(text: str) -> tuple[float, float]:
    """(lon, lat) of the centre of the MGRS grid square `text` (WGS84)."""
    s = normalize_mgrs(text)
    if not _MGRS.match(s):
        raise CoordinateTextError(
            f"expected an MGRS reference like '34TEN1329423380' (zone, band, square, "
            f"even number of digits), found {text!r}"
        )
    try:
        lat, lon = _mgrs.MGRS().toLatLon(s)
    except Exception as exc:  # noqa: BLE001 - the C library raises MGRSError and others
        raise CoordinateTextError(
            f"MGRS reference {text!r} is not a valid grid square: {exc}"
        ) from None
    return float(lon), float(lat)


def parse_lon_lat(
    lat_text: str | None, lon_text: str | None, mgrs_text: str | None = None
) -> tuple[float, float] | None:
    """(lon, lat) from latitude/longitude text or an MGRS reference; None if none given.

    An MGRS reference is taken from `mgrs_text`, or from the latitude field
    when the longitude field is empty (a common way to paste a grid reference
    into a lat/lon form). Raises CoordinateTextError for text that is not a
    coordinate.
    """
    lat_s = (
        (lat_text or "").strip() if isinstance(lat_text, str) or lat_text is None else str(lat_text)
    )
    lon_s = (
        (lon_text or "").strip() if isinstance(lon_text, str) or lon_text is None else str(lon_text)
    )
    mgrs_s = (mgrs_text or "").strip()
    if not lat_s and not lon_s:
        if mgrs_s:
            return parse_mgrs(mgrs_s)
        return None
    if lat_s and not lon_s and looks_like_mgrs(lat_s):
        return parse_mgrs(lat_s)
    if not lat_s or not lon_s:
        raise CoordinateTextError(
            f"expected both latitude and longitude, found latitude={lat_text!r} longitude={lon_text!r}"
        )
    return parse_angle(lon_s, "lon"), parse_angle(lat_s, "lat")
