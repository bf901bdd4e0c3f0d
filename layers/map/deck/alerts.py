"""Alerts on the map: one ring where something needs a person, coloured by severity.

Rings are drawn for triaged cards that need action (layers/triage.py), not for every open
alert: three hundred rings bury the picture, and information (an incident with no clear
imagery yet) belongs in the lists. A grouped card ("7 incidents near Berane Airport") is
ringed at what its alerts share (the airport), with the count in the ring.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import pydeck as pdk

from layers import style
from layers.map.deck.base import escape
from layers.triage import RuleTriage, triage


def alerts(frame: gpd.GeoDataFrame, settings: Mapping[str, RuleTriage]) -> list[pdk.Layer]:
    if frame.empty:
        return []
    cards = triage(frame, settings)
    cards = cards[cards["needs_action"].astype(bool)] if not cards.empty else cards
    if cards.empty:
        return []
    data = [{"position": [round(c.lon, 5), round(c.lat, 5)],
             "color": style.SEVERITY.get(c.severity, style.SEVERITY["high"]),
             "count": str(c.count) if c.count > 1 else "",
             "tip": f"<b>{escape(c.title)}</b><br/>Severity: {escape(c.severity)}"
                    + (f"<br/>{escape(c.detail)}" if c.detail else "")}
            for c in cards.itertuples()]
    return [pdk.Layer("ScatterplotLayer", data, id="alerts", get_position="position", filled=False, stroked=True,
                      get_line_color="color", line_width_min_pixels=3, get_radius=2500, radius_min_pixels=14,
                      radius_max_pixels=40, pickable=True),
            pdk.Layer("TextLayer", [d for d in data if d["count"]], id="alert_counts", get_position="position",
                      get_text="count", get_size=14, get_color="color", get_pixel_offset=[17, -17],
                      outline_width=2, outline_color=[11, 18, 32, 255], font_settings={"sdf": True})]
