"""What the map's colours and icons mean, as data for a legend panel.

A pure function of the picture, with no Streamlit, so any page (or an export)
can draw the same legend from the same colours and icons the map layers use:
`layers.style` for colours, `layers.map.icons` / `layers.map.icons.symbols` for
icons. Items are built only for what the picture holds (kinds, nations,
imagery classes), except incident severities, which are a scale and are all
listed so a reader can place any one of them.

Labels can come from feeds (nation codes): callers must escape them before
putting them into HTML (e.g. `layers.map.deck.base.escape`). Colours and icon data
URLs are made here and are safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TypedDict

import pandas as pd

from layers import style
from layers.map.icons import data_url, infrastructure_icon, normalise_kind
from layers.map.deck.imagery import CLOUDY_PERCENT
from layers.map.icons.symbols import unit_symbol_for


class LegendItem(TypedDict, total=False):
    label: str  # untrusted where it comes from data: escape when rendering
    kind: str  # the legend section: severity, infrastructure, unit, nation, track, imagery
    colour: str  # '#rrggbb', for swatches
    icon: str  # 'data:image/svg+xml;base64,...', for icons


SEVERITY_LABELS = {"low": "Low", "medium": "Medium", "high": "High", "critical": "Critical"}


def _present(picture: Mapping[str, pd.DataFrame], layer: str) -> pd.DataFrame | None:
    frame = picture.get(layer)
    return frame if frame is not None and not frame.empty else None


def legend_items(picture: Mapping[str, pd.DataFrame], *, now: datetime | None = None) -> list[LegendItem]:
    """Legend entries, in the map's reading order: incidents, units, nations, tracks, infrastructure, imagery.

    `now` decides which track states are present; without it both are listed
    whenever there are tracks (the map greys tracks by the time the page gives).
    """
    items: list[LegendItem] = []

    if _present(picture, "incidents") is not None:
        items += [{"label": f"Incident: {label}", "kind": "severity", "colour": style.hex_colour(style.SEVERITY[s])}
                  for s, label in SEVERITY_LABELS.items()]

    deployments = _present(picture, "deployments")
    if deployments is not None:
        # One generic friendly unit, so the reader knows the frames are APP-6 symbols.
        items.append({"label": "Partner unit (APP-6 symbol)", "kind": "unit",
                      "icon": data_url(unit_symbol_for(None, echelon="").svg)})
        nations = deployments["nation"].dropna().astype(str).tolist()
        colours = style.nation_colours(nations)
        items += [{"label": n, "kind": "nation", "colour": style.hex_colour(colours[n])} for n in sorted(colours)]

    tracks = _present(picture, "tracks")
    if tracks is not None:
        states = {"active", "stale"}
        if now is not None and "stale_at" in tracks:
            stale = (tracks["stale_at"] < pd.Timestamp(now)).fillna(False)
            states = {"stale" if s else "active" for s in stale.tolist()}
        for state, colour in (("active", style.TRACK_ACTIVE), ("stale", style.TRACK_STALE)):
            if state in states:
                items.append({"label": f"Track: {state}", "kind": "track", "colour": style.hex_colour(colour)})

    infrastructure = _present(picture, "infrastructure")
    if infrastructure is not None:
        kinds = sorted({normalise_kind(k) for k in infrastructure["kind"].dropna().astype(str)})
        items += [{"label": k.replace("_", " ").capitalize(), "kind": "infrastructure",
                   "icon": data_url(infrastructure_icon(k).svg)} for k in kinds]

    imagery = _present(picture, "imagery")
    if imagery is not None:
        cloud = imagery["cloud_cover"].fillna(100) if "cloud_cover" in imagery else pd.Series([100.0])
        if (cloud <= CLOUDY_PERCENT).any():
            items.append({"label": f"Imagery: clear (cloud ≤ {CLOUDY_PERCENT} %)", "kind": "imagery",
                          "colour": style.hex_colour(style.IMAGERY_CLEAR)})
        if (cloud > CLOUDY_PERCENT).any():
            items.append({"label": f"Imagery: cloudy (cloud > {CLOUDY_PERCENT} %)", "kind": "imagery",
                          "colour": style.hex_colour(style.IMAGERY_CLOUDY)})
    return items
