"""The analyst's folium (Leaflet) map: offline, with drawing and measuring, as pure functions.

Why a second map next to the pydeck one (`layers.map.deck`): the analyst needs to draw an area of
interest and measure distances, which Leaflet.draw and leaflet-measure give for free, and
streamlit-folium returns the drawn shapes to Python. No Streamlit here: the page calls
`build_analyst_map`, hands the map to `streamlit_folium.st_folium`, and passes what comes back to
`aoi_from_drawing`::

    m = build_analyst_map(picture, center=center, zoom=zoom, aoi=aoi)
    result = st_folium(m, key="analyst-map", height=680, use_container_width=True,
                       returned_objects=RETURNED_OBJECTS)
    aoi = aoi_from_drawing(result)      # raises InvalidAOI with a reason the page can show

Offline (the operations centre has no internet):
- every <script>/<link> folium and its plugins would take from CDNs (jsDelivr, cdnjs, code.jquery.com,
  netdna) is replaced by a file vendored under dashboard/static/vendor/ (see its README.md), which
  Streamlit serves at /app/static/vendor/ when `server.enableStaticServing` is on. streamlit-folium
  does not use folium's HTML page: it collects `default_js`/`default_css` of every element of the
  map and loads them itself inside the component iframe, which is same-origin with the app, so
  the origin-relative URLs resolve to the app server. `check_offline` refuses a map that still
  references anything else, so a plugin added later cannot quietly reach a CDN.
- folium's Map also loads jQuery, Bootstrap 3/5, Font Awesome and Leaflet.awesome-markers. This map
  uses none of them (no folium Popup/Icon/Marker objects, no keep_in_front), so they are dropped
  rather than vendored.
- no remote basemap: `tiles=None`; the borders layer is the basemap (LAND fill, BORDER_LINE),
  disputed areas on top; an optional raster tile layer (`[map] tile_url` in watchfloor.toml, read
  by `tile_settings`) is accepted only from the app's own origin or a loopback address
  (`check_tile_url`).

Untrusted text: feed fields reach the browser only as HTML already escaped by
`layers.map.deck.base.escape` (through `tooltips`), carried as GeoJSON property values (JSON-encoded by
folium with <, >, & and ' escaped) and bound with Leaflet's bindTooltip/bindPopup. folium's own
Tooltip/Popup/GeoJsonTooltip are avoided on purpose: they paste text into JavaScript template
literals (backticks, ${...}) and into innerHTML unescaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime

import folium
import geopandas as gpd
import pandas as pd
from branca.element import Element, MacroElement
from folium.template import Template
from shapely.geometry.base import BaseGeometry

from layers.map.deck.base import escape
from layers.map.leaflet.assets import (
    VENDOR_BASE,
    _use_assets,
    check_offline,
    check_tile_url,
    vendor_assets,
)
from layers.map.leaflet.draw import add_draw_tools
from layers.map.leaflet.overlays import (
    _CSS,
    _aoi_layer,
    _borders_layer,
    _deployment_features,
    _disputed_features,
    _frame,
    _group,
    _imagery_features,
    _incident_features,
    _infrastructure_features,
    _tak_features,
    _track_features,
)

# What the page should ask st_folium to return: only drawings rerun the app. With the default
# (everything) every pan, zoom and measuring click reruns the whole script.
RETURNED_OBJECTS: tuple[str, ...] = ("last_active_drawing", "all_drawings")

DEFAULT_MAX_FEATURES = 2000  # per layer; Leaflet slows past a few thousand markers even on canvas


# --- the map -----------------------------------------------------------------------------------


def build_analyst_map(
    picture: Mapping[str, gpd.GeoDataFrame],
    *,
    center: tuple[float, float],
    zoom: int,
    aoi: BaseGeometry | None = None,
    max_features: int = DEFAULT_MAX_FEATURES,
    now: datetime | None = None,
    tile_url: str | None = None,
    tile_attribution: str = "Local tiles",
    asset_base: str = VENDOR_BASE,
) -> folium.Map:
    """The analyst map of an operational picture (`layers.picture.load_picture`'s dict).

    `center` is (lat, lon), Leaflet's order (use `view_for_bounds` to get it from lon/lat bounds).
    Each operational layer is a FeatureGroup in the layer control; each is capped at
    `max_features` (most relevant kept: most severe and newest incidents, newest tracks...), the
    omitted counts shown in the layer names and a note on the map, and kept in
    `m.watchfloor_omitted` ({layer: count}) for the page. Circle markers and paths are drawn on one
    canvas (prefer_canvas), not as thousands of DOM nodes. `now` decides which tracks are stale
    (default: the current time). `tile_url` must pass `check_tile_url`.

    `aoi` (from `aoi_from_drawing`, kept by the page) is drawn as a dashed, non-editable outline.
    streamlit-folium keys the component on a hash of the generated JavaScript, so any change here
    (new data, a new `aoi`) remounts the map: the view returns to `center`/`zoom` and shapes drawn
    but not yet kept are gone. Passing the kept AOI back is what makes it survive that.
    """
    lat, lon = (float(center[0]), float(center[1]))
    if not (-90 <= lat <= 90 and math.isfinite(lon)):
        raise ValueError(f"center must be (lat, lon) with lat in [-90, 90], got {center!r}")
    if max_features < 0:
        raise ValueError("max_features must be >= 0")
    now = now or datetime.now(UTC)
    assets = vendor_assets(asset_base)

    m = folium.Map(location=[lat, lon], zoom_start=zoom, tiles=None, prefer_canvas=True,
                   control_scale=False, world_copy_jump=True, min_zoom=2, max_zoom=18)
    _use_assets(m, assets["map"])
    m.get_root().header.add_child(Element(_CSS), name="watchfloor_css")

    if tile_url:
        folium.TileLayer(tiles=check_tile_url(tile_url), attr=escape(tile_attribution), name="Local tiles",
                         overlay=False, control=False, max_zoom=18).add_to(m)

    omitted: dict[str, int] = {}
    borders = _frame(picture, "borders")
    if borders is not None:
        _borders_layer(borders).add_to(m)
    disputed = _frame(picture, "disputed_areas")
    if disputed is not None:
        _group("Disputed areas", _disputed_features(disputed)).add_to(m)

    for name, title, make in (
        ("imagery", "Imagery footprints", _imagery_features),
        ("infrastructure", "Critical infrastructure", _infrastructure_features),
        ("overlays", "TAK drawings", _tak_features),
        ("deployments", "Partner deployments", _deployment_features),
        ("tracks", "Tracks", lambda f: _track_features(f, now)),
        ("incidents", "Incidents", _incident_features),
    ):
        frame = _frame(picture, name)
        if frame is None:
            continue
        kept, left_out = thin(frame, name, max_features)
        if left_out:
            omitted[name] = left_out
            title = f"{title} ({len(kept):,} of {len(frame):,})"
        _group(title, make(kept)).add_to(m)

    if aoi is not None and not aoi.is_empty:
        _aoi_layer(aoi).add_to(m)

    add_draw_tools(m, assets)

    _MetricScale().add_to(m)
    folium.LayerControl(position="topright", collapsed=False).add_to(m)
    if omitted:
        _Note(omitted_note(omitted, max_features)).add_to(m)
    m.watchfloor_omitted = omitted  # type: ignore[attr-defined]
    check_offline(m)
    return m


def view_for_bounds(bounds: tuple[float, float, float, float] | None) -> tuple[tuple[float, float], int]:
    """((lat, lon), zoom) over lon/lat bounds (minx, miny, maxx, maxy), as `layers.map.deck.view_for`.

    Exists so callers never hand-order coordinates: the store is lon/lat, Leaflet is lat/lon.
    """
    if bounds is None:
        return (20.0, 0.0), 2
    minx, miny, maxx, maxy = bounds
    span = max(maxx - minx, (maxy - miny) * 1.3, 0.05)
    zoom = int(max(2, min(14, round(9.6 - math.log2(span)))))
    return ((miny + maxy) / 2, (minx + maxx) / 2), zoom


def thin(frame: gpd.GeoDataFrame, layer: str, max_features: int) -> tuple[gpd.GeoDataFrame, int]:
    """At most `max_features` rows, the most useful first; returns (kept, how many left out).

    Incidents: most severe, then newest. Tracks: newest last fix. Deployments: newest report.
    Imagery: newest acquisition. Infrastructure: as given (reference data has no time).
    """
    if len(frame) <= max_features:
        return frame, 0
    keys: list[tuple[pd.Series, bool]] = []
    if layer == "incidents":
        if "severity" in frame:
            rank = {s: i for i, s in enumerate(("critical", "high", "medium", "low"))}
            keys.append((frame["severity"].astype("string").map(rank).fillna(len(rank)), True))
        if "occurred_at" in frame:
            keys.append((frame["occurred_at"], False))
    else:
        column = {"tracks": "last_seen", "deployments": "reported_at", "imagery": "acquired_at",
                  "overlays": "drawn_at"}.get(layer)
        if column and column in frame:
            keys.append((frame[column], False))
    if keys:
        order = pd.DataFrame({f"k{i}": k.reset_index(drop=True) for i, (k, _) in enumerate(keys)})
        order = order.sort_values(list(order.columns), ascending=[a for _, a in keys],
                                  na_position="last", kind="stable").index.to_numpy()
        kept = frame.iloc[order[:max_features]]
    else:
        kept = frame.iloc[:max_features]
    return kept, len(frame) - len(kept)


def omitted_note(omitted: Mapping[str, int], max_features: int) -> str:
    parts = [f"{n:,} {layer}" for layer, n in omitted.items()]
    return (f"Not drawn (over {max_features:,} per layer): " + ", ".join(parts)
            + ". Narrow the time window or area to see them.")


class _MetricScale(MacroElement):
    """Scale bar in metric units only (folium's control_scale adds miles too)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            L.control.scale({metric: true, imperial: false, maxWidth: 160}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)


class _Note(MacroElement):
    """A line of text on the map (bottom left), set with textContent: never parsed as HTML."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            (function() {
                var note = L.control({position: "bottomleft"});
                note.onAdd = function() {
                    var div = L.DomUtil.create("div", "wf-note");
                    div.textContent = {{ this.text|tojson }};
                    return div;
                };
                note.addTo({{ this._parent.get_name() }});
            })();
        {% endmacro %}
    """)

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Note"
        self.text = text
