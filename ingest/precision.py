"""The grid every stored geometry lies on, so what goes out in text comes back in unchanged.

Exports in text (GeoJSON, CSV, KML) write 7 decimals of a degree (about 1 cm at the equator, finer
than any feed we ingest; RFC 7946 section 11.2). A geometry stored with 15 significant digits
would come back from such a file a few nanodegrees off, and re-ingesting an export into the store
it came from would count every record "updated". So the store keeps geometries on that grid
(`on_grid`, applied by `ingest.validate`) and writers print them exactly: a coordinate k / 10**7
printed with 7 decimals parses back to the same double, and snapping is idempotent.

Polygons are also given one ring orientation (exteriors counter-clockwise, holes clockwise, as RFC
7946 asks): Shapefile and KML readers hand rings back in their own orientation, and the same
polygon with its rings reversed is a different record to a content hash.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

# 7 decimal places of a degree: the grid of the store and of every text export.
COORD_DIGITS = 7


def on_grid(values: Any, digits: int = COORD_DIGITS) -> np.ndarray:
    """Coordinates on the 10**-digits grid, valid geometries kept valid, polygon rings oriented.

    Rounding each coordinate alone can fold a border's narrow inlet onto itself (Sweden's polygon
    becomes self-intersecting at 7 decimals), so lines and polygons are snapped by GEOS
    (`set_precision`, which keeps them valid); points need only the rounding. The final rounding
    makes every value the double nearest its short decimal (lon/lat stay in that order: shapely is
    x, y). Missing geometries stay missing."""
    arr = np.asarray(values, dtype=object)
    if not len(arr):
        return arr
    coords, owner = shapely.get_coordinates(arr, include_z=True, return_index=True)
    off = np.zeros(len(arr), bool)  # only geometries off the grid are rebuilt: on-grid input (an
    np.logical_or.at(off, owner, (coords[:, :2] != np.round(coords[:, :2], digits)).any(axis=1))
    kinds = shapely.get_type_id(arr)  # export read back, coarser feeds) costs no new geometries
    if off.any():
        arr = arr.copy()
        shaped = off & (kinds > 0) & (kinds != 4)  # points and multipoints cannot become invalid
        if shaped.any():  # snapping on-grid rings again could re-node them elsewhere: only these
            arr[shaped] = _snapped(arr[shaped], 10.0 ** -digits)
        arr[off] = shapely.transform(arr[off], lambda c: np.round(c, digits), include_z=None)
    polygons = np.isin(kinds, (3, 6))
    if polygons.any():
        arr = arr.copy() if not off.any() else arr
        arr[polygons] = shapely.orient_polygons(arr[polygons], exterior_cw=False)
    return arr


def _snapped(geoms: np.ndarray, grid: float) -> np.ndarray:
    try:
        return shapely.set_precision(geoms, grid)
    except shapely.errors.GEOSException:  # an invalid input GEOS cannot snap: those alone rounded as they are
        out = geoms.copy()
        for i, g in enumerate(geoms):
            try:
                out[i] = shapely.set_precision(g, grid)
            except shapely.errors.GEOSException:
                out[i] = g
        return out
