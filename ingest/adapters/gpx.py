"""GPX 1.0 / 1.1 -> `track_points`.

Every `<trkpt>` of every `<trk>` is one record. Route points (`<rte>`) are a
plan and waypoints (`<wpt>`) are places; neither is a fix of a moving
platform, so they are not records of this layer. A file that has routes or
waypoints but no track is refused with an error saying so, rather than read
as empty.

    trk/name                 -> track_id  (unnamed tracks: f"{file stem}-{n}", n from 1)
    trk/type                 -> platform_type
    trkpt@lat, trkpt@lon     -> geometry  Point(lon, lat)
    trkpt/ele                -> altitude_m
    trkpt/time               -> time      (the text as found; validate parses it)
    trkpt/speed, /course     -> speed_mps, heading_deg  (GPX 1.0 elements, or the same
                                local names inside <extensions>, e.g. Garmin
                                TrackPointExtension v2 gpxtpx:speed / gpxtpx:course;
                                `heading` and `bearing` are read as the course too)
    marking                  -> an <extensions><marking> on the trk, else on the
                                file's <metadata> (watchfloor convention); else null
    source_id = f"{track_id}@{time}"

Why not gpxpy's parser: it aborts the whole file on one point with a bad
latitude (GPXException) and turns an unparseable <time> into None without a
word, which breaks the rule that one bad record is quarantined with a reason
and nothing is dropped silently. The document is parsed once with defusedxml
(DTDs and entities refused) and walked here by local tag name, which reads
GPX 1.0, 1.1 and namespace-less files alike. gpxpy stays the reference the
tests compare against on its own sample files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, tostring

import geopandas as gpd
import numpy as np
import shapely

from ingest.adapters import xmlsafe
from ingest.adapters.base import ReadResult, rejections
from ingest.adapters.common import (
    MAX_INPUT_BYTES,
    frame_from_rows,
    lat_lon_attributes,
    number_or_text,
    text_or_none,
)
from ingest.errors import UnreadableInputError
from ingest.schema import CRS

LAYER = "track_points"
_COURSE_NAMES = ("course", "heading", "bearing")


def _children(el: Element, name: str) -> Iterator[Element]:
    return (c for c in el if xmlsafe.local_name(c.tag) == name)


def _child(el: Element, name: str) -> Element | None:
    return next(_children(el, name), None)


def _child_text(el: Element, name: str) -> str | None:
    c = _child(el, name)
    return text_or_none(c.text) if c is not None else None


def _extension_text(el: Element, names: tuple[str, ...]) -> str | None:
    """First text of an element with one of `names` anywhere in el/<extensions>."""
    ext = _child(el, "extensions")
    if ext is None:
        return None
    for d in ext.iter():
        if xmlsafe.local_name(d.tag) in names and text_or_none(d.text):
            return text_or_none(d.text)
    return None


def _point_row(
    pt: Element, track_id: str, platform_type: str | None, marking: str | None, source: str
) -> dict[str, Any]:
    time = _child_text(pt, "time")
    source_id = f"{track_id}@{time or ''}"
    where = lat_lon_attributes(pt, layer=LAYER, source=source, source_id=source_id,
                               raw=lambda: tostring(pt, encoding="unicode"), tag=xmlsafe.local_name(pt.tag))
    if isinstance(where, dict):
        return where
    lat, lon = where
    speed = _child_text(pt, "speed") or _extension_text(pt, ("speed",))
    course = next((t for n in _COURSE_NAMES if (t := _child_text(pt, n))), None) or _extension_text(
        pt, _COURSE_NAMES
    )
    return {
        "source": source,
        "source_id": source_id,
        "marking": marking,
        "track_id": track_id,
        "time": time,
        "altitude_m": number_or_text(_child_text(pt, "ele")),
        "speed_mps": number_or_text(speed),
        "heading_deg": number_or_text(course),
        "callsign": None,
        "platform_type": platform_type,
        "stale_at": None,
        "lon": lon,
        "lat": lat,
    }


def read_gpx(
    path: Path,
    *,
    source: str,
    max_bytes: int = MAX_INPUT_BYTES,
    **_: Any,
) -> ReadResult:
    """Read the track points of a GPX file.

    Raises UnreadableInputError if the file is missing, too big, not XML or
    not GPX; HostileInputError for any DTD or entity. A point without usable
    lat/lon is rejected; every other value is passed on for validate.
    """
    path = Path(path)
    root = xmlsafe.parse_file(path, max_bytes=max_bytes)
    if xmlsafe.local_name(root.tag) != "gpx":
        raise UnreadableInputError(
            path, f"expected a <gpx> root element, found <{xmlsafe.local_name(root.tag)}>"
        )
    metadata = _child(root, "metadata")
    file_marking = _extension_text(metadata, ("marking",)) if metadata is not None else None
    file_marking = file_marking or _extension_text(root, ("marking",))

    tracks = list(_children(root, "trk"))
    if not tracks:
        routes = sum(1 for r in _children(root, "rte") for _ in _children(r, "rtept"))
        waypoints = sum(1 for _ in _children(root, "wpt"))
        if routes or waypoints:
            raise UnreadableInputError(
                path,
                f"expected <trk> track points, found only {routes} route points and {waypoints} "
                "waypoints (a planned route or a waypoint is not a position fix)",
            )
    parsed: list[dict[str, Any]] = []
    for n, trk in enumerate(tracks, start=1):
        track_id = _child_text(trk, "name") or f"{path.stem}-{n}"
        platform_type = _child_text(trk, "type")
        marking = _extension_text(trk, ("marking",)) or file_marking
        for seg in _children(trk, "trkseg"):
            for pt in _children(seg, "trkpt"):
                parsed.append(_point_row(pt, track_id, platform_type, marking, source))

    rows = [r for r in parsed if "reason" not in r]
    rejected = [r for r in parsed if "reason" in r]
    xs = np.asarray([r.pop("lon") for r in rows], float)
    ys = np.asarray([r.pop("lat") for r in rows], float)
    frame = frame_from_rows(LAYER, rows, gpd.GeoSeries(shapely.points(xs, ys), crs=CRS))
    return ReadResult(LAYER, frame, rejections(rejected), records_read=len(parsed))
