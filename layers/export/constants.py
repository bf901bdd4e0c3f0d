"""Every number and name the export writers agree on, in one place.

Kept apart from the writers so a reviewer can see at a glance what an export promises (precision,
chunk sizes, file naming, spreadsheet-safety rules) and so two formats cannot drift apart.
"""

from __future__ import annotations

# --- geometry ----------------------------------------------------------------------------------
# 7 decimal places of a degree (about 1 cm): the grid the store keeps geometries on
# (ingest/precision.py), so every text format prints them exactly.
from ingest.exchange import (  # noqa: F401  (names the reader of our exports looks for)
    FIELDS_FILE,
    FORMULA_GUARD,
    FORMULA_TRIGGERS,
    GPKG_PROVENANCE_TABLE,
    PRODUCT,
    PROVENANCE_FILE,
    PROVENANCE_KEY,
    PROVENANCE_SIDECAR_SUFFIX,
)
from ingest.precision import COORD_DIGITS  # noqa: F401

CRS_TEXT = "WGS 84 (EPSG:4326), in longitude, latitude order"

# --- streaming ---------------------------------------------------------------------------------

# Rows converted and written at a time. Big enough that per-chunk overhead is negligible, small
# enough that a million-row layer never needs a second full copy of itself in memory.
CHUNK_ROWS = 50_000
# Zip64 only when an entry could need it (see frames.needs_zip64): estimated bytes per row and
# per coordinate of text output (KML is the most verbose), and the threshold, well under 2 GiB.
ZIP_BYTES_PER_ROW = 4_000
ZIP_BYTES_PER_COORD = 60
ZIP64_THRESHOLD = 1 << 30

# --- provenance and naming ---------------------------------------------------------------------

FILENAME_TIME_FORMAT = "%Y%m%dT%H%MZ"
# Layer part of a file name: joined with "-" while short, else "picture-<n>layers".
MAX_LAYER_PART = 60
# Marking part: the whole name (watchfloor_<layers <= 60>_<time>_<marking>.geojson.zip) must stay
# under the 255 bytes file systems allow: 99 characters of other parts leave 156; 150 for margin.
# NATO's 32 nations spelled out fit (147).
MAX_MARKING_PART = 150
STAGING_PREFIX = ".watchfloor-export-"
MAX_SOURCES_LISTED = 50

# Columns that identify a record, per layer kind: the schema's key, or the alert key.
ID_COLUMNS: dict[str, tuple[str, ...]] = {"alerts": ("key",)}
DEFAULT_ID_COLUMNS: tuple[str, ...] = ("source", "source_id")

# The time a feature is placed at (KML TimeStamp), per layer. Tracks use gx:Track instead.
TIME_COLUMN: dict[str, str] = {
    "incidents": "occurred_at",
    "imagery": "acquired_at",
    "deployments": "reported_at",
    "alerts": "time",
    "track_points": "time",
}

# --- CSV ---------------------------------------------------------------------------------------

CSV_GEOMETRY_MODES = ("wkt", "lonlat")
# UTF-8 with a byte order mark: Excel reads UTF-8 CSV correctly only with it; GDAL, pandas and
# LibreOffice skip it.
CSV_ENCODING = "utf-8-sig"

# --- Shapefile ---------------------------------------------------------------------------------

SHP_MAX_FIELD = 10  # dBASE III field names
SHP_MAX_TEXT = 254  # dBASE character fields; longer text is cut (noted in FIELDS.txt)
# Readable short names for the schema's long column names (ingest/schema.py). Anything not listed
# is cut to SHP_MAX_FIELD characters; collisions get a _1, _2 ... suffix in column order.
SHP_ABBREVIATIONS: dict[str, str] = {
    "ingested_at": "ingested",
    "geometry_fix": "geom_fix",
    "acquired_at": "acquired",
    "constellation": "constellat",
    "cloud_cover": "cloud_cov",
    "altitude_m": "alt_m",
    "heading_deg": "heading",
    "platform_type": "plat_type",
    "point_count": "pt_count",
    "last_altitude_m": "last_alt_m",
    "last_speed_mps": "last_spd",
    "last_heading_deg": "last_hdg",
    "occurred_at": "occurred",
    "subcategory": "subcat",
    "description": "descr",
    "location_name": "location",
    "updated_at": "updated",
    "symbol_code": "sidc",
    "reported_at": "reported",
    "country_code": "country",
    "acknowledged_by": "ack_by",
    "acknowledged_at": "ack_at",
}
# One shapefile per layer and geometry family: <layer>_<family>.shp
SHP_FAMILIES: dict[str, str] = {
    "Point": "point",
    "MultiPoint": "multipoint",
    "LineString": "line",
    "MultiLineString": "line",
    "LinearRing": "line",
    "Polygon": "polygon",
    "MultiPolygon": "polygon",
}

# --- KML ---------------------------------------------------------------------------------------

KML_NS = "http://www.opengis.net/kml/2.2"
GX_NS = "http://www.google.com/kml/ext/2.2"
# Folder holding each track's path as a plain LineString, beside the gx:Track folder: readers
# without gx:Track support (GDAL's KML driver, older tools) still get the tracks.
KML_TRACK_PATH_FOLDER = "tracks_path"
KML_LINE_WIDTH = 3
KML_ICON_SCALE = 1.0

# --- snapshots ---------------------------------------------------------------------------------

# Marking banner colours (common practice for classification banners), by classification word.
BANNER_COLOURS: dict[str, tuple[str, str]] = {  # (background, text)
    "UNCLASSIFIED": ("#007a33", "#ffffff"),
    "RESTRICTED": ("#c8102e", "#ffffff"),
    "CONFIDENTIAL": ("#0033a0", "#ffffff"),
    "SECRET": ("#c8102e", "#ffffff"),
    "TOP SECRET": ("#ff8c00", "#000000"),
}
BANNER_DEFAULT = ("#ffd100", "#000000")  # unmarked: loud yellow
PNG_SIZE_INCHES = (16.0, 10.0)
PNG_DPI = 120
SNAPSHOT_MAX_FEATURES = 5_000  # per layer on the HTML map (Leaflet slows past a few thousand)
# Where the HTML snapshot's map first asks for vendored assets; every such reference is then
# replaced by the file's content, so this path never appears in the output.
HTML_ASSET_SENTINEL = "/watchfloor-inline-vendor"
