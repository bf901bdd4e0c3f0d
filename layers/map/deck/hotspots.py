"""Incident hot spots: H3 hexagons shaded by severity-weighted incident density."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pydeck as pdk

from layers.analysis.hotspots import hex_density
from layers.map.deck.base import polygon_rings, tooltips

RAMP = np.array([[255, 255, 178], [254, 204, 92], [253, 141, 60], [240, 59, 32], [189, 0, 38]])


def hotspots(incidents: gpd.GeoDataFrame, *, resolution: int = 6) -> list[pdk.Layer]:
    hexes = hex_density(incidents, resolution=resolution)
    if hexes.empty:
        return []
    score = hexes["score"].to_numpy(float)
    level = np.clip((score / max(score.max(), 1e-9) * (len(RAMP) - 1)).round().astype(int), 0, len(RAMP) - 1)
    tips = tooltips(hexes, "Hot spot", [("Incidents", "count"), ("Score", "score"), ("First", "first_time"),
                                        ("Last", "last_time")])
    polys, owner = polygon_rings(hexes.geometry.values, precision=4)
    data = [{"polygon": p, "fill": RAMP[level[i]].tolist() + [110], "tip": tips[i]} for p, i in zip(polys, owner)]
    return [pdk.Layer("PolygonLayer", data, id="hotspots", get_polygon="polygon", get_fill_color="fill",
                      stroked=True, get_line_color=[255, 255, 255, 60], line_width_min_pixels=1, pickable=True)]
