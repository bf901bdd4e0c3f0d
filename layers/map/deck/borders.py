"""Borders and disputed areas: the offline basemap."""

from __future__ import annotations

import geopandas as gpd
import pydeck as pdk
import shapely

from layers import style
from layers.map.deck.base import polygon_rings, tooltips

# Degrees: ~1 km. Plenty for a wall-screen basemap, a fraction of the vertices.
SIMPLIFY_DEG = 0.01


def borders(frame: gpd.GeoDataFrame) -> list[pdk.Layer]:
    if frame.empty:
        return []
    geoms = shapely.simplify(frame.geometry.values, SIMPLIFY_DEG, preserve_topology=True)
    polys, owner = polygon_rings(geoms, precision=3)
    tips = tooltips(frame, frame["name"], [("Code", "country_code")])
    data = [{"polygon": p, "tip": tips[i]} for p, i in zip(polys, owner)]
    return [pdk.Layer("PolygonLayer", data, id="borders", get_polygon="polygon", filled=True, stroked=True,
                      get_fill_color=style.LAND, get_line_color=style.BORDER_LINE, line_width_min_pixels=1,
                      pickable=False)]


def disputed(frame: gpd.GeoDataFrame) -> list[pdk.Layer]:
    if frame.empty:
        return []
    geoms = shapely.simplify(frame.geometry.values, SIMPLIFY_DEG / 2, preserve_topology=True)
    polys, owner = polygon_rings(geoms, precision=4)
    tips = tooltips(frame, "Disputed area: " + frame["name"].astype(str),
                    [("Claimants", "claimants"), ("Note", "note"), ("Marking", "marking")])
    data = [{"polygon": p, "tip": tips[i]} for p, i in zip(polys, owner)]
    return [pdk.Layer("PolygonLayer", data, id="disputed_areas", get_polygon="polygon", filled=True,
                      stroked=True, get_fill_color=style.DISPUTED_FILL, get_line_color=style.DISPUTED_LINE,
                      line_width_min_pixels=2, pickable=True)]
