"""Restricted zones drawn by an analyst, stored as infrastructure records of kind `restricted_zone`.

Stored through the ingest path like any other record, so a zone is validated,
carries provenance and a marking, is shared by every dashboard process and is
picked up by the `restricted_zone_entry` alert rule (which reads restricted
zones from the infrastructure layer).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import geopandas as gpd
import shapely

from ingest.schema import CRS

ZONE_SOURCE = "analyst-zones"


def zone_frame(name: str, wkt: str, *, by: str, now: datetime) -> gpd.GeoDataFrame:
    """One infrastructure row for a drawn zone; the id is derived from the name and shape, so
    saving the same zone twice stores it once."""
    geom = shapely.from_wkt(wkt)
    zid = "zone-" + hashlib.sha1(f"{name.strip()}|{geom.wkt}".encode()).hexdigest()[:16]
    return gpd.GeoDataFrame({"source_id": [zid], "kind": ["restricted_zone"], "name": [name.strip()],
                             "subkind": [f"drawn by {by.strip()} {now:%Y-%m-%d %H:%M}Z"]},
                            geometry=[geom], crs=CRS)
