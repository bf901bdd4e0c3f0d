"""Partner deployments: unit positions coloured by nation, areas of responsibility as outlines."""

from __future__ import annotations

import geopandas as gpd
import pydeck as pdk
import shapely

from layers import style
from layers.map.base import polygon_rings, tooltips


def deployments(frame: gpd.GeoDataFrame) -> list[pdk.Layer]:
    if frame.empty:
        return []
    colours = style.nation_colours(frame["nation"].astype(str).tolist())
    tips = tooltips(frame, frame["unit_name"], [("Nation", "nation"), ("Type", "unit_type"), ("Echelon", "echelon"),
                                                ("Strength", "strength"), ("SIDC", "symbol_code"),
                                                ("Reported", "reported_at"), ("Marking", "marking")])
    nations = frame["nation"].astype(str).tolist()
    x, y = shapely.get_x(frame.geometry.values).tolist(), shapely.get_y(frame.geometry.values).tolist()
    units = [{"position": [round(a, 5), round(b, 5)], "color": colours[n], "tip": t, "label": n}
             for a, b, n, t in zip(x, y, nations, tips)]
    layers = []
    if "area" in frame and frame["area"].notna().any():
        polys, owner = polygon_rings(frame["area"].values, precision=4)
        areas = [{"polygon": p, "fill": colours[nations[i]][:3] + [style.AOR_ALPHA], "line": colours[nations[i]],
                  "tip": tips[i]} for p, i in zip(polys, owner)]
        layers.append(pdk.Layer("PolygonLayer", areas, id="deployment_areas", get_polygon="polygon",
                                get_fill_color="fill", get_line_color="line", line_width_min_pixels=2,
                                pickable=False))
    layers.append(pdk.Layer("ScatterplotLayer", units, id="deployments", get_position="position",
                            get_fill_color="color", get_line_color=[255, 255, 255, 255], stroked=True,
                            line_width_min_pixels=2, get_radius=1200, radius_min_pixels=7, radius_max_pixels=16,
                            pickable=True))
    layers.append(pdk.Layer("TextLayer", units, id="deployment_labels", get_position="position", get_text="label",
                            get_size=12, get_color=[255, 255, 255, 230], get_pixel_offset=[0, 16]))
    return layers
