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


def default_zone_marking(viewer) -> str:
    """What a drawn zone is marked with unless its author says otherwise: releasable to the
    author's own nation only, at the lowest level. Widening it is a deliberate act."""
    return f"UNCLASSIFIED//REL TO {viewer.nation}"


def zone_marking_error(marking: object, viewer) -> str | None:
    """Why ``marking`` cannot mark a zone drawn by ``viewer`` (None if it can): it must be
    readable, and one the author may see, so nobody creates a record hidden from themselves."""
    from ingest.markings import parse_marking
    from layers.access import may_see

    parsed = parse_marking(marking)
    if parsed is None:
        return (f"marking: expected e.g. 'UNCLASSIFIED//REL TO {viewer.nation}' or 'RESTRICTED//REL TO NATO', "
                f"found {str(marking)[:80]!r}")
    if not may_see(parsed, viewer):
        return f"marking {str(marking)[:80]!r} would hide the zone from you ({viewer.nation}, {viewer.clearance})"
    return None
