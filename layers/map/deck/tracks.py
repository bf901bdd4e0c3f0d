"""Drone tracks: paths with their latest position and heading, fading with age; stale tracks greyed."""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pydeck as pdk
import shapely

from layers import style
from pyproj import Geod

from layers.map.deck.base import line_paths, tooltips

HEADING_VECTOR_M = 2_000
_GEOD = Geod(ellps="WGS84")


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
    # Active tracks fade from full colour (just seen) to half at their stale time.
    age = (pd.Timestamp(now) - frame["last_seen"]).dt.total_seconds().to_numpy()
    span = (frame["stale_at"] - frame["last_seen"]).dt.total_seconds().fillna(300).clip(lower=1).to_numpy()
    alpha = np.clip(255 - 128 * age / span, 127, 255).astype(int)
    colour = [style.TRACK_STALE if s else style.TRACK_ACTIVE[:3] + [int(a)] for s, a in zip(stale, alpha)]
    data = [{"path": p, "color": c, "tip": t} for p, c, t in zip(paths, colour, tips)]
    x, y = frame["last_lon"].to_numpy(float), frame["last_lat"].to_numpy(float)
    heads = [{"position": [round(a, 5), round(b, 5)], "color": c, "tip": t}
             for a, b, c, t in zip(x, y, colour, tips)]
    # Heading: a short vector ahead of the last fix, ~2 km on the ground, from the geodesic course.
    heading = frame["last_heading_deg"].to_numpy(float)
    ok = ~np.isnan(heading) & ~np.isnan(x)
    if ok.any():
        ex, ey, _ = _GEOD.fwd(x[ok], y[ok], heading[ok], np.full(ok.sum(), HEADING_VECTOR_M))
        vectors = [{"path": [[round(a, 5), round(b, 5)], [round(c, 5), round(d, 5)]], "color": col}
                   for a, b, c, d, col in zip(x[ok], y[ok], ex, ey, [colour[i] for i in np.flatnonzero(ok)])]
    else:
        vectors = []
    return [
        pdk.Layer("PathLayer", data, id="tracks", get_path="path", get_color="color", width_min_pixels=2,
                  get_width=3, pickable=True),
        pdk.Layer("PathLayer", vectors, id="track_heading", get_path="path", get_color="color", width_min_pixels=3,
                  get_width=4, cap_rounded=True, pickable=False),
        pdk.Layer("ScatterplotLayer", heads, id="track_heads", get_position="position", get_fill_color="color",
                  get_line_color=[0, 0, 0, 255], stroked=True, get_radius=500, radius_min_pixels=5,
                  radius_max_pixels=10, pickable=True),
    ]
