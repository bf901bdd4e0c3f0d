"""TAK drawings (the `overlays` layer): shapes in the colours their authors gave them in TAK."""

from __future__ import annotations

import geopandas as gpd
import pydeck as pdk

from layers.map.deck.base import line_paths, polygon_rings, tooltips

# A drawing sent without a colour: TAK's default white line, a faint fill.
DEFAULT_LINE = [255, 255, 255, 255]
DEFAULT_FILL = [255, 255, 255, 40]


def rgba(color: object, default: list[int]) -> list[int]:
    """#RRGGBBAA (or #RRGGBB) as deck.gl [r, g, b, a]; `default` for anything else."""
    if not isinstance(color, str) or not color.startswith("#") or len(color) not in (7, 9):
        return default
    try:
        parts = [int(color[i:i + 2], 16) for i in range(1, len(color), 2)]
    except ValueError:
        return default
    return parts if len(parts) == 4 else [*parts, 255]


def overlays(frame: gpd.GeoDataFrame) -> list[pdk.Layer]:
    if frame.empty:
        return []
    kinds = frame.geometry.geom_type
    tips = tooltips(frame, "TAK " + frame["kind"].astype(str) + ": " + frame["label"].fillna("").astype(str),
                    [("Geofence", "geofence_trigger"), ("Sent by", "sender_uid"), ("Remarks", "remarks"),
                     ("Drawn", "drawn_at"), ("Marking", "marking")])
    layers: list[pdk.Layer] = []
    areas = frame[kinds.isin(["Polygon", "MultiPolygon"]).to_numpy()]
    if len(areas):
        polys, owner = polygon_rings(areas.geometry.values, precision=6)
        rows = [frame.index.get_loc(i) for i in areas.index]
        data = [{"polygon": p, "tip": tips[rows[i]], "line": rgba(areas["stroke_color"].iloc[i], DEFAULT_LINE),
                 "fill": rgba(areas["fill_color"].iloc[i], DEFAULT_FILL)} for p, i in zip(polys, owner, strict=True)]
        layers.append(pdk.Layer("PolygonLayer", data, id="overlays", get_polygon="polygon", filled=True, stroked=True,
                                get_fill_color="fill", get_line_color="line", line_width_min_pixels=2, pickable=True))
    lines = frame[kinds.isin(["LineString", "MultiLineString"]).to_numpy()]
    if len(lines):
        rows = [frame.index.get_loc(i) for i in lines.index]
        data = [{"path": p, "tip": tips[rows[i]], "color": rgba(lines["stroke_color"].iloc[i], DEFAULT_LINE)}
                for i, p in enumerate(line_paths(lines.geometry.values, precision=6)) if p]
        layers.append(pdk.Layer("PathLayer", data, id="overlay_lines", get_path="path", get_color="color",
                                width_min_pixels=2, get_width=3, pickable=True))
    return layers
