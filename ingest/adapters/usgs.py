"""USGS earthquake GeoJSON summary feed -> `incidents`.

The format of https://earthquake.usgs.gov/earthquakes/feed/v1.0/geojson.php
(and of the FDSN event service with format=geojson): a FeatureCollection with
a `metadata` member; one Feature per event, re-published as it is revised
(same id, newer `updated`), so re-reading a later feed updates the record.

    id                     -> source_id    (e.g. "us7000abcd")
    geometry [lon, lat, depth] -> geometry Point(lon, lat); the depth goes into
                              the description (see Depth)
    properties.time        -> occurred_at  (epoch milliseconds -> ISO UTC text)
    properties.updated     -> updated_at   (epoch milliseconds -> ISO UTC text)
    properties.type        -> category     "earthquake" -> "Earthquake", "quarry blast"
                                           -> "Quarry blast" (first letter capitalised)
    properties.magType     -> subcategory  (e.g. "mww", "ml")
    properties.alert / mag -> severity     (see Severity)
    properties.status      -> status       reviewed -> verified, automatic -> reported,
                                           deleted -> closed; other values as given
    properties.title       -> title        (else "M <mag> - <place>")
    properties.place       -> location_name
    mag, depth, alert, tsunami, sig, url -> description, one "Key: value" per line

Depth: USGS gives depth in kilometres, positive downward, as the third
coordinate. Kept as a Z value it would read as a height above the ellipsoid
(as everywhere else in watchfloor, e.g. CoT hae) with the wrong sign and unit,
so the point is stored 2-D and "Depth: 10.0 km" is written in the description.

Severity: the PAGER alert when there is one (green -> low, yellow -> medium,
orange -> high, red -> critical: PAGER's own ladder of estimated losses);
otherwise from the magnitude (>= 7 critical, >= 6 high, >= 4.5 medium, else
low; 4.5 is where USGS starts calling an event "significant" in its feeds
and where damage becomes likely). No alert and no magnitude: low.

A feature whose geometry cannot be built is rejected (MALFORMED_RECORD);
other values are passed on for validate to judge.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely

from ingest.adapters.base import ReadResult
from ingest.adapters.common import (
    MAX_INPUT_BYTES,
    malformed,
    read_records,
    text_or_none,
)
from ingest.adapters.geojson import BadGeometryError, build_geometry, load_json, raw_json
from ingest.errors import UnreadableInputError

LAYER = "incidents"
ALERT_SEVERITY: dict[str, str] = {
    "green": "low",
    "yellow": "medium",
    "orange": "high",
    "red": "critical",
}
STATUS: dict[str, str] = {"reviewed": "verified", "automatic": "reported", "deleted": "closed"}


def epoch_ms_to_iso(value: Any) -> Any:
    """Epoch milliseconds as ISO UTC text ("2024-05-04T10:00:00.123Z"); other values unchanged."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return value
    try:
        dt = datetime.fromtimestamp(float(value) / 1000.0, UTC)
    except (ValueError, OverflowError, OSError):
        return value
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def derive_severity(alert: Any, mag: Any) -> str:
    """Severity from the PAGER alert, else the magnitude; see the module docstring."""
    if isinstance(alert, str) and alert.strip().lower() in ALERT_SEVERITY:
        return ALERT_SEVERITY[alert.strip().lower()]
    m = mag if isinstance(mag, (int, float)) and not isinstance(mag, bool) else None
    if m is None:
        return "low"
    if m >= 7:
        return "critical"
    if m >= 6:
        return "high"
    if m >= 4.5:
        return "medium"
    return "low"


def _description(props: Mapping[str, Any], depth: float | None) -> str | None:
    lines = []
    if props.get("mag") is not None:
        lines.append(f"Magnitude: {props.get('mag')} {props.get('magType') or ''}".rstrip())
    if depth is not None:
        lines.append(f"Depth: {depth} km")
    for key, label in (
        ("alert", "PAGER alert"),
        ("tsunami", "Tsunami flag"),
        ("sig", "Significance"),
        ("felt", "Felt reports"),
        ("url", "Link"),
    ):
        if props.get(key) is not None:
            lines.append(f"{label}: {props.get(key)}")
    return "\n".join(lines) or None


def _feature_row(feat: Any, source: str) -> tuple[dict[str, Any] | None, Any, dict | None]:
    if not isinstance(feat, Mapping) or feat.get("type") != "Feature":
        got = feat.get("type") if isinstance(feat, Mapping) else type(feat).__name__
        return malformed(LAYER, source, None, f"expected a GeoJSON Feature, found {got!r}", raw_json(feat))
    sid = text_or_none(feat.get("id")) if isinstance(feat.get("id"), (str, int)) else None
    props = feat.get("properties")
    if not isinstance(props, Mapping):
        return malformed(LAYER, source, sid, "expected a 'properties' object", raw_json(feat))
    try:
        geom = build_geometry(feat.get("geometry"))
    except BadGeometryError as exc:
        return malformed(LAYER, source, sid, f"geometry: {exc}", raw_json(feat))
    depth = None
    if geom is not None and geom.geom_type == "Point":
        if geom.has_z:
            depth = float(geom.z)
        geom = shapely.Point(geom.x, geom.y)
    mag = props.get("mag")
    place = text_or_none(props.get("place"))
    kind = text_or_none(props.get("type"))
    status = text_or_none(props.get("status"))
    row = {
        "source": source,
        "source_id": sid,
        "marking": None,
        "occurred_at": epoch_ms_to_iso(props.get("time")),
        "category": kind[:1].upper() + kind[1:] if kind else None,
        "subcategory": text_or_none(props.get("magType")),
        "severity": derive_severity(props.get("alert"), mag),
        "status": STATUS.get(status.lower(), status) if status else None,
        "title": text_or_none(props.get("title"))
        or (f"M {mag} - {place}" if mag is not None else place),
        "description": _description(props, depth),
        "actors": None,
        "location_name": place,
        "fatalities": None,
        "updated_at": epoch_ms_to_iso(props.get("updated")),
    }
    return row, geom, None


def read_usgs(path: Path, *, source: str, max_bytes: int = MAX_INPUT_BYTES, **_: Any) -> ReadResult:
    """Read a USGS earthquake GeoJSON feed file into incidents (see the module docstring)."""
    path = Path(path)
    doc = load_json(path, max_bytes)
    if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection":
        raise UnreadableInputError(path, "expected a USGS GeoJSON FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list):
        raise UnreadableInputError(path, "expected a 'features' array in the FeatureCollection")
    return read_records(LAYER, features, lambda feat: _feature_row(feat, source))
