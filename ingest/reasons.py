"""Quarantine reasons: one code per way a record can be unusable.

Codes are short and stable (they are counted on the Data health page and in
ingest summaries); the record's `detail` says the specifics.
"""

from __future__ import annotations

# geometry
MISSING_GEOMETRY = "missing_geometry"
EMPTY_GEOMETRY = "empty_geometry"
NAN_COORDINATES = "nan_coordinates"
COORDINATES_OUT_OF_RANGE = "coordinates_out_of_range"
SWAPPED_LAT_LON = "swapped_lat_lon"
INVALID_GEOMETRY = "invalid_geometry"  # could not be repaired
WRONG_GEOMETRY_TYPE = "wrong_geometry_type"
MISSING_CRS = "missing_crs"
UNKNOWN_CRS = "unknown_crs"
BAD_COORDINATE_TEXT = "bad_coordinate_text"  # unparseable DMS / MGRS / number
# time
MISSING_TIME = "missing_time"
UNPARSEABLE_TIME = "unparseable_time"
NAIVE_TIME = "naive_time"
IMPLAUSIBLE_TIME = "implausible_time"  # before the layer's earliest plausible time (a clock never set)
DUPLICATE_TIME = "duplicate_time"  # a second fix of one track at the same time, somewhere else
# attributes
MISSING_VALUE = "missing_value"  # a required non-time column is empty
MISSING_SOURCE_ID = "missing_source_id"
BAD_VALUE = "bad_value"  # outside a closed vocabulary, or not a number
# whole-record parse failures (adapters)
MALFORMED_RECORD = "malformed_record"
UNSUPPORTED_TYPE = "unsupported_type"  # a CoT event neither a position report nor a drawing (chat, marker)
HOSTILE_INPUT = "hostile_input"  # refused as an attack: XML entities, oversized or traversing archives

ALL = tuple(v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str))
