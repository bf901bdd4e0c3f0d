"""GDACS GeoRSS (RSS 2.0 with georss/geo/gdacs elements) -> `incidents`.

GDACS (the UN/EC Global Disaster Alert and Coordination System) publishes
its alerts as RSS 2.0; each <item> is one event, re-published with a newer
episode as the event develops (same guid), so re-reading a later feed
updates the record instead of adding one.

    guid                           -> source_id   (e.g. "EQ1402913"; else gdacs:eventtype +
                                                   gdacs:eventid; else null -> quarantined)
    georss:point "lat lon"         -> geometry    Point(lon, lat)  (note: latitude first)
       else geo:Point/geo:lat + geo:long (or geo:lat/geo:long directly in the item)
    gdacs:fromdate, else pubDate   -> occurred_at (RFC 822 dates -> ISO UTC text)
    gdacs:datemodified, else pubDate -> updated_at
    gdacs:eventtype                -> category    EQ Earthquake, TC Tropical cyclone,
                                                  FL Flood, VO Volcano, DR Drought,
                                                  TS Tsunami, WF Wildfire; other codes as given
    gdacs:alertlevel               -> severity    Green -> low, Orange -> high, Red -> critical
    gdacs:iscurrent = false        -> status "closed"; otherwise "reported"
    title                          -> title
    description + gdacs:severity and gdacs:population texts + link -> description
    gdacs:country                  -> location_name
    gdacs:eventname                -> subcategory (e.g. the cyclone's name "CALVINIA-19")

Severity: GDACS' alert level is its estimate of humanitarian impact (hazard
combined with exposed population and vulnerability). Green means "no
international assistance expected": low. Orange means a possible need for
it: high (not medium, because an Orange alert already justifies the watch
floor's attention). Red means international assistance likely: critical.
There is no GDACS level for medium. A level outside the three is passed on
as its text, so validate quarantines it (BAD_VALUE) instead of guessing;
a missing one leaves severity null (quarantined as missing).

An item without coordinates is rejected (MALFORMED_RECORD); coordinate text
that is not two numbers is rejected (BAD_COORDINATE_TEXT). DTDs and entities
are refused (HostileInputError) by `xmlsafe`.
"""

from __future__ import annotations

from datetime import UTC
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, tostring

import shapely

from ingest import reasons
from ingest.adapters import xmlsafe
from ingest.adapters.base import ReadResult
from ingest.adapters.common import (
    MAX_INPUT_BYTES,
    malformed,
    read_records,
    refused,
    text_or_none,
)
from ingest.errors import UnreadableInputError

LAYER = "incidents"
GDACS_NS = "http://www.gdacs.org"
GEORSS_NS = "http://www.georss.org/georss"
GEO_NS = "http://www.w3.org/2003/01/geo/wgs84_pos#"
EVENT_TYPES: dict[str, str] = {
    "EQ": "Earthquake",
    "TC": "Tropical cyclone",
    "FL": "Flood",
    "VO": "Volcano",
    "DR": "Drought",
    "TS": "Tsunami",
    "WF": "Wildfire",
}
ALERT_SEVERITY: dict[str, str] = {"green": "low", "orange": "high", "red": "critical"}
MAX_RAW_CHARS = 20_000


def _raw(el: Element) -> str:
    text = tostring(el, encoding="unicode")
    return text if len(text) <= MAX_RAW_CHARS else text[:MAX_RAW_CHARS] + "...[truncated]"


def _find(el: Element, ns: str | None, name: str) -> Element | None:
    """First child named `name` in namespace `ns` (None: no namespace)."""
    tag = f"{{{ns}}}{name}" if ns else name
    return el.find(tag)


def _text(el: Element, ns: str | None, name: str) -> str | None:
    c = _find(el, ns, name)
    return text_or_none("".join(c.itertext())) if c is not None else None


def rfc822_to_iso(text: str | None) -> str | None:
    """An RSS date ("Sun, 29 Dec 2019 12:00:00 GMT") as ISO UTC text; other text unchanged.

    RSS 2.0 dates are RFC 822; the validate step reads ISO 8601, and only here
    is it known that this column is RFC 822. A date without a zone ("-0000"
    means unknown) is passed on as found, for validate to refuse as naive.
    """
    if text is None:
        return None
    try:
        dt = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return text
    if dt.tzinfo is None:
        return text
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _lon_lat(item: Element) -> tuple[float, float] | str | None:
    """(lon, lat), or the reason the coordinate text is bad, or None if there is none."""
    point = _text(item, GEORSS_NS, "point")
    if point is not None:
        parts = point.replace(",", " ").split()
        try:
            lat, lon = (float(p) for p in parts)
        except ValueError:
            return f"expected georss:point 'lat lon' (two numbers), found {point!r}"
        return lon, lat
    holder = _find(item, GEO_NS, "Point")
    holder = holder if holder is not None else item
    lat_t, lon_t = _text(holder, GEO_NS, "lat"), _text(holder, GEO_NS, "long")
    if lat_t is None and lon_t is None:
        return None
    try:
        return float(lon_t or ""), float(lat_t or "")
    except ValueError:
        return f"expected numeric geo:lat/geo:long, found lat={lat_t!r} long={lon_t!r}"


def _severity(level: str | None) -> str | None:
    if level is None:
        return None
    return ALERT_SEVERITY.get(level.strip().lower(), level)


def _item_row(item: Element, source: str) -> tuple[dict[str, Any] | None, Any, dict | None]:
    event_type = _text(item, GDACS_NS, "eventtype")
    event_id = _text(item, GDACS_NS, "eventid")
    sid = _text(item, None, "guid") or (
        f"{event_type}{event_id}" if event_type and event_id else None
    )
    where = _lon_lat(item)
    if where is None:
        return malformed(LAYER, source, sid, "expected georss:point or geo:lat/geo:long in <item>, found none", _raw(item))
    if isinstance(where, str):
        return refused(LAYER, source, sid, reasons.BAD_COORDINATE_TEXT, where, _raw(item))
    pub = _text(item, None, "pubDate")
    details = [
        _text(item, None, "description"),
        f"Severity: {s}" if (s := _text(item, GDACS_NS, "severity")) else None,
        f"Population: {p}" if (p := _text(item, GDACS_NS, "population")) else None,
        f"Link: {link}" if (link := _text(item, None, "link")) else None,
    ]
    current = (_text(item, GDACS_NS, "iscurrent") or "").lower()
    row = {
        "source": source,
        "source_id": sid,
        "marking": None,
        "occurred_at": rfc822_to_iso(_text(item, GDACS_NS, "fromdate") or pub),
        "category": EVENT_TYPES.get((event_type or "").upper(), event_type),
        "subcategory": _text(item, GDACS_NS, "eventname"),
        "severity": _severity(_text(item, GDACS_NS, "alertlevel")),
        "status": "closed" if current == "false" else "reported",
        "title": _text(item, None, "title"),
        "description": "\n".join(d for d in details if d) or None,
        "actors": None,
        "location_name": _text(item, GDACS_NS, "country"),
        "fatalities": None,
        "updated_at": rfc822_to_iso(_text(item, GDACS_NS, "datemodified") or pub),
    }
    return row, shapely.Point(where[0], where[1]), None


def read_georss(
    path: Path, *, source: str, max_bytes: int = MAX_INPUT_BYTES, **_: Any
) -> ReadResult:
    """Read a GDACS GeoRSS file into incidents; see the module docstring for the rules."""
    path = Path(path)
    root = xmlsafe.parse_file(path, max_bytes=max_bytes)
    if xmlsafe.local_name(root.tag) != "rss":
        raise UnreadableInputError(
            path, f"expected an RSS 2.0 <rss> root element, found <{xmlsafe.local_name(root.tag)}>"
        )
    channel = root.find("channel")
    if channel is None:
        raise UnreadableInputError(path, "expected a <channel> in the RSS document, found none")
    return read_records(LAYER, channel.findall("item"), lambda item: _item_row(item, source))
