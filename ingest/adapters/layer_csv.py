"""Partner spreadsheets (CSV) -> `deployments` or `infrastructure` (or any layer).

Deployment lists and facility lists arrive as spreadsheets with whatever
headers the sender likes. Headers are matched case-insensitively (spaces and
dashes count as underscores) against the canonical column name and the
layer's aliases in `ALIASES`; `columns={"unit_name": "Formation", ...}`
overrides any of them. The same matching is used for GeoPackage attribute
tables (`gpkg.py`).

Where a record is:
    lat + lon (decimal or DMS, see `coords`), or an `mgrs` grid reference
                         -> geometry Point
    a WKT column (`wkt`, `geometry`, `geom`, `the_geom`) when the row has no
    lat/lon/mgrs         -> geometry (e.g. an infrastructure POLYGON)
    deployments: `area` (or area_wkt, aor, aor_wkt) WKT -> area (the unit's AOR)

Values are passed on as found, except:
- infrastructure `kind` and deployments `echelon` are lower-cased with spaces
  and dashes as underscores ("Power plant" -> "power_plant"), the spelling of
  the schema's vocabularies; anything still outside them is quarantined by
  validate with the value shown;
- numbers (strength, capacity) become floats, other text stays text for
  validate to quarantine (BAD_VALUE).

source_id: a mapped id column; else for deployments f"{nation}/{unit_name}"
(so a newer report of the same unit supersedes the older one), and for
infrastructure (reference data) f"{file stem}#{n}" with n the 0-based row.

Rejected here: a row whose field count differs from the header
(MALFORMED_RECORD), coordinate text that is not a coordinate
(BAD_COORDINATE_TEXT), and WKT that does not parse (MALFORMED_RECORD; GDAL
would turn it into a null geometry with only a warning).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import shapely

from ingest import reasons
from ingest.adapters import coords
from ingest.adapters.base import ReadResult, rejection, rejections
from ingest.adapters.common import (
    MAX_INPUT_BYTES,
    csv_records,
    decode_text,
    frame_from_rows,
    number_or_text,
    read_bytes,
    text_or_none,
)
from ingest.errors import UnreadableInputError
from ingest.schema import spec

# Canonical column -> header names (normalised: lower case, '_' for space/dash).
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "deployments": {
        "source_id": ("source_id", "id", "unit_id", "uid"),
        "nation": ("nation", "country", "country_code", "iso3", "tcn"),
        "unit_name": ("unit_name", "unit", "name", "formation"),
        "unit_type": ("unit_type", "type", "role", "branch"),
        "echelon": ("echelon", "size"),
        "strength": ("strength", "personnel", "pax", "headcount"),
        "symbol_code": ("symbol_code", "sidc", "symbol"),
        "reported_at": (
            "reported_at",
            "reported",
            "dtg",
            "as_of",
            "time",
            "timestamp",
            "date_time",
        ),
        "stale_at": ("stale_at", "stale", "valid_until"),
        "area": ("area", "area_wkt", "aor", "aor_wkt"),
        "marking": ("marking", "classification", "releasability"),
    },
    "infrastructure": {
        "source_id": ("source_id", "id", "facility_id", "site_id"),
        "kind": ("kind", "category", "type", "facility_type"),
        "name": ("name", "facility", "site_name", "site"),
        "subkind": ("subkind", "subtype", "sub_type", "class"),
        "country_code": ("country_code", "country", "iso3", "iso_a3"),
        "capacity": ("capacity", "capacity_mw"),
        "code": ("code", "icao", "iata", "locode"),
        "marking": ("marking", "classification", "releasability"),
    },
}
LOCATION_ALIASES: dict[str, tuple[str, ...]] = {
    "lat": ("lat", "latitude", "y"),
    "lon": ("lon", "lng", "long", "longitude", "x"),
    "mgrs": ("mgrs", "grid", "grid_ref"),
    "wkt": ("wkt", "geometry", "geom", "the_geom"),
}
# Columns whose text is normalised to the schema's vocabulary spelling.
VOCABULARY_COLUMNS = ("kind", "echelon")


def _norm(header: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(header).strip().lower())


def vocabulary_text(value: str | None) -> str | None:
    """'Power plant' -> 'power_plant': the spelling of the schema's closed vocabularies."""
    return _norm(value) if value is not None else None


def layer_fields(layer: str) -> list[str]:
    """Canonical fields a table can fill for `layer`, plus the location fields."""
    s = spec(layer)
    names = ["source_id", "marking"] + [c.name for c in s.columns]
    return names + list(LOCATION_ALIASES)


def resolve_columns(
    headers: list[str], layer: str, columns: Mapping[str, str] | None, name: object
) -> dict[str, str]:
    """Canonical field -> actual header, from `columns`, then aliases, then the field's own name.

    Raises UnreadableInputError for a mapping key that is not a field or a
    mapped header that is not there.
    """
    fields = layer_fields(layer)
    by_norm: dict[str, str] = {}
    for h in headers:
        by_norm.setdefault(_norm(h), h)
    found: dict[str, str] = {}
    used: set[str] = set()
    for field, header in (columns or {}).items():
        if field not in fields:
            raise UnreadableInputError(
                name,
                f"column mapping key {field!r} is not a field of {layer}; expected one of {fields}",
            )
        actual = by_norm.get(_norm(header))
        if actual is None:
            raise UnreadableInputError(
                name, f"column mapping {field}={header!r}: no such column; found {headers}"
            )
        found[field] = actual
        used.add(actual)
    aliases = {**ALIASES.get(layer, {}), **LOCATION_ALIASES}
    for field in fields:
        if field in found:
            continue
        for cand in (*aliases.get(field, ()), field):
            actual = by_norm.get(_norm(cand))
            if actual is not None and actual not in used:
                found[field] = actual
                used.add(actual)
                break
    return found


class RowError(ValueError):
    """A record that cannot become a row: (reason code, detail)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def parse_wkt(text: str | None, what: str) -> Any:
    """A shapely geometry from WKT text (None for empty); RowError if it does not parse."""
    if text is None:
        return None
    try:
        return shapely.from_wkt(text)
    except (shapely.errors.GEOSException, ValueError) as exc:
        raise RowError(
            reasons.MALFORMED_RECORD, f"{what}: WKT could not be parsed ({exc})"
        ) from None


def location(get: Callable[[str], str | None]) -> Any:
    """The geometry of a record from lat/lon, mgrs or WKT fields; RowError if unparseable."""
    lat, lon, grid = get("lat"), get("lon"), get("mgrs")
    if lat or lon or grid:
        try:
            ll = coords.parse_lon_lat(lat, lon, grid)
        except coords.CoordinateTextError as exc:
            raise RowError(reasons.BAD_COORDINATE_TEXT, str(exc)) from None
        return shapely.Point(ll[0], ll[1]) if ll is not None else None
    return parse_wkt(get("wkt"), "geometry")


def build_row(
    layer: str,
    get: Callable[[str], Any],
    *,
    source: str,
    fallback_id: str,
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The row for one record whose fields `get` returns by canonical name.

    `get` returns None for absent or empty fields; `defaults` fills fields the
    record leaves empty (e.g. {"kind": "hospital"} for a partner's list of
    hospitals). Raises RowError for what cannot be turned into a row. Shared
    by the CSV and GeoPackage readers.
    """
    if defaults:
        plain = get

        def get(name: str) -> Any:
            v = plain(name)
            return defaults.get(name) if v is None else v

    s = spec(layer)
    row: dict[str, Any] = {"source": source, "marking": text_or_none(get("marking"))}
    for col in s.columns:
        v = get(col.name)
        if col.kind == "geometry":
            row[col.name] = (
                v
                if (v is None or hasattr(v, "geom_type"))
                else parse_wkt(text_or_none(v), col.name)
            )
        elif col.kind in ("float", "int"):
            row[col.name] = number_or_text(v)
        elif col.kind == "str" and col.name in VOCABULARY_COLUMNS:
            row[col.name] = vocabulary_text(text_or_none(v))
        else:
            row[col.name] = text_or_none(v) if isinstance(v, str) else v
    sid = text_or_none(get("source_id"))
    if sid is None and layer == "deployments" and row.get("nation") and row.get("unit_name"):
        sid = f"{row['nation']}/{row['unit_name']}"
    if sid is None and s.reference:
        sid = fallback_id
    row["source_id"] = sid
    return row


def read_layer_csv(
    path: Path,
    *,
    source: str,
    layer: str,
    columns: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    sep: str = ",",
    encoding: str = "utf-8-sig",
    max_bytes: int = MAX_INPUT_BYTES,
    **_: Any,
) -> ReadResult:
    """Read a CSV of `layer` records (deployments, infrastructure...); see the module docstring.

    `columns` maps canonical fields to headers; `defaults` gives values for
    fields a row leaves empty (see `build_row`).
    """
    path = Path(path)
    spec(layer)  # unknown layer -> UnknownLayerError
    text = decode_text(path, read_bytes(path, max_bytes), encoding)
    header, records = csv_records(path, text, sep=sep, what=layer)
    cols = resolve_columns(header, layer, columns, path)
    if not (("lat" in cols and "lon" in cols) or "mgrs" in cols or "wkt" in cols):
        raise UnreadableInputError(
            path,
            f"expected location columns (lat and lon, mgrs, or wkt); found headers {header} "
            "(pass columns={'lat': 'Northing', ...} to map them)",
        )
    index = {field: header.index(h) for field, h in cols.items()}
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    rejected: list[dict[str, Any]] = []
    count = 0
    for fields, problem in records:
        n = count
        count += 1

        def get(name: str, fields: list[str] = fields) -> str | None:
            i = index.get(name)
            return text_or_none(fields[i]) if i is not None and i < len(fields) else None

        sid = get("source_id")
        if problem:
            rejected.append(rejection(layer, source, sid, reasons.MALFORMED_RECORD, problem, fields))
            continue
        try:
            geom = location(get)
            row = build_row(
                layer, get, source=source, fallback_id=f"{path.stem}#{n}", defaults=defaults
            )
        except RowError as exc:
            rejected.append(
                rejection(layer, source, sid, exc.reason, exc.detail, dict(zip(header, fields)))
            )
            continue
        rows.append(row)
        geoms.append(geom)
    frame = frame_from_rows(layer, rows, geoms)
    return ReadResult(layer, frame, rejections(rejected), records_read=count)


def read_deployments_csv(path: Path, *, source: str, **options: Any) -> ReadResult:
    """`read_layer_csv` for deployments."""
    options.pop("layer", None)
    return read_layer_csv(path, source=source, layer="deployments", **options)


def read_infrastructure_csv(path: Path, *, source: str, **options: Any) -> ReadResult:
    """`read_layer_csv` for infrastructure."""
    options.pop("layer", None)
    return read_layer_csv(path, source=source, layer="infrastructure", **options)
