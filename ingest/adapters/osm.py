"""OpenStreetMap extracts (.osm.pbf, .osm XML) -> `infrastructure`.

Read with GDAL's OSM driver through pyogrio: the `points` layer (tagged
nodes) and the `multipolygons` layer (closed ways and multipolygon
relations, assembled by GDAL). Tags come as GDAL's named columns plus the
rest in `other_tags`, requested as JSON (open option TAGS_FORMAT=JSON) so
no HSTORE text has to be parsed here.

Tags -> kind (first rule that matches wins, in this order):
    aeroway=aerodrome                        -> airport    (subkind aerodrome:type / aerodrome;
                                                            code icao, else iata)
    aeroway=helipad | heliport               -> heliport
    power=plant                              -> power_plant (subkind plant:source; capacity
                                                 from plant:output:electricity, in MW)
    amenity=hospital                         -> hospital
    harbour=* (not "no") | landuse=port | industrial=port -> port
    waterway=dam                             -> dam
    man_made=bridge                          -> bridge
    barrier=border_control                   -> border_crossing
    man_made=mast|tower with tower:type=communication or any communication:* tag
                                             -> communications
    amenity=fuel                             -> fuel
    man_made=water_works | reservoir_covered -> water
    office=government                        -> government
    military=* (not "no") | landuse=military -> restricted_zone (subkind the military value)
Features matching no rule are not infrastructure and are not records of this
read (an extract holds far more buildings and benches than facilities).

    name     name, else name:en, official_name, operator, brand, ref; else
             f"unnamed {kind} (OSM {type} {id})" so a facility is not lost for
             want of a label (the OSM id is real, the label says it is made up)
    source_id "node/123", "way/456", "relation/789" (OSM's own ids: stable across extracts)
    geometry points as points, areas as GDAL's (Multi)Polygons, in EPSG:4326
    capacity "1200 MW", "500 kW", "0.4 GW", "30" (MW assumed) -> MW; "yes" or other text -> null
             (OSM's "yes" means "produces electricity, amount unknown")
    country_code from addr:country (as tagged, usually ISO alpha-2)

An area whose rings GEOS cannot build (GDAL emits a two-point ring for a
closed way of two nodes) is rejected with the reason, not dropped. A
multipolygon relation GDAL cannot assemble at all is skipped by GDAL itself
(with only a warning): that loss happens before any row exists and cannot be
counted here.

GDAL's default osmconf.ini turns a closed way into an area only for some keys
(amenity, landuse, military, office, aeroway ...), so a power station or dam
drawn as a closed way would arrive as a line; `OSMCONF` (GDAL's default with
the rule keys added to closed_ways_are_polygons) is passed as CONFIG_FILE.
Features that are lines (a dam or bridge mapped as a line, not an area) are
not read: infrastructure is points and areas.

Safety: the path goes through `gdalpath.guard` (PBF magic, or an XML whose
root is <osm>); an .osm XML file is also pre-scanned with defusedxml, since
GDAL's own XML parser would see any DTD first.
"""

from __future__ import annotations

import json
import re
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely

from ingest import reasons
from ingest.adapters import gdalpath, xmlsafe
from ingest.adapters.base import ReadResult, rejection, rejections
from ingest.adapters.common import check_size, frame_from_rows, text_or_none
from ingest.errors import UnreadableInputError

LAYER = "infrastructure"
MAX_OSM_BYTES = 2 * 1024**3  # a country extract; GDAL streams it (see read_osm)
OSM_LAYERS = ("points", "multipolygons")
_NO = {"no", "false", "0"}

Tags = Mapping[str, str]


def _present(tags: Tags, key: str) -> bool:
    v = tags.get(key)
    return v is not None and v.strip().lower() not in _NO


def _communication(tags: Tags) -> bool:
    return tags.get("man_made") in ("mast", "tower") and (
        tags.get("tower:type") == "communication"
        or any(k.startswith("communication:") for k in tags)
    )


# (kind, predicate, subkind keys, code keys), in priority order.
RULES: tuple[tuple[str, Callable[[Tags], bool], tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "airport",
        lambda t: t.get("aeroway") == "aerodrome",
        ("aerodrome:type", "aerodrome"),
        ("icao", "iata"),
    ),
    ("heliport", lambda t: t.get("aeroway") in ("helipad", "heliport"), (), ("icao", "ref")),
    ("power_plant", lambda t: t.get("power") == "plant", ("plant:source",), ()),
    ("hospital", lambda t: t.get("amenity") == "hospital", ("healthcare:speciality",), ()),
    (
        "port",
        lambda t: (
            _present(t, "harbour") or t.get("landuse") == "port" or t.get("industrial") == "port"
        ),
        ("harbour:category",),
        ("ref:locode", "locode"),
    ),
    ("dam", lambda t: t.get("waterway") == "dam", (), ()),
    ("bridge", lambda t: t.get("man_made") == "bridge", ("bridge:structure",), ()),
    ("border_crossing", lambda t: t.get("barrier") == "border_control", (), ()),
    ("communications", _communication, ("tower:type",), ()),
    ("fuel", lambda t: t.get("amenity") == "fuel", (), ()),
    (
        "water",
        lambda t: t.get("man_made") in ("water_works", "reservoir_covered"),
        ("man_made",),
        (),
    ),
    ("government", lambda t: t.get("office") == "government", ("government",), ()),
    (
        "restricted_zone",
        lambda t: _present(t, "military") or t.get("landuse") == "military",
        ("military",),
        (),
    ),
)
# Every key a rule looks at: the superset pre-filter given to GDAL.
_RULE_KEYS = (
    "aeroway",
    "power",
    "amenity",
    "harbour",
    "landuse",
    "industrial",
    "waterway",
    "man_made",
    "barrier",
    "office",
    "military",
)
_NAME_KEYS = ("name", "name:en", "official_name", "operator", "brand", "ref")
# GDAL's default osmconf.ini (3.x), with the keys of `RULES` added to
# closed_ways_are_polygons; written to a private temporary file on first use.
OSMCONF = """\
[general]
closed_ways_are_polygons=aeroway,amenity,boundary,building,craft,geological,historic,landuse,\
leisure,military,natural,office,place,shop,sport,tourism,highway=platform,\
public_transport=platform,power=plant,harbour,industrial=port,waterway=dam,man_made=bridge,\
man_made=water_works,man_made=reservoir_covered,barrier=border_control

[points]
osm_id=yes
osm_version=no
osm_timestamp=no
osm_uid=no
osm_user=no
osm_changeset=no
attributes=name,barrier,highway,ref,address,is_in,place,man_made
unsignificant=created_by,converted_by,source,time,ele,attribution
ignore=created_by,converted_by,source,time,ele,note,todo,openGeoDB:,fixme,FIXME

[lines]
osm_id=yes
osm_version=no
osm_timestamp=no
osm_uid=no
osm_user=no
osm_changeset=no
attributes=name,highway,waterway,aerialway,barrier,man_made,railway
ignore=created_by,converted_by,source,time,ele,note,todo,openGeoDB:,fixme,FIXME

[multipolygons]
osm_id=yes
osm_version=no
osm_timestamp=no
osm_uid=no
osm_user=no
osm_changeset=no
attributes=name,type,aeroway,amenity,admin_level,barrier,boundary,building,craft,geological,\
historic,land_area,landuse,leisure,man_made,military,natural,office,place,shop,sport,tourism
ignore=area,created_by,converted_by,source,time,ele,note,todo,openGeoDB:,fixme,FIXME

[multilinestrings]
osm_id=yes
osm_version=no
osm_timestamp=no
osm_uid=no
osm_user=no
osm_changeset=no
attributes=name,type
ignore=area,created_by,converted_by,source,time,ele,note,todo,openGeoDB:,fixme,FIXME

[other_relations]
osm_id=yes
osm_version=no
osm_timestamp=no
osm_uid=no
osm_user=no
osm_changeset=no
attributes=name,type
ignore=area,created_by,converted_by,source,time,ele,note,todo,openGeoDB:,fixme,FIXME
"""
_osmconf_path: Path | None = None


def osmconf_path() -> Path:
    """The OSMCONF file (written once per process into a private temporary folder)."""
    global _osmconf_path
    if _osmconf_path is None or not _osmconf_path.exists():
        folder = Path(tempfile.mkdtemp(prefix="watchfloor-osmconf-"))
        target = folder / "osmconf.ini"
        target.write_text(OSMCONF)
        _osmconf_path = target
    return _osmconf_path


_POWER = re.compile(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*([kMG]?W)?\s*$", re.IGNORECASE)
_POWER_MW = {"w": 1e-6, "kw": 1e-3, "mw": 1.0, "gw": 1e3}


def classify(tags: Tags) -> tuple[str, str | None, str | None] | None:
    """(kind, subkind, code) for a feature's tags, or None if it is not infrastructure."""
    for kind, match, sub_keys, code_keys in RULES:
        if match(tags):
            subkind = next((tags[k] for k in sub_keys if tags.get(k)), None)
            code = next((tags[k] for k in code_keys if tags.get(k)), None)
            return kind, subkind, code
    return None


def capacity_mw(text: str | None) -> float | None:
    """plant:output:electricity text in MW ("30 MW" -> 30.0, "500 kW" -> 0.5); None if unknown."""
    if not text:
        return None
    m = _POWER.match(text)
    if not m:
        return None
    value = float(m.group(1).replace(",", "."))
    unit = (m.group(2) or "MW").lower()
    return value * _POWER_MW[unit]


def _where(fields: list[str]) -> str:
    """An OGR SQL filter that keeps every feature a rule could match (a superset)."""
    parts = [f'"{k}" IS NOT NULL' for k in _RULE_KEYS if k in fields]
    if "other_tags" in fields:
        parts += [f"other_tags LIKE '%\"{k}\"%'" for k in _RULE_KEYS if k not in fields]
    return " OR ".join(parts)


def _check_xml(path: Path) -> None:
    """Refuse an .osm XML with a DTD or entities (HostileInputError) before GDAL's expat
    parser sees it, then require the <osm> root (another XML root, e.g. a VRT, is hostile)."""
    xmlsafe.scan_file(path)
    gdalpath.check_magic(path, "osm-xml")


def _read_layer(path: Path, osm_layer: str) -> tuple[list[str], np.ndarray | None, list[Any]]:
    """(field names, WKB array, value arrays) of one layer of the OSM file, pre-filtered."""
    conf = str(osmconf_path())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            info = pyogrio.read_info(path, layer=osm_layer, config_file=conf)
        fields = [str(f) for f in info["fields"]]
    except Exception as exc:  # noqa: BLE001 - pyogrio raises DataSourceError and others
        raise UnreadableInputError(path, f"GDAL's OSM driver cannot open the file: {exc}") from None
    where = _where(fields) or None
    for custom_indexing in ("YES", "NO"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # "Non closed ring detected" etc.
                meta, _fids, wkb, values = pyogrio.raw.read(
                    path,
                    layer=osm_layer,
                    where=where,
                    return_fids=True,
                    tags_format="JSON",
                    use_custom_indexing=custom_indexing,
                    config_file=conf,
                )
        except Exception as exc:  # noqa: BLE001
            # Files whose node ids do not increase need GDAL's slower, general indexing.
            if custom_indexing == "YES" and "custom_indexing" in str(exc).lower():
                continue
            raise UnreadableInputError(
                path, f"GDAL could not read the {osm_layer} layer: {exc}"
            ) from None
        return [str(f) for f in meta["fields"]], wkb, values
    raise AssertionError("unreachable")  # pragma: no cover


def _tags(names: list[str], values: list[Any], i: int) -> dict[str, str]:
    tags: dict[str, str] = {}
    other = None
    for name, arr in zip(names, values):
        v = arr[i]
        if v is None or (isinstance(v, float) and np.isnan(v)):
            continue
        if name == "other_tags":
            other = v
        elif name not in ("osm_id", "osm_way_id"):
            tags[name] = str(v)
    if other:
        try:
            extra = json.loads(other)
        except ValueError:
            extra = {}
        if isinstance(extra, dict):
            for k, v in extra.items():
                tags.setdefault(str(k), str(v))
    return tags


def _osm_id(names: list[str], values: list[Any], i: int, osm_layer: str) -> str | None:
    col = dict(zip(names, values))
    if osm_layer == "points":
        return (
            f"node/{col['osm_id'][i]}"
            if col.get("osm_id") is not None and col["osm_id"][i]
            else None
        )
    if col.get("osm_id") is not None and col["osm_id"][i]:
        return f"relation/{col['osm_id'][i]}"
    if col.get("osm_way_id") is not None and col["osm_way_id"][i]:
        return f"way/{col['osm_way_id'][i]}"
    return None


def _label(tags: Tags, kind: str, osm_id: str | None) -> str:
    for key in _NAME_KEYS:
        if tags.get(key):
            return tags[key]
    kind_text = kind.replace("_", " ")
    return (
        f"unnamed {kind_text} (OSM {osm_id.replace('/', ' ')})"
        if osm_id
        else f"unnamed {kind_text}"
    )


def guard_osm(path: Path | str) -> Path:
    """The checked path of an OSM PBF or OSM XML file (see `gdalpath.guard`)."""
    p = gdalpath.guard(path)
    with p.open("rb") as fh:
        head = fh.read(64)
    if gdalpath.is_pbf(head):
        return p
    if p.name.lower().endswith(".pbf"):
        gdalpath.check_magic(p, "osm-pbf")  # XML named .pbf: hostile; other bytes: unreadable
    _check_xml(p)
    return p


def read_osm(path: Path, *, source: str, max_bytes: int = MAX_OSM_BYTES, **_: Any) -> ReadResult:
    """Read facilities from an OSM extract into infrastructure; see the module docstring.

    `max_bytes` defaults to 2 GiB rather than the adapters' usual 512 MiB: GDAL
    streams the file and only the matching features are held in memory.
    """
    p = guard_osm(path)
    check_size(p, max_bytes)
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    rejected: list[dict[str, Any]] = []
    for osm_layer in OSM_LAYERS:
        names, wkb, values = _read_layer(p, osm_layer)
        n = len(values[0]) if values else (len(wkb) if wkb is not None else 0)
        decoded = shapely.from_wkb(wkb, on_invalid="ignore") if wkb is not None else [None] * n
        for i in range(n):
            tags = _tags(names, values, i)
            found = classify(tags)
            if found is None:
                continue
            kind, subkind, code = found
            osm_id = _osm_id(names, values, i, osm_layer)
            geom = decoded[i]
            if geom is None:
                rejected.append(
                    rejection(
                        LAYER,
                        source,
                        osm_id,
                        reasons.MALFORMED_RECORD,
                        f"OSM {osm_layer} feature tagged as {kind} has no usable geometry (GEOS "
                        "refused the rings GDAL assembled, e.g. a closed way of two nodes)",
                        {"osm_id": osm_id, "tags": tags},
                    )
                )
                continue
            rows.append(
                {
                    "source": source,
                    "source_id": osm_id,
                    "marking": None,
                    "kind": kind,
                    "name": _label(tags, kind, osm_id),
                    "subkind": subkind,
                    "country_code": text_or_none(tags.get("addr:country")),
                    "capacity": capacity_mw(tags.get("plant:output:electricity"))
                    if kind == "power_plant"
                    else None,
                    "code": code,
                }
            )
            geoms.append(geom)
    frame = frame_from_rows(LAYER, rows, geoms)
    return ReadResult(LAYER, frame, rejections(rejected), records_read=len(rows) + len(rejected))
