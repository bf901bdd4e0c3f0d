"""Imagery footprints, outlined by cloud cover."""

from __future__ import annotations

import geopandas as gpd
import pydeck as pdk

from layers import style
from layers.map.deck.base import polygon_rings, tooltips

CLOUDY_PERCENT = 30


def imagery(frame: gpd.GeoDataFrame) -> list[pdk.Layer]:
    if frame.empty:
        return []
    tips = tooltips(frame, frame["platform"].fillna(frame["collection"]).fillna("scene"),
                    [("Scene", "source_id"), ("Acquired", "acquired_at"), ("Cloud %", "cloud_cover"),
                     ("GSD m", "gsd"), ("Collection", "collection"), ("Source", "source"), ("Marking", "marking")])
    polys, owner = polygon_rings(frame.geometry.values, precision=4)
    cloud = frame["cloud_cover"].fillna(100).tolist()
    data = [{"polygon": p, "line": style.IMAGERY_CLOUDY if cloud[i] > CLOUDY_PERCENT else style.IMAGERY_CLEAR,
             "tip": tips[i]} for p, i in zip(polys, owner)]
    return [pdk.Layer("PolygonLayer", data, id="imagery", get_polygon="polygon", filled=True,
                      get_fill_color=[0, 0, 0, 0], get_line_color="line", line_width_min_pixels=1, pickable=True)]
