"""Point layers: infrastructure, populated places, incidents."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pydeck as pdk
import shapely

from layers import style
from layers.map.deck.base import tooltips
from layers.map.icons import (
    INFRASTRUCTURE_PX,
    infrastructure_atlas,
    infrastructure_icon,
    normalise_kind,
)


def _xy(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    pts = shapely.point_on_surface(frame.geometry.values)
    return np.round(shapely.get_x(pts), 5), np.round(shapely.get_y(pts), 5)


# deck.gl's collision filter (CollisionFilterExtension): where icons or labels of one group
# overlap on screen, only the highest-priority one is drawn; zooming in brings the others
# back. Recomputed by the browser on every zoom, so it works without a rerun.
COLLIDE = [{"@@type": "CollisionFilterExtension"}]
# Which infrastructure wins a collision: what a watch officer most needs to see at a glance.
KIND_PRIORITY = {"airport": 90, "power_plant": 80, "dam": 75, "port": 70, "border_crossing": 65,
                 "restricted_zone": 95, "hospital": 60, "bridge": 50, "heliport": 45, "communications": 40,
                 "fuel": 35, "water": 30, "government": 25, "other": 10}
# Infrastructure icons are sized on the ground, so they shrink to small discs at the regional zoom
# (context, not news) and grow to full size over a city.
INFRASTRUCTURE_SIZE_M = 9_000
INFRASTRUCTURE_MIN_PX = 9


def infrastructure_priority(frame: gpd.GeoDataFrame) -> np.ndarray:
    """Kind first, then size (a big plant or an airport with a code beats a small one); 0..~100."""
    kind = frame["kind"].astype(str).map(KIND_PRIORITY).fillna(10).to_numpy(float)
    capacity = pd.to_numeric(frame.get("capacity"), errors="coerce") if "capacity" in frame else None
    bonus = np.zeros(len(frame)) if capacity is None else \
        np.log10(capacity.fillna(0).clip(lower=0).to_numpy(float) + 1)
    if "code" in frame:
        bonus = bonus + frame["code"].notna().to_numpy(dtype=float)
    return np.round(kind + np.clip(bonus, 0, 4.9), 1)


def infrastructure(frame: gpd.GeoDataFrame) -> list[pdk.Layer]:
    """Infrastructure as icons by kind (Maki glyphs in the kind's colour), from one shared atlas.

    Each row names its icon; the atlas holds only the kinds present, so the
    JSON grows by a few bytes per point, not by an image per point. Overlapping
    icons are decluttered by priority (`infrastructure_priority`).
    """
    if frame.empty:
        return []
    x, y = _xy(frame)
    tips = tooltips(frame, frame["name"], [("Kind", "kind"), ("Type", "subkind"), ("Code", "code"),
                                           ("Capacity", "capacity"), ("Source", "source"), ("Marking", "marking")])
    kinds = [normalise_kind(k) for k in frame["kind"].astype(str).tolist()]
    icons = {k: infrastructure_icon(k).key for k in set(kinds)}
    atlas, mapping = infrastructure_atlas(tuple(sorted(icons)))
    priority = infrastructure_priority(frame)
    data = [{"position": [a, b], "icon": icons[k], "tip": t, "p": p}
            for a, b, k, t, p in zip(x.tolist(), y.tolist(), kinds, tips, priority.tolist())]
    # Quoted: pydeck would read a bare string as an expression (see places below).
    return [pdk.Layer("IconLayer", data, id="infrastructure", get_position="position", get_icon="icon",
                      icon_atlas=f'"{atlas}"', icon_mapping=mapping, get_size=INFRASTRUCTURE_SIZE_M,
                      size_units='"meters"', size_min_pixels=INFRASTRUCTURE_MIN_PX,
                      size_max_pixels=INFRASTRUCTURE_PX, pickable=True, extensions=COLLIDE,
                      collision_group='"infrastructure"', get_collision_priority="p",
                      collision_test_props={"sizeScale": 1.3})]


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
    pops = frame["population"].fillna(0).astype(float).tolist()
    data = [{"position": [a, b], "name": n, "tip": t, "p": min(1000.0, p / 1000.0)}
            for a, b, n, t, p in zip(x.tolist(), y.tolist(), names, tips, pops)]
    labels = [d for d, b in zip(data, big) if b]
    return [
        pdk.Layer("ScatterplotLayer", data, id="places", get_position="position", get_fill_color=style.PLACE,
                  get_radius=300, radius_min_pixels=2, radius_max_pixels=4, pickable=True),
        pdk.Layer("TextLayer", labels, id="place_names", get_position="position", get_text="name", get_size=14,
                  get_color=[215, 222, 235, 220], get_pixel_offset=[0, -12], character_set='"auto"',
                  # pydeck reads bare strings as expressions; quoted ones are literals.
                  font_family='"Source Sans Pro, Noto Sans, DejaVu Sans, sans-serif"', outline_width=2,
                  outline_color=[11, 18, 32, 255], font_settings={"sdf": True},
                  # the bigger city keeps its name where two would overlap
                  extensions=COLLIDE, collision_group='"place_names"', get_collision_priority="p"),
    ]


SEVERITY_RANK = {"critical": 3, "high": 2, "medium": 1, "low": 0}


def incidents(frame: gpd.GeoDataFrame, *, max_points: int = 5_000) -> list[pdk.Layer]:
    """Incidents by severity. Past `max_points`, the most severe and most recent are drawn as
    points with details, and all of them as a density layer, so the picture stays complete
    while the browser gets a bounded payload."""
    if frame.empty:
        return []
    layers: list[pdk.Layer] = []
    shown = frame
    if len(frame) > max_points:
        rank = frame["severity"].map(SEVERITY_RANK).fillna(0)
        order = frame.assign(_rank=rank).sort_values(["_rank", "occurred_at"], ascending=False, kind="stable")
        shown = order.head(max_points).drop(columns="_rank")
        x, y = _xy(frame)
        density = [[a, b] for a, b in zip(x.tolist(), y.tolist())]
        layers.append(pdk.Layer("HexagonLayer", density, id="incident_density", get_position="-",
                                radius=3000, coverage=0.9, extruded=False, opacity=0.35, pickable=False,
                                color_range=[[255, 255, 178], [254, 217, 118], [254, 178, 76], [253, 141, 60],
                                             [240, 59, 32], [189, 0, 38]]))
    x, y = _xy(shown)
    title = shown["title"].fillna(shown["category"]).astype(str)
    tips = tooltips(shown, title, [("Category", "category"), ("Type", "subcategory"), ("Severity", "severity"),
                                   ("Status", "status"), ("Time", "occurred_at"), ("Place", "location_name"),
                                   ("Fatalities", "fatalities"), ("Actors", "actors"), ("Notes", "description"),
                                   ("Source", "source"), ("Marking", "marking")])
    sev = shown["severity"].astype(str).tolist()
    # Sized by impact: the severity's radius, grown with the casualty count.
    impact = 1 + np.log1p(pd.to_numeric(shown["fatalities"], errors="coerce").fillna(0).clip(lower=0)
                          .to_numpy(float)) / 3
    data = [{"position": [a, b], "color": style.SEVERITY.get(s, style.SEVERITY["low"]),
             "radius": round(style.SEVERITY_RADIUS_M.get(s, 600) * k), "tip": t}
            for a, b, s, k, t in zip(x.tolist(), y.tolist(), sev, impact.tolist(), tips)]
    layers.append(pdk.Layer("ScatterplotLayer", data, id="incidents", get_position="position",
                            get_fill_color="color", get_radius="radius", radius_min_pixels=4, radius_max_pixels=22,
                            stroked=True, get_line_color=[0, 0, 0, 200], line_width_min_pixels=1, pickable=True))
    return layers
