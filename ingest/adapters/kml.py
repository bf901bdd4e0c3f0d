"""KML and KMZ -> `track_points`, `deployments` or `infrastructure`.

One KML file can hold all three kinds of thing, so the caller says which
layer to read (`layer=`; `detect` guesses from the content). Placemarks are
found in the document, its Folders and nested Documents at any depth;
NetworkLinks are never followed (reading a file must not fetch URLs).

track_points (`layer="track_points"`), one record per fix:
    gx:Track (or KML 2.3 Track, also inside gx:MultiTrack / MultiGeometry):
        the i-th <when> with the i-th <gx:coord> "lon lat alt"
                                 -> time (text as found), geometry, altitude_m
        gx:angles "heading tilt roll" -> heading_deg
        SchemaData/gx:SimpleArrayData name=speed|heading|course -> speed_mps, heading_deg
        a <when> without a <gx:coord> (or the reverse) is rejected (MALFORMED_RECORD)
    LineString with a TimeSpan (begin and end):
        every vertex is a fix; the first is at `begin`, the last at `end`, and
        the ones between are placed in time by their distance along the line
        (geodesic, WGS84). That assumes constant speed: it is an estimate, and
        the only one the file allows. begin/end that are not tz-aware times
        make every vertex a rejection (the line cannot be placed in time).
    LineString with only one instant (a TimeStamp, or a TimeSpan with one end):
        the vertex that instant belongs to (last for TimeStamp/end, first for
        begin) is the fix; the other vertices have no time and are rejected
        (MISSING_TIME), so they are counted rather than silently dropped.
    track_id: ExtendedData track_id/uid, else the Placemark <name>, else its
    id attribute, else f"{file stem}-{n}"; callsign and platform_type from
    ExtendedData; source_id = f"{track_id}@{time}".
    Placemarks that are not tracks are not records of this layer.

deployments (`layer="deployments"`), one record per Placemark:
    ExtendedData (Data/value or SchemaData/SimpleData) nation, unit_name
    (else <name>), unit_type, echelon, strength, symbol_code (or sidc),
    reported_at (else TimeStamp/when or TimeSpan/begin), stale_at (else
    TimeSpan/end), marking; the Point is the position; Polygon(s) in the same
    Placemark (usually in a MultiGeometry) are `area`. No Point: rejected.
    source_id: ExtendedData source_id/id, else the Placemark's id attribute,
    else f"{nation}/{unit_name}" (a unit's newer report then supersedes its
    older one, which is what the layer's key is for), else null (validate
    quarantines it).

infrastructure (`layer="infrastructure"`), one record per Placemark:
    ExtendedData kind (else the reader's `kind=` option), name (else <name>),
    subkind, country_code, capacity, code, marking. Geometry: the polygon(s)
    if any (a MultiPolygon if several), else the first Point, else whatever
    geometry there is, for validate to judge. source_id: ExtendedData
    source_id/id, the id attribute, else f"{file stem}#{n}" (reference data).

In the deployments and infrastructure modes, track Placemarks (above) are
skipped: they are not records of those layers. `kind` and `echelon` are
lower-cased with underscores ("Power plant" -> "power_plant"), the spelling of
the schema's vocabularies, as for CSV.

Marking: a record's own ExtendedData `marking`, else one set in the
ExtendedData of an enclosing Folder or Document (nearest wins).

Why not fastkml: with strict=False it logs an unparseable <coordinates> and
carries on with a missing geometry (the reason is lost), and one bad
<gx:coord> raises a TypeError from deep inside that aborts the whole document
(fastkml 1.4.0). The document is parsed once with defusedxml (no DTDs, no
entities: see xmlsafe) and walked here by local tag name, like the GPX adapter.
KMZ goes through `ziputil` (zip-bomb and zip-slip checks); the main KML is
`doc.kml` if present, else the first .kml in the archive, as Google Earth does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, tostring

import numpy as np
import pandas as pd
import pyproj
import shapely

from ingest import reasons
from ingest.adapters import xmlsafe, ziputil
from ingest.adapters.base import ReadResult, rejection, rejections
from ingest.adapters.common import (
    MAX_INPUT_BYTES,
    frame_from_rows,
    number_or_text,
    read_bytes,
    text_or_none,
)
from ingest.adapters.layer_csv import vocabulary_text
from ingest.errors import UnreadableInputError

LAYERS = ("track_points", "deployments", "infrastructure")
MAX_RAW_CHARS = 20_000
_CONTAINERS = {"kml", "Document", "Folder"}
_GEOMETRIES = {
    "Point",
    "LineString",
    "LinearRing",
    "Polygon",
    "MultiGeometry",
    "Track",
    "MultiTrack",
}
_ZIP_MAGIC = b"PK\x03\x04"
_GEOD = pyproj.Geod(ellps="WGS84")


class CoordinateError(ValueError):
    """Coordinate text that is not numbers; the message quotes it."""


@dataclass
class _Context:
    marking: str | None


def _raw(el: Element) -> str:
    text = tostring(el, encoding="unicode")
    return text if len(text) <= MAX_RAW_CHARS else text[:MAX_RAW_CHARS] + "...[truncated]"


def _name(el: Element) -> str:
    return xmlsafe.local_name(el.tag)


def _child(el: Element, name: str) -> Element | None:
    return next((c for c in el if _name(c) == name), None)


def _child_text(el: Element, name: str) -> str | None:
    c = _child(el, name)
    return text_or_none(c.text) if c is not None else None


def extended_data(el: Element) -> dict[str, str]:
    """ExtendedData of `el` as {lower-case name: text}: Data/value and SchemaData/SimpleData."""
    ext = _child(el, "ExtendedData")
    out: dict[str, str] = {}
    if ext is None:
        return out
    for d in ext.iter():
        kind = _name(d)
        key = text_or_none(d.get("name"))
        if not key:
            continue
        if kind == "Data":
            value = _child_text(d, "value")
        elif kind == "SimpleData":
            value = text_or_none(d.text)
        else:
            continue
        if value is not None:
            out.setdefault(key.lower(), value)
    return out


def _simple_arrays(track: Element) -> dict[str, list[str | None]]:
    """gx:SimpleArrayData of a Track: {lower-case name: [gx:value text, ...]}."""
    out: dict[str, list[str | None]] = {}
    ext = _child(track, "ExtendedData")
    if ext is None:
        return out
    for arr in ext.iter():
        if _name(arr) == "SimpleArrayData" and arr.get("name"):
            out[arr.get("name", "").lower()] = [
                text_or_none(v.text) for v in arr if _name(v) == "value"
            ]
    return out


def parse_coordinates(text: str | None) -> list[tuple[float, ...]]:
    """KML <coordinates> text ("lon,lat[,alt] lon,lat[,alt] ...") -> tuples of floats.

    Tolerates spaces after commas, which some writers emit. Raises
    CoordinateError quoting the first tuple that is not 2 or 3 numbers.
    """
    if text is None or not text.strip():
        raise CoordinateError("expected coordinates, found empty <coordinates>")
    compact = re.sub(r"\s*,\s*", ",", text.strip())
    out: list[tuple[float, ...]] = []
    for tup in compact.split():
        parts = tup.split(",")
        try:
            values = tuple(float(p) for p in parts)
        except ValueError:
            raise CoordinateError(
                f"expected 'lon,lat[,alt]' numbers in <coordinates>, found {tup!r}"
            ) from None
        if len(values) not in (2, 3):
            raise CoordinateError(
                f"expected 2 or 3 numbers per coordinate tuple, found {len(values)} in {tup!r}"
            )
        out.append(values)
    return out


def _gx_coord(text: str | None) -> tuple[float, ...]:
    parts = (text or "").split()
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise CoordinateError(
            f"expected 'lon lat [alt]' numbers in <gx:coord>, found {text!r}"
        ) from None
    if len(values) not in (2, 3):
        raise CoordinateError(f"expected 2 or 3 numbers in <gx:coord>, found {text!r}")
    return values


def _geometry_elements(el: Element) -> Iterator[Element]:
    """Point/LineString/Polygon/Track elements of a Placemark, MultiGeometry flattened."""
    for c in el:
        kind = _name(c)
        if kind in ("MultiGeometry", "MultiTrack"):
            yield from _geometry_elements(c)
        elif kind in _GEOMETRIES:
            yield c


def _polygon(el: Element) -> shapely.Polygon:
    outer = _child(el, "outerBoundaryIs")
    ring = _child(outer, "LinearRing") if outer is not None else None
    if ring is None:
        raise ValueError("expected <outerBoundaryIs><LinearRing> in <Polygon>, found none")
    shell = [c[:2] for c in parse_coordinates(_child_text(ring, "coordinates"))]
    holes = []
    for inner in (c for c in el if _name(c) == "innerBoundaryIs"):
        for r in (c for c in inner if _name(c) == "LinearRing"):
            holes.append([c[:2] for c in parse_coordinates(_child_text(r, "coordinates"))])
    try:
        return shapely.Polygon(shell, holes)
    except (ValueError, shapely.errors.GEOSException) as exc:
        raise ValueError(f"<Polygon> could not be built: {exc}") from None


def _point(el: Element) -> tuple[float, ...]:
    coords = parse_coordinates(_child_text(el, "coordinates"))
    if len(coords) != 1:
        raise CoordinateError(f"expected one coordinate tuple in <Point>, found {len(coords)}")
    return coords[0]


def _times(pm: Element) -> tuple[str | None, str | None, str | None]:
    """(TimeStamp/when, TimeSpan/begin, TimeSpan/end) texts of a Placemark."""
    ts, span = _child(pm, "TimeStamp"), _child(pm, "TimeSpan")
    when = _child_text(ts, "when") if ts is not None else None
    begin = _child_text(span, "begin") if span is not None else None
    end = _child_text(span, "end") if span is not None else None
    return when, begin, end


def _is_track_placemark(pm: Element) -> bool:
    geoms = list(_geometry_elements(pm))
    if any(_name(g) == "Track" for g in geoms):
        return True
    return any(_name(g) == "LineString" for g in geoms) and any(_times(pm))


def placemarks(root: Element) -> Iterator[tuple[Element, _Context]]:
    """Placemarks in document order, with the marking of their nearest container."""

    def walk(el: Element, ctx: _Context) -> Iterator[tuple[Element, _Context]]:
        for c in el:
            kind = _name(c)
            if kind == "Placemark":
                yield c, ctx
            elif kind in _CONTAINERS:
                marking = extended_data(c).get("marking") or ctx.marking
                yield from walk(c, _Context(marking))

    top = extended_data(root).get("marking")
    if _name(root) == "Placemark":
        yield root, _Context(top)
    else:
        yield from walk(root, _Context(top))


def _utc_text(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").isoformat().replace("+00:00", "Z")


class _Out:
    """Rows, geometries and rejections being collected for one layer."""

    def __init__(self, layer: str, source: str) -> None:
        self.layer, self.source = layer, source
        self.rows: list[dict[str, Any]] = []
        self.geoms: list[Any] = []
        self.rejected: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any], geom: Any) -> None:
        self.rows.append({"source": self.source, **row})
        self.geoms.append(geom)

    def reject(self, sid: str | None, reason: str, detail: str, raw: Element | str) -> None:
        self.rejected.append(
            rejection(
                self.layer,
                self.source,
                sid,
                reason,
                detail,
                _raw(raw) if isinstance(raw, Element) else raw,
            )
        )

    def result(self) -> ReadResult:
        frame = frame_from_rows(self.layer, self.rows, self.geoms)
        return ReadResult(
            self.layer,
            frame,
            rejections(self.rejected),
            records_read=len(self.rows) + len(self.rejected),
        )


# --- track_points -----------------------------------------------------------


def _track_fixes(out: _Out, track: Element, base: dict[str, Any], track_id: str) -> None:
    whens = [text_or_none(c.text) for c in track if _name(c) == "when"]
    coords = [c for c in track if _name(c) == "coord"]
    angles = [c for c in track if _name(c) == "angles"]
    arrays = _simple_arrays(track)
    speeds = arrays.get("speed") or arrays.get("speed_mps") or []
    headings = arrays.get("heading") or arrays.get("course") or arrays.get("heading_deg") or []
    for i in range(max(len(whens), len(coords))):
        time = whens[i] if i < len(whens) else None
        sid = f"{track_id}@{time or ''}"
        if i >= len(whens) or i >= len(coords):
            out.reject(
                sid,
                reasons.MALFORMED_RECORD,
                f"gx:Track has {len(whens)} <when> and {len(coords)} <gx:coord>; fix {i + 1} "
                f"has {'no <gx:coord>' if i >= len(coords) else 'no <when>'}",
                tostring(coords[i], encoding="unicode")
                if i < len(coords)
                else f"<when>{time}</when>",
            )
            continue
        try:
            xyz = _gx_coord(coords[i].text)
        except CoordinateError as exc:
            out.reject(
                sid, reasons.BAD_COORDINATE_TEXT, str(exc), tostring(coords[i], encoding="unicode")
            )
            continue
        heading: Any = headings[i] if i < len(headings) else None
        if heading is None and i < len(angles):
            heading = (angles[i].text or "").split()[0] if (angles[i].text or "").split() else None
        out.add(
            {
                **base,
                "source_id": sid,
                "track_id": track_id,
                "time": time,
                "altitude_m": xyz[2] if len(xyz) == 3 else None,
                "speed_mps": number_or_text(speeds[i]) if i < len(speeds) else None,
                "heading_deg": number_or_text(heading),
            },
            shapely.Point(xyz[0], xyz[1]),
        )


def _parse_instant(text: str) -> pd.Timestamp | str:
    """A tz-aware Timestamp, or the reason the text is not one."""
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        return f"time {text!r} is not a date-time"
    if ts is pd.NaT:
        return f"time {text!r} is not a date-time"
    if ts.tzinfo is None:
        return f"time {text!r} has no time zone"
    return ts


def _line_fixes(out: _Out, pm: Element, line: Element, base: dict[str, Any], track_id: str) -> None:
    try:
        coords = parse_coordinates(_child_text(line, "coordinates"))
    except CoordinateError as exc:
        out.reject(f"{track_id}@", reasons.BAD_COORDINATE_TEXT, str(exc), line)
        return
    when, begin, end = _times(pm)
    n = len(coords)
    times: list[str | None] = [None] * n
    why, index = "", 0
    if begin and end:
        b, e = _parse_instant(begin), _parse_instant(end)
        if isinstance(b, str) or isinstance(e, str):
            bad = b if isinstance(b, str) else e
            for i, c in enumerate(coords):
                out.reject(
                    f"{track_id}@#{i}",
                    reasons.NAIVE_TIME if "no time zone" in bad else reasons.UNPARSEABLE_TIME,
                    f"LineString vertex {i} cannot be placed in time: TimeSpan {bad}",
                    f"{c} TimeSpan {begin}..{end}",
                )
            return
        lons = np.array([c[0] for c in coords])
        lats = np.array([c[1] for c in coords])
        steps = _GEOD.line_lengths(lons, lats) if n > 1 else np.zeros(0)
        cum = np.concatenate([[0.0], np.cumsum(steps)])
        frac = cum / cum[-1] if n > 1 and cum[-1] > 0 else np.linspace(0.0, 1.0, n)
        span = e - b
        times = [_utc_text(b + span * float(f)) for f in frac]
        times[0], times[-1] = _utc_text(b), _utc_text(e)
    else:
        instant = when or end or begin
        index = 0 if (begin and not end and not when) else n - 1
        times[index] = instant
        why = "TimeStamp" if when else "TimeSpan end" if end else "TimeSpan begin"
    for i, c in enumerate(coords):
        t = times[i]
        if t is None:
            out.reject(
                f"{track_id}@#{i}",
                reasons.MISSING_TIME,
                f"LineString vertex {i} of {n} has no time: the placemark's {why} dates only "
                f"vertex {index}",
                f"{c}",
            )
            continue
        out.add(
            {
                **base,
                "source_id": f"{track_id}@{t}",
                "track_id": track_id,
                "time": t,
                "altitude_m": c[2] if len(c) == 3 else None,
            },
            shapely.Point(c[0], c[1]),
        )


def _read_tracks(out: _Out, root: Element, stem: str) -> None:
    n = 0
    for pm, ctx in placemarks(root):
        if not _is_track_placemark(pm):
            continue
        n += 1
        ext = extended_data(pm)
        track_id = (
            ext.get("track_id")
            or ext.get("uid")
            or _child_text(pm, "name")
            or text_or_none(pm.get("id"))
            or f"{stem}-{n}"
        )
        base = {
            "marking": ext.get("marking") or ctx.marking,
            "callsign": ext.get("callsign"),
            "platform_type": ext.get("platform_type") or ext.get("type"),
            "stale_at": ext.get("stale_at"),
        }
        for g in _geometry_elements(pm):
            if _name(g) == "Track":
                _track_fixes(out, g, base, track_id)
            elif _name(g) == "LineString" and any(_times(pm)):
                _line_fixes(out, pm, g, base, track_id)


# --- deployments and infrastructure ----------------------------------------


def _shapes(pm: Element) -> tuple[list[tuple[float, ...]], list[shapely.Polygon], list[Any]]:
    """(points, polygons, other geometries) of a Placemark; raises on bad coordinates."""
    points: list[tuple[float, ...]] = []
    polygons: list[shapely.Polygon] = []
    other: list[Any] = []
    for g in _geometry_elements(pm):
        kind = _name(g)
        if kind == "Point":
            points.append(_point(g))
        elif kind == "Polygon":
            polygons.append(_polygon(g))
        elif kind in ("LineString", "LinearRing"):
            other.append(
                shapely.LineString(
                    [c[:2] for c in parse_coordinates(_child_text(g, "coordinates"))]
                )
            )
    return points, polygons, other


def placemark_geometry(pm: Element) -> Any:
    """The geometry of a Placemark as written (Point, LineString, Polygon, MultiGeometry of them as
    the matching Multi* type), 2D; None when it has none. Raises CoordinateError / ValueError
    naming what cannot be read."""
    el = next((c for c in pm if _name(c) in _GEOMETRIES), None)
    return None if el is None else _geometry(el)


_MULTI = {"Point": shapely.MultiPoint, "LineString": shapely.MultiLineString, "Polygon": shapely.MultiPolygon}


def _geometry(el: Element) -> Any:
    kind = _name(el)
    if kind == "Point":
        return shapely.Point(_point(el)[:2])
    if kind in ("LineString", "LinearRing"):
        return shapely.LineString([c[:2] for c in parse_coordinates(_child_text(el, "coordinates"))])
    if kind == "Polygon":
        return _polygon(el)
    if kind == "MultiGeometry":
        parts = [_geometry(c) for c in el if _name(c) in _GEOMETRIES]
        kinds = {p.geom_type for p in parts}
        if len(kinds) == 1 and next(iter(kinds)) in _MULTI:
            return _MULTI[next(iter(kinds))](parts)
        return shapely.GeometryCollection(parts)
    raise ValueError(f"expected Point, LineString, Polygon or MultiGeometry, found <{kind}>")


def _area(polygons: list[shapely.Polygon]) -> Any:
    if not polygons:
        return None
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)


def _read_deployments(out: _Out, root: Element) -> None:
    for pm, ctx in placemarks(root):
        if _is_track_placemark(pm):
            continue
        ext = extended_data(pm)
        when, begin, end = _times(pm)
        nation = ext.get("nation")
        unit_name = ext.get("unit_name") or _child_text(pm, "name")
        sid = (
            ext.get("source_id")
            or ext.get("id")
            or text_or_none(pm.get("id"))
            or (f"{nation}/{unit_name}" if nation and unit_name else None)
        )
        try:
            points, polygons, _ = _shapes(pm)
        except CoordinateError as exc:
            out.reject(sid, reasons.BAD_COORDINATE_TEXT, str(exc), pm)
            continue
        except ValueError as exc:
            out.reject(sid, reasons.MALFORMED_RECORD, str(exc), pm)
            continue
        if not points:
            out.reject(
                sid,
                reasons.MALFORMED_RECORD,
                "expected a <Point> (the unit's position) in the Placemark, found none",
                pm,
            )
            continue
        out.add(
            {
                "source_id": sid,
                "marking": ext.get("marking") or ctx.marking,
                "nation": nation,
                "unit_name": unit_name,
                "unit_type": ext.get("unit_type"),
                "echelon": vocabulary_text(ext.get("echelon")),
                "strength": number_or_text(ext.get("strength")),
                "symbol_code": ext.get("symbol_code") or ext.get("sidc"),
                "reported_at": ext.get("reported_at") or when or begin,
                "stale_at": ext.get("stale_at") or end,
                "area": _area(polygons),
            },
            shapely.Point(points[0][0], points[0][1]),
        )


def _read_infrastructure(out: _Out, root: Element, stem: str, kind: str | None) -> None:
    n = -1
    for pm, ctx in placemarks(root):
        if _is_track_placemark(pm):
            continue
        n += 1
        ext = extended_data(pm)
        sid = ext.get("source_id") or ext.get("id") or text_or_none(pm.get("id")) or f"{stem}#{n}"
        try:
            points, polygons, other = _shapes(pm)
        except CoordinateError as exc:
            out.reject(sid, reasons.BAD_COORDINATE_TEXT, str(exc), pm)
            continue
        except ValueError as exc:
            out.reject(sid, reasons.MALFORMED_RECORD, str(exc), pm)
            continue
        if polygons:
            geom = _area(polygons)
        elif points:
            geom = shapely.Point(points[0][0], points[0][1])
        else:
            geom = other[0] if other else None
        out.add(
            {
                "source_id": sid,
                "marking": ext.get("marking") or ctx.marking,
                "kind": vocabulary_text(ext.get("kind") or kind),
                "name": ext.get("name") or _child_text(pm, "name"),
                "subkind": ext.get("subkind"),
                "country_code": ext.get("country_code"),
                "capacity": number_or_text(ext.get("capacity")),
                "code": ext.get("code"),
            },
            geom,
        )


# --- files -----------------------------------------------------------------


def _main_kml(names: list[str]) -> str | None:
    kmls = [n for n in names if n.lower().endswith(".kml")]
    for n in kmls:
        if n.lower() == "doc.kml":
            return n
    top = [n for n in kmls if "/" not in n]
    return (top or kmls or [None])[0]


def kml_bytes(path: Path, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The KML document of a .kml file, or the main KML inside a KMZ (safely unzipped)."""
    path = Path(path)
    data = read_bytes(path, max_bytes)
    if not data.startswith(_ZIP_MAGIC):
        return data
    found = ziputil.read_member(path, _main_kml, max_bytes=max_bytes)
    if found is None:
        raise UnreadableInputError(path, "KMZ archive holds no .kml document")
    return found[1]


def parse_kml(path: Path, max_bytes: int = MAX_INPUT_BYTES) -> Element:
    """Root element of a KML/KMZ file, entity-safe; UnreadableInputError if not KML."""
    root = xmlsafe.parse_bytes(kml_bytes(path, max_bytes), name=path)
    if _name(root) not in ("kml", "Document", "Folder", "Placemark"):
        raise UnreadableInputError(path, f"expected a <kml> root element, found <{_name(root)}>")
    return root


def sniff(text: str) -> str | None:
    """Which layer a KML document's text most likely holds, or None if it cannot tell.

    ExtendedData naming `unit_name` or `kind` is a deliberate choice by whoever
    wrote the file, so it wins over the mere presence of a track (a deployment
    file may carry a unit's recent path).
    """
    if re.search(r"""name\s*=\s*["']unit_name["']""", text):
        return "deployments"
    if re.search(r"""name\s*=\s*["']kind["']""", text):
        return "infrastructure"
    if re.search(r"<(?:\w+:)?Track[\s>]", text) or (
        re.search(r"<(?:\w+:)?LineString[\s>]", text)
        and re.search(r"<(?:\w+:)?Time(?:Span|Stamp)[\s>]", text)
    ):
        return "track_points"
    return None


def read_kml(
    path: Path,
    *,
    source: str,
    layer: str,
    kind: str | None = None,
    max_bytes: int = MAX_INPUT_BYTES,
    **_: Any,
) -> ReadResult:
    """Read a KML or KMZ file into `layer`; see the module docstring for the rules.

    `kind` is the infrastructure kind for placemarks whose ExtendedData has
    none (e.g. a partner's KML of hospitals). Raises HostileInputError for
    DTDs/entities and hostile archives, UnreadableInputError otherwise.
    """
    if layer not in LAYERS:
        raise UnreadableInputError(path, f"KML can be read as {', '.join(LAYERS)}; not {layer!r}")
    path = Path(path)
    root = parse_kml(path, max_bytes)
    out = _Out(layer, source)
    if layer == "track_points":
        _read_tracks(out, root, path.stem)
    elif layer == "deployments":
        _read_deployments(out, root)
    else:
        _read_infrastructure(out, root, path.stem, kind)
    return out.result()
