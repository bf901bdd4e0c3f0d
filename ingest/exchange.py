"""The names our exports are recognised by, shared by the writers (`layers/export/`) and the
reader that takes them back in (`ingest/adapters/exported.py`).

They live on the lower floor so both sides name the same things: a writer renaming a file the
reader looks for would make our own exports foreign input again.
"""

from __future__ import annotations

PRODUCT = "watchfloor"
# The top-level GeoJSON foreign member, the GeoParquet key-value key, the GeoPackage metadata
# item and the KML ExtendedData prefix all use this one name.
PROVENANCE_KEY = "watchfloor"
PROVENANCE_FILE = "PROVENANCE.txt"
# Beside a plain CSV (`inc.csv` -> `inc.csv.provenance.txt`): a comment line above the header
# would be read as the header by GDAL, pandas and spreadsheets alike.
PROVENANCE_SIDECAR_SUFFIX = ".provenance.txt"
FIELDS_FILE = "FIELDS.txt"
# The second line of every PROVENANCE.txt: "watchfloor export (csv)".
EXPORT_LINE = f"{PRODUCT} export ("
# A GeoPackage's attribute table repeating the provenance for GIS tools that show no metadata.
GPKG_PROVENANCE_TABLE = "watchfloor_provenance"
# CSV: a text cell a spreadsheet would run as a formula gets this in front (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_GUARD = "'"

# KML/KMZ: the Document's ExtendedData carries `<Data name="watchfloor:provenance">` (how a KML is
# recognised as ours); each Folder holding a layer's records carries `<Data name="watchfloor:layer">`
# (and `watchfloor:column` for a second geometry, a unit's `area`) and points at the Document's
# `<Schema>` of that layer (`watchfloor:schema`: the columns, so empty ones come back too). Folders
# without `watchfloor:layer` (the tracks animated as gx:Track) are for viewers, not records.
KML_PROVENANCE_DATA = f"{PROVENANCE_KEY}:provenance"
KML_MARKING_DATA = f"{PROVENANCE_KEY}:marking"
KML_LAYER_DATA = f"{PROVENANCE_KEY}:layer"
KML_COLUMN_DATA = f"{PROVENANCE_KEY}:column"
KML_SCHEMA_DATA = f"{PROVENANCE_KEY}:schema"
# Shapefile zips: FIELDS.json maps every .shp back to its layer, its dBASE field names back to the
# columns and its geometries back to the types they had (a shapefile cannot tell a Polygon from a
# one-part MultiPolygon); FIELDS.txt says the same for people.
SHP_FIELDS_JSON = "FIELDS.json"
# A TAK data package of ours (layers/export/cot.py): each record's CoT event carries this detail
# element (layer, source, source_id, wkt attributes; the columns as JSON text) so that
# ingest/adapters/cot_drawings.py puts it back in its layer exactly.
COT_RECORD_DETAIL = "__watchfloor"
# The member every TAK data package (mission package) holds: ATAK's MissionPackageManifest.
TAK_MANIFEST = "MANIFEST/manifest.xml"
