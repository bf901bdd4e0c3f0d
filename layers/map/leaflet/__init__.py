"""The analyst's Leaflet (folium) map: offline, with drawing and measuring, as pure functions.

- `basemap`: `build_analyst_map` (the map, the borders basemap, controls), `view_for_bounds`, `thin`;
- `overlays`: each operational layer as a GeoJSON FeatureGroup;
- `draw`: the drawing and measuring tools, and `aoi_from_drawing` (the area of interest drawn);
- `assets`: the vendored, same-origin scripts and styles, `check_offline`, local tiles only.
"""

from __future__ import annotations

from layers.map.leaflet.assets import (
    LEAFLET,
    LEAFLET_DRAW,
    LEAFLET_MEASURE,
    VENDOR_BASE,
    RemoteAssetError,
    check_offline,
    check_tile_url,
    tile_settings,
    vendor_assets,
)
from layers.map.leaflet.basemap import (
    DEFAULT_MAX_FEATURES,
    RETURNED_OBJECTS,
    build_analyst_map,
    omitted_note,
    thin,
    view_for_bounds,
)
from layers.map.leaflet.draw import (
    InvalidAOI,
    aoi_area_km2,
    aoi_from_drawing,
    circle_polygon,
    drawing_summary,
)

__all__ = [
    "DEFAULT_MAX_FEATURES",
    "LEAFLET",
    "LEAFLET_DRAW",
    "LEAFLET_MEASURE",
    "RETURNED_OBJECTS",
    "VENDOR_BASE",
    "InvalidAOI",
    "RemoteAssetError",
    "aoi_area_km2",
    "aoi_from_drawing",
    "build_analyst_map",
    "check_offline",
    "check_tile_url",
    "circle_polygon",
    "drawing_summary",
    "omitted_note",
    "thin",
    "tile_settings",
    "vendor_assets",
    "view_for_bounds",
]
