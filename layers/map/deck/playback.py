"""Playback: tracks and incidents replayed through the time window.

Tracks become deck.gl TripsLayer data (a path plus a timestamp per vertex, in
seconds from the window start), so the browser draws each drone's trail up
to the cursor; incidents appear when they occur and fade over a few hours.
Vertices are thinned to a budget so a million-point day still plays.
"""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pydeck as pdk
import shapely

from layers import style
from layers.map.deck.base import tooltips

MAX_VERTICES = 100_000
INCIDENT_FADE_S = 6 * 3600


def trips(points: gpd.GeoDataFrame, start: datetime, *, max_vertices: int = MAX_VERTICES) -> list[dict]:
    """One trip per track: [[lon, lat], ...] and seconds since `start` for each vertex."""
    if points.empty:
        return []
    p = points.sort_values(["track_id", "time"], kind="stable")
    step = max(1, int(np.ceil(len(p) / max_vertices)))
    t = ((p["time"] - pd.Timestamp(start)).dt.total_seconds()).to_numpy()
    x = np.round(shapely.get_x(p.geometry.values), 5)
    y = np.round(shapely.get_y(p.geometry.values), 5)
    tid = p["track_id"].to_numpy(dtype=object)
    bounds = np.flatnonzero(np.r_[True, tid[1:] != tid[:-1], True])
    out = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        idx = np.r_[np.arange(a, b - 1, step), b - 1]  # keep every step-th fix and the last
        if len(idx) < 2:
            continue
        out.append({"track": str(tid[a]), "path": np.column_stack([x[idx], y[idx]]).tolist(),
                    "timestamps": np.round(t[idx], 1).tolist()})
    return out


def playback_layers(trip_data: list[dict], incidents: gpd.GeoDataFrame, start: datetime, cursor: datetime,
                    *, trail_s: float = 1800) -> list[pdk.Layer]:
    now_s = (pd.Timestamp(cursor) - pd.Timestamp(start)).total_seconds()
    layers = [pdk.Layer("TripsLayer", trip_data, id="playback_tracks", get_path="path",
                        get_timestamps="timestamps", get_color=style.TRACK_ACTIVE, opacity=0.9,
                        width_min_pixels=3, rounded=True, trail_length=trail_s, current_time=now_s)]
    if not incidents.empty:
        age = (pd.Timestamp(cursor) - incidents["occurred_at"]).dt.total_seconds()
        shown = incidents[(age >= 0) & (age <= INCIDENT_FADE_S)]
        if not shown.empty:
            fade = (1 - (age[shown.index] / INCIDENT_FADE_S)).clip(0.15, 1).to_numpy()
            pts = shapely.point_on_surface(shown.geometry.values)
            tips = tooltips(shown, shown["title"].fillna(shown["category"]),
                            [("Severity", "severity"), ("Time", "occurred_at"), ("Place", "location_name")])
            data = [{"position": [round(a, 5), round(b, 5)],
                     "color": style.SEVERITY.get(s, style.SEVERITY["low"])[:3] + [int(230 * f)],
                     "radius": style.SEVERITY_RADIUS_M.get(s, 600), "tip": tip}
                    for a, b, s, f, tip in zip(shapely.get_x(pts), shapely.get_y(pts),
                                               shown["severity"].astype(str), fade, tips)]
            layers.append(pdk.Layer("ScatterplotLayer", data, id="playback_incidents", get_position="position",
                                    get_fill_color="color", get_radius="radius", radius_min_pixels=4,
                                    radius_max_pixels=22, pickable=True))
    return layers
