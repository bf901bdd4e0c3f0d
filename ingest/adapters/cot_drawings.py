"""CoT events that are not position reports: TAK drawings -> `overlays`, our own records back.

ATAK and WinTAK send what an operator draws as CoT events too; read as track points, a drawn
geofence would become a moving contact. Here each event is sorted by its type:

    a-*                      a position report: stays a track point (ingest/adapters/cot.py)
    u-d-c-c, u-r-b-c-c       circle: <shape><ellipse major minor angle> around <point>
    u-d-c-e                  ellipse: the same element, major != minor
    u-d-r                    rectangle: its four corners as <link point="lat,lon[,hae]"/>
    u-d-f                    free form: <link point> vertices; closed -> Polygon, open -> LineString
    u-d-p                    polygon: <link point> vertices, closed here if the sender did not
    b-m-r                    route: its waypoints' <link point> in order -> LineString (not a track)
    u-rb-a                   range and bearing: from <point> along <bearing> (degrees from true
                             north) for <range> (metres) -> a two-point LineString
    anything else            quarantined as `unsupported_type` (chat, markers, deletes...)

Circles, ellipses and range-and-bearing lines are computed on the WGS84 ellipsoid (pyproj.Geod):
a 10 km circle is 10 km on the ground at any latitude. ATAK writes a circle's radius as
`major`/`minor` (semi-axes) and `angle` as the major axis' bearing, 360 meaning 0.

Columns (ingest/schema.py `overlays`): label from <contact callsign>, colours from <strokeColor>
and <fillColor> (TAK's signed 32-bit ARGB ints) as #RRGGBBAA, sender_uid from <creator uid> or the
<link relation="p-p" uid> of the device that made it, geofence from <__geofence trigger monitor>,
marking from <marking> (the watchfloor convention of cot.py), remarks, stale_at. source_id is the
drawing's uid: ATAK re-sends a moved shape under the same uid, which then replaces the old one.

Events from our own TAK data package (layers/export/cot.py) carry a `<__watchfloor layer source
source_id>` detail holding the record's columns as JSON and its geometry as WKT: they go back to
their layer exactly, whatever their CoT type says, so an export re-ingests to the same records.

Nothing is trusted: every value goes through `ingest.validate` like any adapter's output, and a
drawing that cannot be made into a shape is quarantined with the reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any
from xml.etree.ElementTree import Element

import geopandas as gpd
import pandas as pd
import shapely
from pyproj import Geod

from ingest import reasons
from ingest.adapters.base import ReadResult, rejection, rejections
from ingest.adapters.common import text_or_none
from ingest.exchange import COT_RECORD_DETAIL
from ingest.schema import CRS, LAYERS

LAYER = "overlays"
GEOD = Geod(ellps="WGS84")
# Vertices of the polygon that stands for a circle or ellipse (every 5 degrees).
CIRCLE_VERTICES = 72
# What each drawing type is drawn as.
DRAWING_KINDS: dict[str, str] = {
    "u-d-c-c": "circle",
    "u-r-b-c-c": "circle",
    "u-d-c-e": "ellipse",
    "u-d-r": "rectangle",
    "u-d-f": "freeform",
    "u-d-p": "polygon",
    "b-m-r": "route",
    "u-rb-a": "range_bearing",
}


def is_position(cot_type: str | None) -> bool:
    """A position report (atoms, `a-*`), or an event without a type (read as one, as before)."""
    return cot_type is None or cot_type.startswith("a-")


def classify(ev: Element) -> str:
    """Which layer an event belongs to: a record of ours, a drawing, a track point, or 'unsupported'."""
    detail = ev.find("detail")
    if detail is not None and detail.find(COT_RECORD_DETAIL) is not None:
        return "record"
    cot_type = text_or_none(ev.get("type"))
    if is_position(cot_type):
        return "track_points"
    return LAYER if cot_type in DRAWING_KINDS else "unsupported"


def argb_to_hex(value: str | None) -> str | None:
    """TAK's colour (a signed 32-bit ARGB int as text) as #RRGGBBAA; None if absent or not a number."""
    try:
        argb = int(float(value)) & 0xFFFFFFFF  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f"#{(argb >> 16) & 0xFF:02X}{(argb >> 8) & 0xFF:02X}{argb & 0xFF:02X}{argb >> 24:02X}"


def hex_to_argb(color: str | None) -> int | None:
    """#RRGGBBAA (or #RRGGBB, opaque) as TAK's signed 32-bit ARGB int."""
    if not isinstance(color, str) or not color.startswith("#") or len(color) not in (7, 9):
        return None
    try:
        r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
        a = int(color[7:9], 16) if len(color) == 9 else 0xFF
    except ValueError:
        return None
    argb = (a << 24) | (r << 16) | (g << 8) | b
    return argb - (1 << 32) if argb >= 1 << 31 else argb


class _Refused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _number(el: Element | None, attr: str, what: str) -> float:
    text = el.get(attr) if el is not None else None
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _Refused(reasons.MALFORMED_RECORD, f"expected a number in {what}, found {text!r}") from None
    if not math.isfinite(value):
        raise _Refused(reasons.MALFORMED_RECORD, f"expected a finite number in {what}, found {text!r}")
    return value


def _link_points(detail: Element | None) -> list[tuple[float, float]]:
    """(lon, lat) of every <link point="lat,lon[,hae]"> of the detail, in order."""
    out: list[tuple[float, float]] = []
    for link in detail.findall("link") if detail is not None else []:
        text = link.get("point")
        if text is None:
            continue
        parts = text.split(",")
        try:
            lat, lon = float(parts[0]), float(parts[1])
        except (IndexError, ValueError):
            raise _Refused(reasons.BAD_COORDINATE_TEXT,
                           f"expected <link point='lat,lon[,hae]'>, found point={text!r}") from None
        out.append((lon, lat))
    return out


def _ellipse(lon: float, lat: float, major: float, minor: float, angle: float) -> shapely.Polygon:
    """The ellipse with semi-axes `major`, `minor` (metres), major axis at bearing `angle`, on WGS84."""
    if major <= 0 or minor <= 0:
        raise _Refused(reasons.INVALID_GEOMETRY,
                       f"expected a circle/ellipse with positive major and minor, found {major} and {minor}")
    ts = [2 * math.pi * i / CIRCLE_VERTICES for i in range(CIRCLE_VERTICES)]
    dist = [math.hypot(major * math.cos(t), minor * math.sin(t)) for t in ts]
    azimuth = [(angle + math.degrees(math.atan2(minor * math.sin(t), major * math.cos(t)))) % 360 for t in ts]
    xs, ys, _ = GEOD.fwd([lon] * len(ts), [lat] * len(ts), azimuth, dist)
    ring = list(zip(xs, ys, strict=True))
    return shapely.Polygon([*ring, ring[0]])


def _shape(kind: str, ev: Element, detail: Element | None, lon: float, lat: float) -> shapely.Geometry:
    if kind in ("circle", "ellipse"):
        ellipse = detail.find("shape/ellipse") if detail is not None else None
        if ellipse is None:
            raise _Refused(reasons.MALFORMED_RECORD,
                           f"expected <shape><ellipse major minor angle/></shape> in a {ev.get('type')} event, found none")
        major = _number(ellipse, "major", "<ellipse major>")
        minor = _number(ellipse, "minor", "<ellipse minor>")
        angle = _number(ellipse, "angle", "<ellipse angle>") if ellipse.get("angle") is not None else 0.0
        return _ellipse(lon, lat, major, minor, angle)
    if kind == "range_bearing":
        rng = _number(detail.find("range") if detail is not None else None, "value", "<range value>")
        bearing = _number(detail.find("bearing") if detail is not None else None, "value", "<bearing value>")
        if rng <= 0:
            raise _Refused(reasons.INVALID_GEOMETRY, f"expected a positive <range> in metres, found {rng}")
        x, y, _ = GEOD.fwd(lon, lat, bearing, rng)
        return shapely.LineString([(lon, lat), (x, y)])
    points = _link_points(detail)
    if kind == "route":
        if len(points) < 2:
            raise _Refused(reasons.INVALID_GEOMETRY,
                           f"expected a route of at least 2 waypoint <link point=...>, found {len(points)}")
        return shapely.LineString(points)
    closed = len(points) >= 4 and points[0] == points[-1]
    distinct = len(set(points))
    if kind == "rectangle" and distinct != 4:
        raise _Refused(reasons.INVALID_GEOMETRY,
                       f"expected a rectangle's 4 corners as <link point=...>, found {distinct} distinct point(s)")
    if kind == "freeform" and not closed:
        if distinct < 2:
            raise _Refused(reasons.INVALID_GEOMETRY, f"expected a free-form line of at least 2 points, found {distinct}")
        return shapely.LineString(points)
    if distinct < 3:
        raise _Refused(reasons.INVALID_GEOMETRY,
                       f"expected a {kind} of at least 3 distinct <link point=...> vertices, found {distinct}")
    return shapely.Polygon(points if closed else [*points, points[0]])


def _sender(detail: Element | None) -> str | None:
    if detail is None:
        return None
    creator = detail.find("creator")
    if creator is not None and text_or_none(creator.get("uid")):
        return text_or_none(creator.get("uid"))
    for link in detail.findall("link"):
        if link.get("relation") == "p-p" and link.get("point") is None and text_or_none(link.get("uid")):
            return text_or_none(link.get("uid"))
    return None


def _value(detail: Element | None, tag: str) -> str | None:
    el = detail.find(tag) if detail is not None else None
    return text_or_none(el.get("value")) if el is not None else None


def drawing_row(ev: Element, source: str, raw: str) -> dict[str, Any]:
    """One drawing event -> an `overlays` row (with `geometry`) or a rejection."""
    uid = text_or_none(ev.get("uid"))
    cot_type = text_or_none(ev.get("type")) or ""
    kind = DRAWING_KINDS[cot_type]
    detail = ev.find("detail")
    point = ev.find("point")
    try:
        if kind in ("circle", "ellipse", "range_bearing"):
            lat = _number(point, "lat", "<point lat>")
            lon = _number(point, "lon", "<point lon>")
        else:
            lat = lon = 0.0  # the <point> of a shape drawn from links is only its anchor
        geometry = _shape(kind, ev, detail, lon, lat)
        if kind == "circle" and geometry is not None:
            ellipse = detail.find("shape/ellipse")  # type: ignore[union-attr]
            if abs(float(ellipse.get("major")) - float(ellipse.get("minor"))) > 1e-9:  # type: ignore[arg-type,union-attr]
                kind = "ellipse"
    except _Refused as exc:
        return rejection(LAYER, source, uid, exc.reason, f"CoT {cot_type} drawing {uid!r}: {exc.detail}", raw)
    fence = detail.find("__geofence") if detail is not None else None
    contact = detail.find("contact") if detail is not None else None
    marking = detail.find("marking") if detail is not None else None
    remarks = detail.find("remarks") if detail is not None else None
    return {
        "source": source,
        "source_id": uid,
        "marking": text_or_none("".join(marking.itertext())) if marking is not None else None,
        "drawn_at": text_or_none(ev.get("time")),
        "kind": kind,
        "label": text_or_none(contact.get("callsign")) if contact is not None else None,
        "cot_type": cot_type,
        "sender_uid": _sender(detail),
        "stroke_color": argb_to_hex(_value(detail, "strokeColor")),
        "fill_color": argb_to_hex(_value(detail, "fillColor")),
        "geofence": fence is not None,
        "geofence_trigger": text_or_none(fence.get("trigger")) if fence is not None else None,
        "geofence_monitor": text_or_none(fence.get("monitor")) if fence is not None else None,
        "remarks": text_or_none("".join(remarks.itertext())) if remarks is not None else None,
        "stale_at": text_or_none(ev.get("stale")),
        "geometry": geometry,
    }


def unsupported(ev: Element, source: str, raw: str) -> dict[str, Any]:
    uid, time = text_or_none(ev.get("uid")), text_or_none(ev.get("time"))
    return rejection("track_points", source, f"{uid}@{time or ''}" if uid else None, reasons.UNSUPPORTED_TYPE,
                     f"expected a position report (a-*) or a drawing ({', '.join(DRAWING_KINDS)}); "
                     f"found CoT type {ev.get('type')!r}", raw)


def record_row(ev: Element, source: str, raw: str) -> tuple[str, dict[str, Any]]:
    """An event of our own data package -> (layer, row with `geometry`) or (layer, rejection)."""
    el = ev.find("detail").find(COT_RECORD_DETAIL)  # type: ignore[union-attr]
    layer = el.get("layer") or ""  # type: ignore[union-attr]
    sid = text_or_none(el.get("source_id"))  # type: ignore[union-attr]
    if layer not in LAYERS:
        return "track_points", rejection("track_points", source, sid, reasons.MALFORMED_RECORD,
                                         f"a watchfloor CoT record naming no layer: expected one of "
                                         f"{', '.join(LAYERS)}, found {layer!r}", raw)
    try:
        values = json.loads("".join(el.itertext()) or "{}")  # type: ignore[union-attr]
        if not isinstance(values, dict):
            values = {"": values}  # refused just below: a JSON value that is not an object
        geometry = shapely.from_wkt(el.get("wkt")) if el.get("wkt") else None  # type: ignore[union-attr]
    except (ValueError, shapely.errors.GEOSException) as exc:
        return layer, rejection(layer, source, sid, reasons.MALFORMED_RECORD,
                                f"a watchfloor CoT record whose columns or geometry cannot be read: {exc}", raw)
    if "" in values:
        return layer, rejection(layer, source, sid, reasons.MALFORMED_RECORD,
                                "a watchfloor CoT record whose columns are not a JSON object", raw)
    known = set(LAYERS[layer].column_names) - {"geometry", "ingested_at"}
    row = {k: v for k, v in values.items() if k in known}
    row.setdefault("source", text_or_none(el.get("source")) or source)  # type: ignore[union-attr]
    row.setdefault("source_id", sid)
    for extra in LAYERS[layer].extra_geometry_columns:
        if isinstance(row.get(extra), str):
            row[extra] = shapely.from_wkt(row[extra])
    row["geometry"] = geometry
    return layer, row


def results(rows: dict[str, list[dict[str, Any]]], rejected: dict[str, list[dict[str, Any]]]
            ) -> list[ReadResult]:
    """One ReadResult per layer from rows holding a shapely `geometry`; track points first (their
    ingest derives tracks), then the rest in schema order."""
    order = ["track_points", *[name for name in LAYERS if name != "track_points"]]
    out = []
    for layer in order:
        held, bad = rows.get(layer, []), rejected.get(layer, [])
        if not held and not bad:
            continue
        out.append(ReadResult(layer, frame_of(layer, held), rejections(bad)))
    return out


def frame_of(layer: str, rows: Iterable[dict[str, Any]]) -> gpd.GeoDataFrame:
    rows = list(rows)
    geoms = [r.pop("geometry", None) for r in rows]
    frame = pd.DataFrame.from_records(rows) if rows else pd.DataFrame()
    for extra in LAYERS[layer].extra_geometry_columns:
        if extra in frame:
            frame[extra] = gpd.GeoSeries(list(frame[extra]), index=frame.index, crs=CRS)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index, crs=CRS), crs=CRS)
