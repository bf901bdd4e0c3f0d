"""Records as Cursor-on-Target events, and a TAK data package of them (`watchfloor export -f cot`).

What TAK gets, per record (one `<event>` each):

    tracks        the latest position, uid = track_id, type = its CoT type if it has one (a-*),
                  else a-u-A (unknown air); speed/course in <track>, callsign in <contact>
    deployments   a unit: type a-<affiliation>-G-U-C[...] (MIL-STD-2525B function by unit_type),
                  the affiliation from its SIDC if it has one (else friend: partner units), and a
                  2525C letter SIDC with the echelon amplifier in <__milsym id>
    incidents     a spot marker b-m-p-s-m coloured by severity, title as callsign, description as remarks
    overlays      back as drawings: u-d-r (rectangle), u-d-c-c (circle: centre and radius measured
                  from the ring), u-d-f (free form, polygon, ellipse: the ring's vertices),
                  b-m-r (route), u-rb-a (range and bearing: range and bearing measured on WGS84)

Every event carries `stale` (the record's stale_at, else its time plus `DEFAULT_STALE`), the record's
marking in `<marking>` (the convention ingest/adapters/cot.py reads) and in a
`<__watchfloor layer source source_id wkt>` detail the record's columns as JSON and its geometry:
TAK clients ignore a detail they do not know, and `watchfloor ingest auto` puts the record back in
its layer with its ids, times and marking (ingest/adapters/cot_drawings.py). A track's record is its
latest fix (`track_points`) when the fixes were exported with it, else the track itself.

The package (TAK "mission package" / data package): `MANIFEST/manifest.xml`
(MissionPackageManifest version 2: uid and name parameters, one <Content zipEntry> per file, with
the event's uid as its parameter) and `<uid>/<uid>.cot` per record. Layers TAK has no event for
(imagery, reference layers, alerts) are not written.

Built with lxml (escaping done by the serialiser, never by string pasting). pytak was considered: its
CoT helpers build a bare event and its clients need an asyncio framework; the package format and the
record mapping here are ours either way.
"""

from __future__ import annotations

import json
import math
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from lxml import etree
from pyproj import Geod

from ingest.adapters.cot_drawings import hex_to_argb
from ingest.exchange import COT_RECORD_DETAIL, TAK_MANIFEST
from ingest.schema import LAYERS
from layers.export.job import ExportJob
from layers.export.kml import _INVALID_XML as INVALID_XML
from layers.export.provenance import iso_utc

GEOD = Geod(ellps="WGS84")
# Layers TAK has an event for, in the order they are written.
COT_LAYERS = ("tracks", "deployments", "incidents", "overlays")
DEFAULT_STALE = {"tracks": timedelta(minutes=5), "deployments": timedelta(hours=24),
                 "incidents": timedelta(hours=24), "overlays": timedelta(hours=24)}
UNKNOWN = "9999999.0"
# The export's provenance (as JSON) inside the package, beside the records.
PROVENANCE_MEMBER = "watchfloor-provenance.json"
# MIL-STD-2525B function of a unit type (the CoT type after a-<affiliation>-G-).
UNIT_FUNCTIONS = {
    "infantry": "U-C-I", "armour": "U-C-A", "armor": "U-C-A", "artillery": "U-C-F", "engineer": "U-C-E",
    "reconnaissance": "U-C-R", "air defence": "U-C-D", "air defense": "U-C-D", "aviation": "U-C-V",
    "medical": "U-S-M", "logistics": "U-S", "supply": "U-S-S", "signal": "U-U-S", "military police": "U-U-L-M",
    "headquarters": "U-H",
}
# 2525C echelon amplifier (SIDC character 12) by ingest.schema.ECHELONS name.
ECHELON_CODES = {"team": "A", "squad": "B", "section": "C", "platoon": "D", "company": "E", "battalion": "F",
                 "regiment": "G", "brigade": "H", "division": "I", "corps": "J", "army": "K"}
# 2525C letter affiliation -> CoT affiliation; 2525D standard identity digit -> CoT affiliation.
LETTER_AFFILIATION = {"F": "f", "A": "a", "H": "h", "S": "s", "N": "n", "U": "u", "P": "p", "J": "j", "K": "k"}
DIGIT_AFFILIATION = {"0": "p", "1": "u", "2": "a", "3": "f", "4": "n", "5": "s", "6": "h"}
SEVERITY_ARGB = {"low": -256, "medium": -23296, "high": -65536, "critical": -65281}  # yellow, orange, red, magenta


def affiliation(sidc: object) -> str:
    """The CoT affiliation letter a unit's SIDC states; partner deployments default to friend."""
    if isinstance(sidc, str):
        s = sidc.strip().upper()
        if len(s) >= 2 and s[0].isalpha() and s[1] in LETTER_AFFILIATION:
            return LETTER_AFFILIATION[s[1]]
        if len(s) >= 4 and s.isdigit() and s[3] in DIGIT_AFFILIATION:
            return DIGIT_AFFILIATION[s[3]]
    return "f"


def unit_type(row: Mapping[str, Any]) -> tuple[str, str]:
    """(CoT type, 2525C letter SIDC) of a deployment."""
    aff = affiliation(row.get("symbol_code"))
    function = UNIT_FUNCTIONS.get(str(row.get("unit_type") or "").strip().lower(), "U-C")
    cot_type = f"a-{aff}-G-{function}"
    sidc = ("S" + aff.upper() + "GP" + function.replace("-", "")).ljust(10, "-")[:10]
    sidc += "-" + ECHELON_CODES.get(str(row.get("echelon") or ""), "-") + "---"
    return cot_type, sidc


def _value(v: Any) -> Any:
    """A column value as JSON: times ISO UTC, geometries WKT, missing None."""
    if isinstance(v, shapely.Geometry):
        return shapely.to_wkt(v, rounding_precision=-1)
    if isinstance(v, (pd.Timestamp, np.datetime64)):
        return iso_utc(v) if not pd.isna(v) else None
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(v) else float(v)
    if v is None or v is pd.NA or (not isinstance(v, str) and pd.isna(v)):
        return None
    return v


def _text(v: Any) -> str | None:
    """Text for XML: characters XML cannot carry are dropped (the exact value travels as JSON)."""
    v = _value(v)
    return None if v is None else INVALID_XML.sub("", str(v))


def _record(detail: etree._Element, layer: str, row: Mapping[str, Any]) -> None:
    skip = {"geometry", "ingested_at", "geometry_fix"}
    values = {c: _value(row.get(c)) for c in LAYERS[layer].column_names if c not in skip and c in row}
    el = etree.SubElement(detail, COT_RECORD_DETAIL, layer=layer, source=_text(row.get("source")) or "",
                          source_id=_text(row.get("source_id")) or "")
    if row.get("geometry") is not None:
        el.set("wkt", shapely.to_wkt(row["geometry"], rounding_precision=-1))
    el.text = json.dumps(values, ensure_ascii=True, sort_keys=True)  # ASCII: every character survives XML


def _event(uid: str, cot_type: str, time: Any, stale: Any, layer: str, lon: float, lat: float,
           hae: Any = None) -> tuple[etree._Element, etree._Element]:
    t = pd.Timestamp(time) if time is not None and not pd.isna(time) else pd.Timestamp.now(tz="UTC")
    s = pd.Timestamp(stale) if stale is not None and not pd.isna(stale) else t + DEFAULT_STALE[layer]
    ev = etree.Element("event", version="2.0", uid=INVALID_XML.sub("", uid), type=cot_type, time=iso_utc(t), start=iso_utc(t),
                       stale=iso_utc(s), how="h-e" if layer == "overlays" else "m-g")
    hae_text = UNKNOWN if hae is None or pd.isna(hae) else repr(float(hae))
    etree.SubElement(ev, "point", lat=repr(float(lat)), lon=repr(float(lon)), hae=hae_text, ce=UNKNOWN, le=UNKNOWN)
    return ev, etree.SubElement(ev, "detail")


def _common(detail: etree._Element, callsign: Any, marking: Any, remarks: Any = None) -> None:
    if _text(callsign):
        etree.SubElement(detail, "contact", callsign=_text(callsign))
    if _text(remarks):
        etree.SubElement(detail, "remarks").text = _text(remarks)
    if _text(marking):
        etree.SubElement(detail, "marking").text = _text(marking)


def track_event(track: Mapping[str, Any], fix: Mapping[str, Any] | None) -> etree._Element:
    """A track's latest position; its record is `fix` (the latest track point) when given."""
    src = fix if fix is not None else track
    pt = src["geometry"] if fix is not None else shapely.Point(track["last_lon"], track["last_lat"])
    cot_type = _text(src.get("platform_type")) or ""
    cot_type = cot_type if cot_type.startswith("a-") else "a-u-A"
    time = fix["time"] if fix is not None else track["last_seen"]
    ev, detail = _event(str(track["track_id"]), cot_type, time, src.get("stale_at"), "tracks", pt.x, pt.y,
                        src.get("altitude_m") if fix is not None else track.get("last_altitude_m"))
    speed = src.get("speed_mps") if fix is not None else track.get("last_speed_mps")
    course = src.get("heading_deg") if fix is not None else track.get("last_heading_deg")
    if _value(speed) is not None or _value(course) is not None:
        etree.SubElement(detail, "track", speed=repr(_value(speed) or 0.0), course=repr(_value(course) or 0.0))
    _common(detail, src.get("callsign"), src.get("marking"))
    _record(detail, "track_points" if fix is not None else "tracks", src)
    return ev


def deployment_event(row: Mapping[str, Any]) -> etree._Element:
    cot_type, sidc = unit_type(row)
    pt = row["geometry"]
    ev, detail = _event(f"{row['source']}.{row['source_id']}", cot_type, row.get("reported_at"), row.get("stale_at"),
                        "deployments", pt.x, pt.y)
    _common(detail, row.get("unit_name"), row.get("marking"),
            " ".join(str(v) for v in (row.get("nation"), row.get("echelon"), row.get("unit_type")) if _text(v)))
    etree.SubElement(detail, "__milsym", id=sidc)
    _record(detail, "deployments", row)
    return ev


def incident_event(row: Mapping[str, Any]) -> etree._Element:
    pt = row["geometry"]
    when = row.get("updated_at") if _value(row.get("updated_at")) is not None else row.get("occurred_at")
    ev, detail = _event(f"{row['source']}.{row['source_id']}", "b-m-p-s-m", when, None, "incidents", pt.x, pt.y)
    argb = SEVERITY_ARGB.get(str(row.get("severity")), -1)
    _common(detail, row.get("title") or row.get("category"), row.get("marking"), row.get("description"))
    etree.SubElement(detail, "color", argb=str(argb))
    etree.SubElement(detail, "usericon", iconsetpath=f"COT_MAPPING_SPOTMAP/b-m-p-s-m/{argb}")
    _record(detail, "incidents", row)
    return ev


def _links(detail: etree._Element, coords: np.ndarray) -> None:
    for x, y in coords[:, :2]:
        etree.SubElement(detail, "link", point=f"{y!r},{x!r}")


def overlay_event(row: Mapping[str, Any]) -> etree._Element:
    geom, kind = row["geometry"], str(row.get("kind") or "")
    coords = shapely.get_coordinates(geom)
    ring = coords[:-1] if geom.geom_type == "Polygon" else coords
    if kind == "circle" and geom.geom_type == "Polygon":
        lon, lat = float(ring[:, 0].mean()), float(ring[:, 1].mean())
        radius = float(np.mean(GEOD.inv(np.full(len(ring), lon), np.full(len(ring), lat), ring[:, 0], ring[:, 1])[2]))
        cot_type = "u-d-c-c"
    elif kind == "range_bearing" and len(coords) == 2:
        (lon, lat), end = coords[0, :2], coords[1, :2]
        cot_type = "u-rb-a"
    elif kind == "route":
        lon, lat, cot_type = float(coords[0, 0]), float(coords[0, 1]), "b-m-r"
    else:
        cot_type = "u-d-r" if kind == "rectangle" and len(ring) == 4 else "u-d-f"
        c = geom.centroid
        lon, lat = c.x, c.y
    uid = str(row["source_id"])
    ev, detail = _event(uid, cot_type, row.get("drawn_at"), row.get("stale_at"), "overlays", lon, lat)
    if cot_type == "u-d-c-c":
        shape = etree.SubElement(detail, "shape")
        etree.SubElement(shape, "ellipse", major=repr(radius), minor=repr(radius), angle="360")
    elif cot_type == "u-rb-a":
        bearing, _, distance = GEOD.inv(lon, lat, end[0], end[1])
        etree.SubElement(detail, "range", value=repr(distance))
        etree.SubElement(detail, "bearing", value=repr(bearing % 360))
    elif cot_type == "b-m-r":
        for i, (x, y) in enumerate(coords[:, :2]):
            etree.SubElement(detail, "link", uid=f"{uid}.{i}", type="b-m-p-w" if i in (0, len(coords) - 1) else "b-m-p-c",
                             point=f"{y!r},{x!r}", relation="c")
    else:
        _links(detail, coords if geom.geom_type == "LineString" else shapely.get_coordinates(geom.exterior))
    for tag, col in (("strokeColor", "stroke_color"), ("fillColor", "fill_color")):
        argb = hex_to_argb(row.get(col))
        if argb is not None:
            etree.SubElement(detail, tag, value=str(argb))
    if bool(_value(row.get("geofence"))):
        etree.SubElement(detail, "__geofence", **{k: v for k, v in (
            ("trigger", _text(row.get("geofence_trigger"))), ("monitor", _text(row.get("geofence_monitor")))) if v})
    if _text(row.get("sender_uid")):
        etree.SubElement(detail, "creator", uid=_text(row.get("sender_uid")))
    _common(detail, row.get("label"), row.get("marking"), row.get("remarks"))
    _record(detail, "overlays", row)
    return ev


def _rows(frame: gpd.GeoDataFrame) -> Iterator[dict[str, Any]]:
    yield from frame.to_dict("records")


def written(layers: Mapping[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    """The records a package of `layers` holds: the layers TAK has an event for, and of the track
    points only each track's latest (the record its event carries). The export counts and marks
    exactly these (layers/export/api.py), not what was on screen but cannot go to TAK."""
    out = {name: frame for name, frame in layers.items() if name in COT_LAYERS}
    fixes = layers.get("track_points")
    if fixes is not None and "tracks" in out:
        out["track_points"] = _latest(fixes)
    return out


def _latest(fixes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if not len(fixes):
        return fixes
    return fixes.sort_values("time", kind="stable").groupby("track_id", sort=False).tail(1)


def record_events(layers: Mapping[str, gpd.GeoDataFrame]) -> Iterator[tuple[str, etree._Element]]:
    """(layer, event) for every record TAK has an event for, layer by layer."""
    fixes = layers.get("track_points")
    latest: dict[str, dict[str, Any]] = {}
    if fixes is not None and len(fixes):
        latest = {r["track_id"]: r for r in _rows(_latest(fixes))}
    builders = {"deployments": deployment_event, "incidents": incident_event, "overlays": overlay_event}
    for layer in COT_LAYERS:
        frame = layers.get(layer)
        if frame is None or not len(frame):
            continue
        for row in _rows(frame):
            if row.get("geometry") is None:
                continue
            if layer == "tracks":
                yield layer, track_event(row, latest.get(row["track_id"]) if latest else None)
            else:
                yield layer, builders[layer](row)


def event_bytes(ev: etree._Element) -> bytes:
    return etree.tostring(ev, xml_declaration=True, encoding="UTF-8", standalone=True)


def manifest(name: str, package_uid: str, entries: list[tuple[str, str]]) -> bytes:
    """MissionPackageManifest version 2: the package's uid and name, one Content per file (the
    provenance file is marked ignore="true": TAK clients keep it but import nothing from it)."""
    root = etree.Element("MissionPackageManifest", version="2")
    config = etree.SubElement(root, "Configuration")
    etree.SubElement(config, "Parameter", name="uid", value=package_uid)
    etree.SubElement(config, "Parameter", name="name", value=name)
    contents = etree.SubElement(root, "Contents")
    for entry, uid in entries:
        content = etree.SubElement(contents, "Content", ignore="true" if entry == PROVENANCE_MEMBER else "false",
                                   zipEntry=entry)
        etree.SubElement(content, "Parameter", name="uid", value=uid)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write_cot_package(job: ExportJob, path: Path) -> None:
    """The TAK data package of `job`'s layers at `path` (a zip)."""
    name = job.provenance.filename("zip")[: -len(".zip")]
    package_uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"watchfloor:{name}"))
    entries: list[tuple[str, str]] = []
    used: set[str] = set()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for _, ev in record_events(job.layers):
            uid = ev.get("uid")
            folder = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in uid)[:120] or "record"
            while folder in used:
                folder += "_"
            used.add(folder)
            entry = f"{folder}/{folder}.cot"
            zf.writestr(entry, event_bytes(ev))
            entries.append((entry, uid))
        zf.writestr(PROVENANCE_MEMBER, job.provenance.to_json())
        entries.append((PROVENANCE_MEMBER, package_uid))
        zf.writestr(TAK_MANIFEST, manifest(name, package_uid, entries))
