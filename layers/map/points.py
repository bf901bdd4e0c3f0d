"""Point layers: infrastructure, populated places, incidents."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pydeck as pdk
import shapely

from layers import style
from layers.map.base import tooltips


def _xy(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    pts = shapely.point_on_surface(frame.geometry.values)
    return np.round(shapely.get_x(pts), 5), np.round(shapely.get_y(pts), 5)


def infrastructure(frame: gpd.GeoDataFrame) -> list[pdk.Layer]:
    if frame.empty:
        return []
    x, y = _xy(frame)
    tips = tooltips(frame, frame["name"], [("Kind", "kind"), ("Type", "subkind"), ("Code", "code"),
                                           ("Capacity", "capacity"), ("Source", "source"), ("Marking", "marking")])
    kinds = frame["kind"].astype(str).tolist()
    data = [{"position": [a, b], "color": style.INFRASTRUCTURE.get(k, style.INFRASTRUCTURE_DEFAULT), "tip": t}
            for a, b, k, t in zip(x.tolist(), y.tolist(), kinds, tips)]
    return [pdk.Layer("ScatterplotLayer", data, id="infrastructure", get_position="position", get_fill_color="color",
                      get_line_color=[10, 15, 25, 255], stroked=True, line_width_min_pixels=1, get_radius=700,
                      radius_min_pixels=4, radius_max_pixels=14, pickable=True)]


# Populated places are orientation, not information: dots for towns, names
# only for cities, so labels never bury the operational layers.
PLACE_DOT_POPULATION = 20_000
PLACE_LABEL_POPULATION = 100_000


def places(frame: gpd.GeoDataFrame) -> list[pdk.Layer]:
    if frame.empty:
        return []
    pop = frame["population"].fillna(0)
    frame = frame[pop >= PLACE_DOT_POPULATION]
    if frame.empty:
        return []
    x, y = _xy(frame)
    names = frame["name"].astype(str).tolist()
    big = (frame["population"] >= PLACE_LABEL_POPULATION).tolist()
    tips = tooltips(frame, frame["name"], [("Population", "population")])
    data = [{"position": [a, b], "name": n, "tip": t} for a, b, n, t in zip(x.tolist(), y.tolist(), names, tips)]
    labels = [d for d, b in zip(data, big) if b]
    return [
        pdk.Layer("ScatterplotLayer", data, id="places", get_position="position", get_fill_color=style.PLACE,
                  get_radius=300, radius_min_pixels=2, radius_max_pixels=4, pickable=True),
        pdk.Layer("TextLayer", labels, id="place_names", get_position="position", get_text="name", get_size=14,
                  get_color=[215, 222, 235, 220], get_pixel_offset=[0, -12], character_set='"auto"',
                  # pydeck reads bare strings as expressions; quoted ones are literals.
                  font_family='"Source Sans Pro, Noto Sans, DejaVu Sans, sans-serif"', outline_width=2,
                  outline_color=[11, 18, 32, 255], font_settings={"sdf": True}),
    ]


def incidents(frame: gpd.GeoDataFrame) -> list[pdk.Layer]:
    if frame.empty:
        return []
    x, y = _xy(frame)
    title = frame["title"].fillna(frame["category"]).astype(str)
    tips = tooltips(frame, title, [("Category", "category"), ("Type", "subcategory"), ("Severity", "severity"),
                                   ("Status", "status"), ("Time", "occurred_at"), ("Place", "location_name"),
                                   ("Fatalities", "fatalities"), ("Actors", "actors"), ("Notes", "description"),
                                   ("Source", "source"), ("Marking", "marking")])
    sev = frame["severity"].astype(str).tolist()
    data = [{"position": [a, b], "color": style.SEVERITY.get(s, style.SEVERITY["low"]),
             "radius": style.SEVERITY_RADIUS_M.get(s, 600), "tip": t}
            for a, b, s, t in zip(x.tolist(), y.tolist(), sev, tips)]
    return [pdk.Layer("ScatterplotLayer", data, id="incidents", get_position="position", get_fill_color="color",
                      get_radius="radius", radius_min_pixels=4, radius_max_pixels=22, stroked=True,
                      get_line_color=[0, 0, 0, 200], line_width_min_pixels=1, pickable=True)]
