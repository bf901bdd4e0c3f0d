"""Alerts on the map: a ring around where each open alert happened, coloured by severity."""

from __future__ import annotations

import geopandas as gpd
import pydeck as pdk
import shapely

from layers import style
from layers.map.deck.base import tooltips


def alerts(frame: gpd.GeoDataFrame) -> list[pdk.Layer]:
    if frame.empty:
        return []
    open_ = frame[frame["state"] == "open"] if "state" in frame else frame
    if open_.empty:
        return []
    pts = shapely.point_on_surface(open_.geometry.values)
    tips = tooltips(open_, "Alert: " + open_["rule"].astype(str).str.replace("_", " "),
                    [("Severity", "severity"), ("Time", "time"), ("", "message"), ("First seen", "first_seen")])
    data = [{"position": [round(x, 5), round(y, 5)], "color": style.SEVERITY.get(s, style.SEVERITY["high"]),
             "tip": t} for x, y, s, t in zip(shapely.get_x(pts), shapely.get_y(pts), open_["severity"].astype(str),
                                             tips)]
    return [pdk.Layer("ScatterplotLayer", data, id="alerts", get_position="position", filled=False, stroked=True,
                      get_line_color="color", line_width_min_pixels=3, get_radius=2500, radius_min_pixels=12,
                      radius_max_pixels=40, pickable=True)]
