"""Drone tracks: paths with their latest position; stale tracks greyed."""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pydeck as pdk
import shapely

from layers import style
from layers.map.base import line_paths, tooltips


def tracks(frame: gpd.GeoDataFrame, now: datetime, *, tolerance: float = 0.0) -> list[pdk.Layer]:
    """Paths simplified to `tolerance` degrees (about a pixel): a 1,000-fix track draws with tens of vertices."""
    if frame.empty:
        return []
    stale = (frame["stale_at"] < pd.Timestamp(now)).fillna(False).tolist()
    shown = frame.assign(state=["stale" if s else "active" for s in stale])
    tips = tooltips(shown, shown["callsign"].fillna(shown["track_id"]),
                    [("Track", "track_id"), ("State", "state"), ("Last seen", "last_seen"),
                     ("Speed m/s", "last_speed_mps"), ("Heading", "last_heading_deg"),
                     ("Altitude m", "last_altitude_m"), ("Fixes", "point_count"), ("Type", "platform_type"),
                     ("Source", "source"), ("Marking", "marking")])
    geoms = np.asarray(frame.geometry.values, dtype=object)  # plain array: shapely's fast path
    if tolerance > 0:
        geoms = shapely.simplify(geoms, tolerance)
    paths = line_paths(geoms)
    colour = [style.TRACK_STALE if s else style.TRACK_ACTIVE for s in stale]
    data = [{"path": p, "color": c, "tip": t} for p, c, t in zip(paths, colour, tips)]
    heads = [{"position": [round(a, 5), round(b, 5)], "angle": -(h if pd.notna(h) else 0), "color": c, "tip": t}
             for a, b, h, c, t in zip(frame["last_lon"], frame["last_lat"], frame["last_heading_deg"], colour, tips)]
    return [
        pdk.Layer("PathLayer", data, id="tracks", get_path="path", get_color="color", width_min_pixels=2,
                  get_width=3, pickable=True),
        pdk.Layer("ScatterplotLayer", heads, id="track_heads", get_position="position", get_fill_color="color",
                  get_line_color=[0, 0, 0, 255], stroked=True, get_radius=500, radius_min_pixels=5,
                  radius_max_pixels=10, pickable=True),
    ]
