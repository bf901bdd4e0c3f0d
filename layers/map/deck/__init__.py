"""Build the pydeck map of the operational picture, one module per layer.

The map needs no internet: there is no remote basemap (borders are the
basemap) and the map style is a local, empty one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import datetime

import geopandas as gpd
import pydeck as pdk
from pydeck.bindings.json_tools import default_serialize

from layers.map.deck.alerts import alerts as alert_rings
from layers.map.deck.base import TOOLTIP
from layers.map.deck.borders import borders, disputed
from layers.map.deck.deployments import deployments
from layers.map.deck.hotspots import hotspots as hex_layer
from layers.map.deck.imagery import imagery
from layers.map.deck.overlays import overlays
from layers.map.deck.points import incidents, infrastructure, places
from layers.map.deck.tracks import tracks
from layers.triage import DEFAULT_SETTINGS as DEFAULT_TRIAGE
from layers.triage import RuleTriage

# Draw order, bottom to top, and the toggles the UI offers.
MAP_LAYERS: tuple[str, ...] = ("borders", "disputed_areas", "places", "hotspots", "imagery", "infrastructure",
                               "overlays", "deployments", "tracks", "incidents", "alerts")
# Map layers drawn from another layer's data.
LAYER_SOURCE: dict[str, str] = {"hotspots": "incidents"}


class CompactDeck(pdk.Deck):
    """A Deck whose JSON is compact and made by the C encoder.

    pydeck's own `to_json` indents, which forces Python's pure-Python encoder:
    about 3x slower and twice the bytes for large layers (shared/notes/performance.md).
    Streamlit sends whatever `to_json` returns."""

    def to_json(self) -> str:
        # Built once: a cached deck is re-sent on reruns without re-encoding.
        cached = self.__dict__.get("_json_cache")
        if cached is None:
            cached = json.dumps(self, default=default_serialize, separators=(",", ":"), sort_keys=True)
            self.__dict__["_json_cache"] = cached
        return cached


def pixel_degrees(zoom: float) -> float:
    """Degrees of longitude one screen pixel spans at `zoom` (Web Mercator, 512-px world)."""
    return 360.0 / (512.0 * 2 ** zoom)


def build_layer(name: str, frame: gpd.GeoDataFrame, now: datetime, *, zoom: float = 7.0,
                max_points: int = 5_000, triage: Mapping[str, RuleTriage] | None = None) -> list[pdk.Layer]:
    """The deck.gl layers for one of MAP_LAYERS, thinned to what the screen can show at `zoom`:
    paths simplified to about a pixel, point layers capped at `max_points` with the rest
    aggregated (see the layer modules). ``triage`` (per rule, from the alert rules) decides which
    alerts are ringed; the bundled defaults without it."""
    if name == "borders":
        return borders(frame)
    if name == "disputed_areas":
        return disputed(frame)
    if name == "places":
        return places(frame)
    if name == "imagery":
        return imagery(frame)
    if name == "infrastructure":
        return infrastructure(frame)
    if name == "overlays":
        return overlays(frame)
    if name == "deployments":
        return deployments(frame, zoom=zoom)
    if name == "tracks":
        return tracks(frame, now, tolerance=pixel_degrees(zoom))
    if name == "incidents":
        return incidents(frame, max_points=max_points)
    if name == "alerts":
        return alert_rings(frame, triage or DEFAULT_TRIAGE)
    if name == "hotspots":
        return hex_layer(frame)
    raise KeyError(name)


def build_layers(picture: dict[str, gpd.GeoDataFrame], shown: Iterable[str], now: datetime,
                 *, zoom: float = 7.0, max_points: int = 5_000) -> list[pdk.Layer]:
    shown = set(shown)
    out: list[pdk.Layer] = []
    for name in MAP_LAYERS:
        source = LAYER_SOURCE.get(name, name)
        if name in shown and source in picture:
            out += build_layer(name, picture[source], now, zoom=zoom, max_points=max_points)
    return out


def build_deck(layers: list[pdk.Layer], view: pdk.ViewState, *, height: int = 720) -> pdk.Deck:
    # map_provider=None and no map_style: pydeck emits its "no basemap" sentinel,
    # which Streamlit honours. map_style=None would make Streamlit fetch a remote
    # Carto style instead.
    return CompactDeck(layers=layers, initial_view_state=view, map_provider=None, tooltip=TOOLTIP, height=height)


def view_for(bounds: tuple[float, float, float, float] | None) -> pdk.ViewState:
    """A view over the active data (not the world), so the map opens where the operation is."""
    if bounds is None:
        return pdk.ViewState(longitude=0, latitude=20, zoom=1.5)
    minx, miny, maxx, maxy = bounds
    span = max(maxx - minx, (maxy - miny) * 1.3, 0.05)
    zoom = max(1.0, min(14.0, 8.6 - math.log2(span)))
    return pdk.ViewState(longitude=(minx + maxx) / 2, latitude=(miny + maxy) / 2, zoom=zoom, pitch=0, bearing=0)


def initial_view(viewport, bounds: tuple[float, float, float, float] | None) -> pdk.ViewState:
    """The view a shared link asked for, else one over the active data."""
    if viewport is None:
        return view_for(bounds)
    return pdk.ViewState(longitude=viewport.longitude, latitude=viewport.latitude, zoom=viewport.zoom)
