"""GeoJSON (RFC 7946, and the 2008 spec's `crs` member) -> any layer.

Parsed with the `json` module rather than GDAL so that (a) one bad feature is
one rejection with a reason instead of a silently null geometry, and (b)
nested objects, such as a deployment's `area` geometry inside `properties`,
arrive intact.

Property mapping: for each canonical column of the layer, the first property
present among: the caller's `properties={"column": "prop" or ["prop", ...]}`,
the layer's aliases in `ALIASES`, and the column's own name (exact match
first, then case-insensitive).

source_id, first of: the mapped `source_id` property (default `id`), the
Feature's own `id` member, f"{track_id}@{time}" for track points, and finally
for reference layers only, f"{file stem}#{n}" (the feature's 0-based position;
stable for a given file, which is what Natural Earth borders and the like need).
Operational records without an id are passed with a null source_id, which
validate quarantines: a positional id would make two different reports collide.

Values are passed on as found (times as text; numbers as numbers, numeric-
looking text as numbers, other text as text) for validate to judge. Nested
objects given for a text column are passed as their JSON text.

CRS: RFC 7946 GeoJSON is always WGS84 lon/lat. A 2008-style top-level `crs`
naming CRS84 or EPSG:4326 changes nothing (coordinates are x, y either way);
another CRS that PROJ knows is reprojected to EPSG:4326; one it does not know
makes every feature a rejection (UNKNOWN_CRS): better no data than data in the
wrong place.

A FeatureCollection's foreign member `marking` (or `watchfloor:marking`)
becomes ReadResult.default_marking, for features that carry none.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyproj
import shapely
from shapely.geometry import shape

from ingest import reasons
from ingest.adapters.base import ReadResult, rejection, rejections
from ingest.adapters.common import (
    MAX_INPUT_BYTES,
    frame_from_rows,
    number_or_text,
    read_bytes,
    reproject,
    text_or_none,
    wgs84_transformer,
)
from ingest.errors import HostileInputError, UnreadableInputError
from ingest.schema import spec

ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "incidents": {
        "source_id": ("id",),
        "occurred_at": ("occurred_at", "event_date", "date", "time"),
        "location_name": ("location_name", "location", "place"),
        "fatalities": ("fatalities", "deaths"),
    },
    "deployments": {
        "source_id": ("id",),
        "nation": ("nation", "country", "country_code"),
        "unit_name": ("unit_name", "unit", "name"),
        "strength": ("strength", "personnel"),
        "symbol_code": ("symbol_code", "sidc"),
    },
    "track_points": {
        "source_id": ("id", "source_id"),
        "track_id": ("track_id", "uid", "trackid"),
        "time": ("time", "timestamp", "datetime"),
        "altitude_m": ("altitude_m", "alt", "altitude", "hae", "ele"),
        "speed_mps": ("speed_mps", "speed"),
        "heading_deg": ("heading_deg", "heading", "course"),
        "stale_at": ("stale_at", "stale"),
    },
    "imagery": {
        "source_id": ("id",),
        "acquired_at": ("acquired_at", "datetime"),
        "cloud_cover": ("cloud_cover", "eo:cloud_cover"),
    },
    # Reference layers: Natural Earth and GeoNames spell these in upper case.
    "borders": {
        "source_id": ("id",),
        "country_code": ("country_code", "iso_a3", "adm0_a3", "iso3"),
        "name": ("name", "admin", "name_en"),
    },
    "disputed_areas": {
        "source_id": ("id",),
        "claimants": ("claimants",),
        "note": ("note", "note_brk"),
    },
    "infrastructure": {
        "source_id": ("id",),
        "country_code": ("country_code", "iso_a3", "iso_country"),
    },
    "places": {
        "source_id": ("id", "geonameid"),
        "country_code": ("country_code", "adm0_a3", "iso_a3"),
        "population": ("population", "pop_max"),
    },
}

_CRS84_NAMES = {
    "urn:ogc:def:crs:ogc:1.3:crs84",
    "urn:ogc:def:crs:ogc::crs84",
    "ogc:crs84",
    "crs84",
    "epsg:4326",
    "urn:ogc:def:crs:epsg::4326",
    "urn:ogc:def:crs:epsg:6.6:4326",
    "http://www.opengis.net/def/crs/ogc/1.3/crs84",
    "http://www.opengis.net/def/crs/epsg/0/4326",
}
MAX_RAW_CHARS = 20_000


class BadGeometryError(ValueError):
    pass


def load_json(path: Path, max_bytes: int = MAX_INPUT_BYTES) -> Any:
    """Parse a JSON file: size-capped; deep nesting is refused as hostile."""
    data = read_bytes(path, max_bytes)
    try:
        return json.loads(data)
    except RecursionError:
        raise HostileInputError(path, "JSON nested too deeply to parse; refused") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadableInputError(path, f"not valid JSON: {exc}") from None


def _check_coordinates(c: Any, depth: int = 0) -> None:
    """Every leaf of a coordinates array must be a JSON number (not text, not true)."""
    if isinstance(c, list):
        if depth > 4:
            raise BadGeometryError("coordinates nested deeper than any GeoJSON geometry")
        for x in c:
            _check_coordinates(x, depth + 1)
    elif isinstance(c, bool) or not isinstance(c, numbers.Real):
        raise BadGeometryError(f"expected numbers in coordinates, found {c!r}")


def build_geometry(g: Any) -> shapely.Geometry | None:
    """A shapely geometry from a GeoJSON geometry object; None for null.

    Raises BadGeometryError saying what was wrong when it cannot be built.
    """
    if g is None:
        return None
    if not isinstance(g, Mapping):
        raise BadGeometryError(f"expected a geometry object or null, found {type(g).__name__}")
    kind = g.get("type")
    if kind == "GeometryCollection":
        parts = g.get("geometries")
        if not isinstance(parts, list):
            raise BadGeometryError("expected a 'geometries' array in GeometryCollection")
        return shapely.GeometryCollection([build_geometry(p) for p in parts])
    if "coordinates" not in g:
        raise BadGeometryError(f"expected a 'coordinates' member in {kind} geometry, found none")
    _check_coordinates(g["coordinates"])
    try:
        return shape(g)
    except Exception as exc:  # noqa: BLE001 - shapely/GEOS raise ValueError, TypeError, GEOSException...
        msg = str(exc).strip() or type(exc).__name__
        raise BadGeometryError(f"{kind} geometry could not be built: {msg}") from None


def _crs_name(doc: Mapping[str, Any]) -> str | None:
    crs = doc.get("crs")
    if crs is None:
        return None
    if isinstance(crs, Mapping) and crs.get("type") == "name":
        name = (crs.get("properties") or {}).get("name")
        return str(name) if name is not None else json.dumps(crs)
    return json.dumps(crs)  # "link"/"EPSG" types and anything else: not resolvable here


def _transformer(name: str | None) -> pyproj.Transformer | None | str:
    """None: already WGS84 lon/lat; a Transformer; or an error text if unknown."""
    if name is None or name.strip().lower() in _CRS84_NAMES:
        return None
    try:
        return wgs84_transformer(name)
    except pyproj.exceptions.CRSError:
        return f"crs {name!r} is not a CRS that PROJ knows; expected CRS84/EPSG:4326 or a known EPSG code"


def _lookup(props: Mapping[str, Any], names: Sequence[str]) -> tuple[bool, Any]:
    lower: dict[str, str] | None = None
    for name in names:
        if name in props:
            return True, props[name]
    for name in names:
        if lower is None:
            lower = {str(k).lower(): k for k in props}
        k = lower.get(name.lower())
        if k is not None:
            return True, props[k]
    return False, None


def _candidates(layer: str, column: str, mapping: Mapping[str, str | Sequence[str]]) -> list[str]:
    names: list[str] = []
    given = mapping.get(column)
    if given:
        names.extend([given] if isinstance(given, str) else list(given))
    names.extend(ALIASES.get(layer, {}).get(column, ()))
    if column != "source_id":
        names.append(column)
    return list(dict.fromkeys(names))


def _value(kind: str, v: Any) -> Any:
    if v is None:
        return None
    if kind in ("float", "int"):
        if isinstance(v, (dict, list)):
            return json.dumps(v, ensure_ascii=False)
        return number_or_text(v)
    if kind == "time":
        return v if isinstance(v, (str, int, float)) and not isinstance(v, bool) else json.dumps(v)
    if kind == "bool":
        return v
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    return text_or_none(v) if isinstance(v, str) else str(v)


def raw_json(feature: Any) -> str:
    text = json.dumps(feature, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_RAW_CHARS else text[:MAX_RAW_CHARS] + "...[truncated]"


def _features(doc: Any, path: Path) -> tuple[list[Any], Mapping[str, Any]]:
    if isinstance(doc, list):
        return doc, {}
    if not isinstance(doc, Mapping):
        raise UnreadableInputError(
            path, f"expected a GeoJSON object, found a JSON {type(doc).__name__}"
        )
    kind = doc.get("type")
    if kind == "FeatureCollection":
        feats = doc.get("features")
        if not isinstance(feats, list):
            raise UnreadableInputError(path, "expected a 'features' array in the FeatureCollection")
        return feats, doc
    if kind == "Feature":
        return [doc], doc
    raise UnreadableInputError(
        path, f"expected a GeoJSON FeatureCollection or Feature, found type {kind!r}"
    )


def read_geojson(
    path: Path,
    *,
    source: str,
    layer: str,
    properties: Mapping[str, str | Sequence[str]] | None = None,
    max_bytes: int = MAX_INPUT_BYTES,
    **_: Any,
) -> ReadResult:
    """Read a GeoJSON file into `layer`; see the module docstring for the rules."""
    path = Path(path)
    lspec = spec(layer)
    mapping = dict(properties or {})
    doc = load_json(path, max_bytes)
    features, top = _features(doc, path)
    declared = (top.get("marking") or top.get("watchfloor:marking")) if top else None
    default_marking = text_or_none(declared) if isinstance(declared, str) else None
    t = _transformer(_crs_name(top)) if top else None

    cols = [(c.name, c.kind) for c in lspec.columns]
    plan = {name: _candidates(layer, name, mapping) for name, _ in cols}
    plan["marking"] = _candidates(layer, "marking", mapping)
    id_names = _candidates(layer, "source_id", mapping)

    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    rejected: list[dict[str, Any]] = []
    for n, feat in enumerate(features):
        fid = feat.get("id") if isinstance(feat, Mapping) else None
        props = feat.get("properties") if isinstance(feat, Mapping) else None
        found, pid = _lookup(props, id_names) if isinstance(props, Mapping) else (False, None)
        sid_val = pid if found and pid not in (None, "") else fid
        sid = (
            text_or_none(sid_val)
            if sid_val is not None and not isinstance(sid_val, (dict, list))
            else None
        )

        def reject(reason: str, detail: str, sid: str | None = sid, feat: Any = feat) -> None:
            rejected.append(rejection(layer, source, sid, reason, detail, raw_json(feat)))

        if not isinstance(feat, Mapping) or feat.get("type") != "Feature":
            got = feat.get("type") if isinstance(feat, Mapping) else type(feat).__name__
            reject(reasons.MALFORMED_RECORD, f"expected a GeoJSON Feature object, found {got!r}")
            continue
        if not isinstance(props, Mapping):
            reject(
                reasons.MALFORMED_RECORD,
                f"expected a 'properties' object, found {'null' if props is None else type(props).__name__}"
                if "properties" in feat
                else "expected a 'properties' object, found no 'properties' member",
            )
            continue
        if isinstance(t, str):
            reject(reasons.UNKNOWN_CRS, t)
            continue
        try:
            geom = build_geometry(feat.get("geometry"))
        except BadGeometryError as exc:
            reject(reasons.MALFORMED_RECORD, f"geometry: {exc}")
            continue

        row: dict[str, Any] = {"source": source}
        bad_extra = None
        for name, kind in cols:
            ok, v = _lookup(props, plan[name])
            if not ok:
                row[name] = None
            elif kind == "geometry":
                try:
                    if isinstance(v, str):
                        try:
                            row[name] = shapely.from_wkt(v) if v.strip() else None
                        except shapely.errors.GEOSException as exc:
                            raise BadGeometryError(f"WKT could not be parsed: {exc}") from None
                    else:
                        row[name] = build_geometry(v)
                except BadGeometryError as exc:
                    bad_extra = f"{name}: {exc}"
                    break
                if t is not None:
                    row[name] = reproject(row[name], t)
            else:
                row[name] = _value(kind, v)
        if bad_extra:
            reject(reasons.MALFORMED_RECORD, bad_extra)
            continue
        ok, marking = _lookup(props, plan["marking"])
        row["marking"] = _value("str", marking) if ok else None
        if (
            sid is None
            and layer == "track_points"
            and row.get("track_id")
            and row.get("time") is not None
        ):
            sid = f"{row['track_id']}@{row['time']}"
        if sid is None and lspec.reference:
            sid = f"{path.stem}#{n}"
        row["source_id"] = sid  # still None: validate quarantines it (missing source id)
        rows.append(row)
        geoms.append(reproject(geom, t) if t is not None else geom)

    frame = frame_from_rows(layer, rows, geoms)
    return ReadResult(
        layer,
        frame,
        rejections(rejected),
        records_read=len(features),
        default_marking=default_marking,
    )
