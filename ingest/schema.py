"""The canonical layer schema: the one place that says what each layer holds.

Every adapter returns frames that `conform` to a `LayerSpec`; the store keeps
exactly these columns; the dashboard, analysis and exports read them. Keeping
the contract in one module means a new feed cannot invent a column name that
half the product does not know about.

Conventions, for every layer:
- geometry in EPSG:4326, lon/lat order;
- every timestamp tz-aware UTC (``datetime64[us, UTC]``), never naive;
- the provenance columns in `COMMON` (source, source_id, ingested_at, marking);
- the record key is (layer, source, source_id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from ingest.errors import UnknownLayerError

CRS = "EPSG:4326"
# The earliest time a record can plausibly carry. A GPS fix cannot predate the GPS epoch; a logger
# with no clock writes 1901-12-13 (the smallest 32-bit Unix time) or 1970-01-01 instead. Other
# records may be historical, so only the obviously broken are refused.
GPS_EPOCH = pd.Timestamp("1980-01-06T00:00:00Z")
EARLIEST_TIME: dict[str, pd.Timestamp] = {"track_points": GPS_EPOCH, "tracks": GPS_EPOCH}
DEFAULT_EARLIEST_TIME = pd.Timestamp("1900-01-01T00:00:00Z")
TIME_DTYPE = "datetime64[us, UTC]"

Kind = Literal["str", "float", "int", "bool", "time", "geometry"]

# pandas dtypes for each column kind. Nullable ints and bools, so a missing
# value stays missing instead of becoming 0 or False.
PANDAS_DTYPES: dict[str, str] = {
    "str": "string",
    "float": "float64",
    "int": "Int64",
    "bool": "boolean",
    "time": TIME_DTYPE,
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    doc: str = ""
    # For str columns with a closed vocabulary; values outside are quarantined.
    allowed: tuple[str, ...] | None = None


@dataclass(frozen=True)
class LayerSpec:
    name: str
    title: str
    geometry_types: tuple[str, ...]
    columns: tuple[Column, ...]
    # Column that places a record in time (for time-window queries); None for
    # reference layers that are timeless.
    time_column: str | None = None
    # Optional end of a record's time span (tracks last_seen): a record is in a
    # window when [time_column, end_column] overlaps it.
    end_column: str | None = None
    # Which column decides that one version of a record is newer than another.
    version_column: str = "ingested_at"
    doc: str = ""
    reference: bool = False

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return COMMON + self.columns + (GEOMETRY_FIX,)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.all_columns] + ["geometry"]

    def column(self, name: str) -> Column:
        for c in self.all_columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def required(self) -> list[Column]:
        return [c for c in self.all_columns if c.required]

    @property
    def time_columns(self) -> list[str]:
        return [c.name for c in self.all_columns if c.kind == "time"]

    @property
    def extra_geometry_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.kind == "geometry"]


COMMON: tuple[Column, ...] = (
    Column("source", "str", True, "Feed or file family the record came from, e.g. 'demo-cot'."),
    Column("source_id", "str", True, "The record's id within its source; with layer and source, the key."),
    Column("ingested_at", "time", True, "When watchfloor stored this version of the record."),
    Column(
        "marking",
        "str",
        False,
        "Releasability marking, e.g. 'UNCLASSIFIED//REL TO USA, GBR, FRA'. The source's "
        "default marking is applied at ingest when a record carries none. A record left "
        "without one is stored but shown to nobody but administrators (deny by default).",
    ),
)

# Set when validation had to repair a geometry: the method used. Null otherwise.
GEOMETRY_FIX = Column("geometry_fix", "str", False, "How an invalid geometry was repaired, if it was.")

SEVERITIES = ("low", "medium", "high", "critical")
INCIDENT_STATUSES = ("reported", "verified", "closed")
INFRASTRUCTURE_KINDS = (
    "airport",
    "heliport",
    "port",
    "power_plant",
    "hospital",
    "dam",
    "bridge",
    "border_crossing",
    "communications",
    "fuel",
    "water",
    "government",
    "restricted_zone",
    "other",
)
ECHELONS = (
    "team",
    "squad",
    "section",
    "platoon",
    "company",
    "battalion",
    "regiment",
    "brigade",
    "division",
    "corps",
    "army",
    "",
)

POLYGONAL = ("Polygon", "MultiPolygon")
# What a TAK drawing (CoT `u-d-*`, `b-m-r`, `u-rb-a`) was drawn as; its geometry is a Polygon for the
# closed shapes and a LineString for routes and range-and-bearing lines.
OVERLAY_KINDS = ("circle", "ellipse", "rectangle", "freeform", "polygon", "route", "range_bearing")

LAYERS: dict[str, LayerSpec] = {
    spec.name: spec
    for spec in (
        LayerSpec(
            "imagery",
            "Imagery footprints",
            POLYGONAL,
            (
                Column("acquired_at", "time", True, "Acquisition time (STAC datetime)."),
                Column("collection", "str", False, "STAC collection or product family."),
                Column("platform", "str", False, "Satellite, e.g. 'sentinel-2a'."),
                Column("constellation", "str", False),
                Column("cloud_cover", "float", False, "Percent 0-100 (eo:cloud_cover)."),
                Column("gsd", "float", False, "Ground sample distance in metres."),
                Column("thumbnail", "str", False, "Link to a thumbnail, as the catalogue gives it."),
                Column("native_crs", "str", False, "CRS of the image itself (footprints are 4326)."),
                Column("quicklook", "str", False, "Path of a local quicklook PNG, if made."),
            ),
            time_column="acquired_at",
            doc="One row per scene: the footprint of its valid data.",
        ),
        LayerSpec(
            "track_points",
            "Track points",
            ("Point",),
            (
                Column("track_id", "str", True, "Id shared by all points of one drone or platform."),
                Column("time", "time", True, "Time of the fix."),
                Column("altitude_m", "float", False, "Height above ellipsoid (CoT hae) or as reported."),
                Column("speed_mps", "float", False),
                Column("heading_deg", "float", False, "Course over ground, degrees from true north."),
                Column("callsign", "str", False),
                Column("platform_type", "str", False, "e.g. CoT type 'a-f-A-M-F-Q' or 'uav'."),
                Column("stale_at", "time", False, "CoT stale time: after it the fix is stale."),
            ),
            time_column="time",
            version_column="time",
            doc="Raw fixes as received.",
        ),
        LayerSpec(
            "tracks",
            "Tracks",
            ("LineString", "Point"),
            (
                Column("track_id", "str", True),
                Column("first_seen", "time", True),
                Column("last_seen", "time", True),
                Column("point_count", "int", True),
                Column("last_lon", "float", True),
                Column("last_lat", "float", True),
                Column("last_altitude_m", "float", False),
                Column("last_speed_mps", "float", False),
                Column("last_heading_deg", "float", False),
                Column("callsign", "str", False),
                Column("platform_type", "str", False),
                Column("stale_at", "time", False),
            ),
            time_column="first_seen",
            end_column="last_seen",
            version_column="last_seen",
            doc="Derived: one row per track, its path as a line (a point if it has one fix).",
        ),
        LayerSpec(
            "incidents",
            "Incidents",
            ("Point",),
            (
                Column("occurred_at", "time", True),
                Column("category", "str", True, "e.g. 'armed clash', 'protest', 'explosion', 'flood'."),
                Column("subcategory", "str", False),
                Column("severity", "str", True, allowed=SEVERITIES),
                Column("status", "str", True, allowed=INCIDENT_STATUSES),
                Column("title", "str", False),
                Column("description", "str", False, "Free text from the report: untrusted."),
                Column("actors", "str", False),
                Column("location_name", "str", False),
                Column("fatalities", "int", False),
                Column("updated_at", "time", False, "Time of the latest report about the incident."),
            ),
            time_column="occurred_at",
            version_column="updated_at",
        ),
        LayerSpec(
            "deployments",
            "Partner deployments",
            ("Point",),
            (
                Column("nation", "str", True, "ISO 3166-1 alpha-3 code of the contributing nation."),
                Column("unit_name", "str", True),
                Column("unit_type", "str", False, "e.g. 'infantry', 'military police', 'engineer', 'medical'."),
                Column("echelon", "str", False, allowed=ECHELONS),
                Column("strength", "int", False, "Personnel."),
                Column("symbol_code", "str", False, "APP-6 / MIL-STD-2525 SIDC, if known."),
                Column("reported_at", "time", True),
                Column("stale_at", "time", False),
                Column("area", "geometry", False, "Area of responsibility (Polygon/MultiPolygon)."),
            ),
            time_column="reported_at",
            version_column="reported_at",
            doc="Geometry is the unit's position; `area` its area of responsibility.",
        ),
        LayerSpec(
            "overlays",
            "TAK drawings",
            ("Polygon", "LineString"),
            (
                Column("drawn_at", "time", True, "CoT event time of this version of the drawing."),
                Column("kind", "str", True, "What was drawn.", allowed=OVERLAY_KINDS),
                Column("label", "str", False, "The drawing's name (CoT contact callsign)."),
                Column("cot_type", "str", False, "CoT type as received, e.g. 'u-d-c-c'."),
                Column("sender_uid", "str", False, "uid of the TAK device that drew it (CoT creator or p-p link)."),
                Column("stroke_color", "str", False, "Line colour as #RRGGBBAA (from CoT strokeColor ARGB)."),
                Column("fill_color", "str", False, "Fill colour as #RRGGBBAA (from CoT fillColor ARGB)."),
                Column("geofence", "bool", False, "True when TAK marked the drawing as a geofence (__geofence)."),
                Column("geofence_trigger", "str", False, "TAK geofence trigger, e.g. 'Entry', 'Exit', 'Both'."),
                Column("geofence_monitor", "str", False, "Who TAK's geofence monitors, e.g. 'All', 'TAK Users'."),
                Column("remarks", "str", False, "Free text from the drawing: untrusted."),
                Column("stale_at", "time", False, "CoT stale time."),
            ),
            time_column="drawn_at",
            version_column="drawn_at",
            doc="Shapes drawn in ATAK/WinTAK and sent as CoT; source_id is the drawing's CoT uid, "
            "so a redrawn shape replaces its earlier version.",
        ),
        LayerSpec(
            "borders",
            "Borders",
            POLYGONAL,
            (
                Column("country_code", "str", True, "ISO 3166-1 alpha-3, or Natural Earth's code."),
                Column("name", "str", True),
            ),
            reference=True,
        ),
        LayerSpec(
            "disputed_areas",
            "Disputed areas",
            POLYGONAL,
            (
                Column("name", "str", True),
                Column("claimants", "str", False, "Comma-separated ISO alpha-3 codes."),
                Column("note", "str", False),
            ),
            reference=True,
        ),
        LayerSpec(
            "infrastructure",
            "Critical infrastructure",
            ("Point", "Polygon", "MultiPolygon"),
            (
                Column("kind", "str", True, allowed=INFRASTRUCTURE_KINDS),
                Column("name", "str", True),
                Column("subkind", "str", False, "e.g. airport size, fuel of a power plant."),
                Column("country_code", "str", False),
                Column("capacity", "float", False, "Kind-specific: MW for power plants."),
                Column("code", "str", False, "e.g. ICAO/IATA code."),
            ),
            reference=True,
        ),
        LayerSpec(
            "places",
            "Populated places",
            ("Point",),
            (
                Column("name", "str", True),
                Column("country_code", "str", False),
                Column("population", "int", False),
            ),
            reference=True,
        ),
    )
}


def spec(layer: str) -> LayerSpec:
    try:
        return LAYERS[layer]
    except KeyError:
        raise UnknownLayerError(layer, list(LAYERS)) from None


@dataclass
class Conformed:
    """Result of `validate`: rows that meet the schema, and those that do not."""

    valid: "pd.DataFrame"  # a GeoDataFrame in practice
    quarantined: pd.DataFrame
    repaired: int = 0
    notes: list[str] = field(default_factory=list)


QUARANTINE_COLUMNS = ["layer", "source", "source_id", "reason", "detail", "raw", "quarantined_at"]
