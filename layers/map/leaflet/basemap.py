"""The analyst's folium (Leaflet) map: offline, with drawing and measuring, as pure functions.

Why a second map next to the pydeck one (`layers.map`): the analyst needs to draw an area of
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
`layers.map.base.escape` (through `tooltips`), carried as GeoJSON property values (JSON-encoded by
folium with <, >, & and ' escaped) and bound with Leaflet's bindTooltip/bindPopup. folium's own
Tooltip/Popup/GeoJsonTooltip are avoided on purpose: they paste text into JavaScript template
literals (backticks, ${...}) and into innerHTML unescaped.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template
from folium.utilities import JsCode
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

from layers import style
from layers.map.base import escape, tooltips

# --- where the vendored assets are served ------------------------------------------------------

# Streamlit serves dashboard/static/ at /app/static/ (server.enableStaticServing). Origin-relative,
# so it works on any host and port; behind server.baseUrlPath pass asset_base="/<base>/app/static/vendor".
VENDOR_BASE = "/app/static/vendor"
LEAFLET = "leaflet@1.9.4"
LEAFLET_DRAW = "leaflet-draw@1.0.4"
LEAFLET_MEASURE = "leaflet-measure@3.1.0"


def vendor_assets(asset_base: str = VENDOR_BASE) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """(name, url) pairs for each element kind, in folium's default_js/default_css shape.

    The names are folium's own, so an element that asks for "leaflet" twice still gets one tag.
    """
    b = asset_base.rstrip("/")
    return {
        "map": {
            "js": [("leaflet", f"{b}/{LEAFLET}/dist/leaflet.js")],
            "css": [("leaflet_css", f"{b}/{LEAFLET}/dist/leaflet.css")],
        },
        "draw": {
            "js": [("leaflet_draw_js", f"{b}/{LEAFLET_DRAW}/dist/leaflet.draw.js")],
            "css": [("leaflet_draw_css", f"{b}/{LEAFLET_DRAW}/dist/leaflet.draw.css")],
        },
        "measure": {
            "js": [("leaflet_measure_js", f"{b}/{LEAFLET_MEASURE}/dist/leaflet-measure.js")],
            "css": [("leaflet_measure_css", f"{b}/{LEAFLET_MEASURE}/dist/leaflet-measure.css")],
        },
    }


# What the page should ask st_folium to return: only drawings rerun the app. With the default
# (everything) every pan, zoom and measuring click reruns the whole script.
RETURNED_OBJECTS: tuple[str, ...] = ("last_active_drawing", "all_drawings")

DEFAULT_MAX_FEATURES = 2000  # per layer; Leaflet slows past a few thousand markers even on canvas
SIMPLIFY_DEG = 0.01  # borders: ~1 km, as the pydeck basemap
CLOUDY_PERCENT = 30  # imagery footprints above this are drawn as cloudy (as layers.map.imagery)

_GEOD = Geod(ellps="WGS84")


class RemoteAssetError(ValueError):
    """The map would make the browser fetch something from outside the app's origin."""


class InvalidAOI(ValueError):
    """A drawn area of interest that cannot be used; the message says why, for the analyst."""


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

    draw = folium.plugins.Draw(
        export=False,
        position="topleft",
        show_geometry_on_click=False,
        draw_options={
            # Areas only: an AOI is an area. Distances are measured with the measure control.
            "polyline": False, "marker": False, "circlemarker": False,
            "polygon": {"allowIntersection": False, "showArea": True, "metric": ["km", "ha", "m"],
                        "shapeOptions": _AOI_DRAW_STYLE},
            "rectangle": {"showArea": True, "metric": ["km", "ha", "m"], "shapeOptions": _AOI_DRAW_STYLE},
            "circle": {"metric": True, "showRadius": True, "shapeOptions": _AOI_DRAW_STYLE},
        },
        edit_options={"poly": {"allowIntersection": False}},
    )
    _use_assets(draw, assets["draw"])
    draw.add_to(m)  # a direct child of the map: streamlit-folium finds `drawnItems` by that name

    measure = folium.plugins.MeasureControl(
        position="topleft", primary_length_unit="kilometers", secondary_length_unit="meters",
        primary_area_unit="sqkilometers", secondary_area_unit="hectares", active_color="#ffb020",
        completed_color="#ffb020",
        units={"sqkilometers": {"factor": 1e-6, "display": "km²", "decimals": 2}},
    )
    _use_assets(measure, assets["measure"])
    measure.add_to(m)

    _MetricScale().add_to(m)
    folium.LayerControl(position="topright", collapsed=False).add_to(m)
    if omitted:
        _Note(omitted_note(omitted, max_features)).add_to(m)
    m.watchfloor_omitted = omitted  # type: ignore[attr-defined]
    check_offline(m)
    return m


def view_for_bounds(bounds: tuple[float, float, float, float] | None) -> tuple[tuple[float, float], int]:
    """((lat, lon), zoom) over lon/lat bounds (minx, miny, maxx, maxy), as `layers.map.view_for`.

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
        column = {"tracks": "last_seen", "deployments": "reported_at", "imagery": "acquired_at"}.get(layer)
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


# --- offline guarantees ------------------------------------------------------------------------


def check_offline(m: folium.Map) -> None:
    """Raise RemoteAssetError if any element of the map would load JS, CSS or tiles off-origin.

    Walks the same elements streamlit-folium walks to build its js_links/css_links.
    """
    bad: list[str] = []
    for element in _walk(m):
        if isinstance(element, JSCSSMixin):
            for _, url in [*element.default_js, *element.default_css]:
                if not _same_origin_path(url):
                    bad.append(url)
        if isinstance(element, folium.TileLayer):
            try:
                check_tile_url(element.tiles)
            except ValueError:
                bad.append(str(element.tiles))
    if bad:
        raise RemoteAssetError(f"map would load from outside the app's origin: {sorted(set(bad))}")


_LOOPBACK_NAMES = {"localhost"}


def tile_settings(settings: Mapping[str, Any]) -> tuple[str | None, str]:
    """(tile_url, attribution) from site settings (`ingest.config.settings()`, watchfloor.toml)::

        [map]
        tile_url = "/app/static/tiles/{z}/{x}/{y}.png"   # dashboard/static/tiles/, served by Streamlit
        tile_attribution = "Basemap: national mapping agency, 2026"

    The URL is checked here (`check_tile_url`), so a bad setting fails at start, with the reason.
    """
    section = settings.get("map") or {}
    url = section.get("tile_url") or None
    attribution = str(section.get("tile_attribution") or "Local tiles")
    return (check_tile_url(url) if url else None), attribution


def check_tile_url(url: str) -> str:
    """Accept a raster tile URL template only if it stays on the app's origin or loopback.

    Allowed: an origin-relative path ("/app/static/tiles/{z}/{x}/{y}.png", served by Streamlit
    from dashboard/static/tiles/), or http(s) to localhost / 127.0.0.0/8 / ::1. Anything else is
    refused, including LAN tile servers: put those behind the app's origin (reverse proxy), so
    the no-external-request guarantee stays checkable. Note loopback means the *browser's*
    machine; for a wall screen on another host use the relative form.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("tile URL must be a non-empty string")
    url = url.strip()
    if not all(p in url for p in ("{z}", "{x}", "{y}")):
        raise ValueError(f"tile URL must contain {{z}}, {{x}} and {{y}}: {url!r}")
    if "{s}" in url:
        raise ValueError(f"tile URL must not use {{s}} subdomains: {url!r}")
    if _same_origin_path(url):
        return url
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.hostname:
        host = parts.hostname
        if host in _LOOPBACK_NAMES:
            return url
        try:
            if ipaddress.ip_address(host).is_loopback:
                return url
        except ValueError:
            pass
    raise ValueError(f"tile URL is not local (app origin or loopback only): {url!r}")


def _same_origin_path(url: str) -> bool:
    """'/path...' with no scheme or host: resolves against the app's own origin."""
    parts = urlsplit(url)
    return (not parts.scheme and not parts.netloc and url.startswith("/") and not url.startswith("//")
            and "\\" not in url)


def _walk(element: Any):
    yield element
    for child in getattr(element, "_children", {}).values():
        yield from _walk(child)


def _use_assets(element: JSCSSMixin, assets: Mapping[str, list[tuple[str, str]]]) -> None:
    # Instance attributes, never the class lists: folium's add_js_link mutates those in place.
    element.default_js = list(assets["js"])
    element.default_css = list(assets["css"])


# --- layers ------------------------------------------------------------------------------------

_CSS = f"""<style>
.leaflet-container {{ background: {style.BACKGROUND}; }}
.leaflet-tooltip.wf-tip, .wf-popup .leaflet-popup-content-wrapper, .wf-popup .leaflet-popup-tip {{
  background: #111a2b; color: #e8eef8; border: 1px solid #3a4a66; font-size: 14px; }}
.leaflet-tooltip.wf-tip {{ max-width: 420px; white-space: normal; }}
.wf-popup .leaflet-popup-content {{ max-width: 420px; overflow-wrap: anywhere; }}
.wf-note {{ background: rgba(17, 26, 43, 0.9); color: #ffb020; padding: 4px 8px; font-size: 13px;
  border: 1px solid #3a4a66; max-width: 420px; }}
</style>"""

_AOI_DRAW_STYLE = {"color": "#ffb020", "weight": 3, "fillOpacity": 0.08}

# Tips are escaped HTML (layers.map.base.tooltips) inside the GeoJSON properties; bound as
# Leaflet tooltip and popup content. No feed text is ever spliced into this code.
_BIND_TIPS = JsCode("""function(feature, layer) {
    var tip = feature.properties && feature.properties.tip;
    if (tip) {
        layer.bindTooltip(tip, {sticky: true, className: "wf-tip"});
        layer.bindPopup(tip, {className: "wf-popup", maxWidth: 420});
    }
}""")


def _frame(picture: Mapping[str, gpd.GeoDataFrame], name: str) -> gpd.GeoDataFrame | None:
    frame = picture.get(name)
    if frame is None or len(frame) == 0:
        return None
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs("EPSG:4326")
    geoms = frame.geometry
    frame = frame[geoms.notna() & ~geoms.is_empty]
    return frame if len(frame) else None


def _css(rgba: Sequence[int]) -> tuple[str, float]:
    return style.hex_colour(list(rgba)), round(rgba[3] / 255, 3) if len(rgba) > 3 else 1.0


def _path_style(line: Sequence[int], fill: Sequence[int] | None = None, weight: float = 2,
                **extra: Any) -> dict[str, Any]:
    colour, opacity = _css(line)
    out: dict[str, Any] = {"color": colour, "opacity": opacity, "weight": weight}
    if fill is None:
        out["fill"] = False
    else:
        fill_colour, fill_opacity = _css(fill)
        out.update(fill=True, fillColor=fill_colour, fillOpacity=fill_opacity)
    out.update(extra)
    return out


def _marker_style(fill: Sequence[int], radius: float, line: Sequence[int] = (11, 18, 32, 255),
                  weight: float = 1) -> dict[str, Any]:
    return _path_style(line, fill, weight=weight, radius=radius)


def _rounded(geom: BaseGeometry, digits: int) -> dict:
    return shapely.geometry.mapping(shapely.transform(geom, lambda c: np.round(c, digits)))


def _feature(geom: BaseGeometry, props: dict[str, Any], digits: int = 5) -> dict:
    return {"type": "Feature", "geometry": _rounded(geom, digits), "properties": props}


def _collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def _group(title: str, collection: dict, *, show: bool = True) -> folium.FeatureGroup:
    """One toggleable layer: a FeatureGroup holding one GeoJson (points as canvas circle markers)."""
    group = folium.FeatureGroup(name=title, show=show)
    if collection["features"]:
        folium.GeoJson(collection, marker=folium.CircleMarker(radius=6), on_each_feature=_BIND_TIPS,
                       control=False).add_to(group)
    return group


def _col(frame: pd.DataFrame, name: str, default: Any = None) -> list:
    if name in frame:
        return [None if (v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))) else v
                for v in frame[name].tolist()]
    return [default] * len(frame)


def _titles(frame: pd.DataFrame, *columns: str, default: str) -> list[str]:
    out = [None] * len(frame)
    for c in columns:
        vals = _col(frame, c)
        out = [o if o not in (None, "") else v for o, v in zip(out, vals)]
    return [str(o) if o not in (None, "") else default for o in out]


def _borders_layer(frame: gpd.GeoDataFrame) -> folium.FeatureGroup:
    """The basemap: land polygons and border lines, not interactive so drawing passes through."""
    geoms = shapely.simplify(frame.geometry.values, SIMPLIFY_DEG, preserve_topology=True)
    st = _path_style(style.BORDER_LINE, style.LAND, weight=1)
    feats = [_feature(g, {"style": st}, digits=3) for g in geoms if g is not None and not g.is_empty]
    group = folium.FeatureGroup(name="Borders", control=False)
    folium.GeoJson(_collection(feats), interactive=False, control=False).add_to(group)
    return group


def _disputed_features(frame: gpd.GeoDataFrame) -> dict:
    geoms = shapely.simplify(frame.geometry.values, SIMPLIFY_DEG / 2, preserve_topology=True)
    tips = tooltips(frame, ["Disputed area: " + t for t in _titles(frame, "name", default="unnamed")],
                    [("Claimants", "claimants"), ("Note", "note"), ("Marking", "marking")])
    st = _path_style(style.DISPUTED_LINE, style.DISPUTED_FILL, weight=2, dashArray="6 4")
    return _collection([_feature(g, {"tip": t, "style": st}, digits=4) for g, t in zip(geoms, tips)])


def _imagery_features(frame: gpd.GeoDataFrame) -> dict:
    tips = tooltips(frame, _titles(frame, "platform", "collection", default="scene"),
                    [("Scene", "source_id"), ("Acquired", "acquired_at"), ("Cloud %", "cloud_cover"),
                     ("GSD m", "gsd"), ("Collection", "collection"), ("Source", "source"), ("Marking", "marking")])
    cloud = [100 if c is None else c for c in _col(frame, "cloud_cover")]
    feats = []
    for g, t, c in zip(frame.geometry.values, tips, cloud):
        line = style.IMAGERY_CLOUDY if c > CLOUDY_PERCENT else style.IMAGERY_CLEAR
        feats.append(_feature(g, {"tip": t, "style": _path_style(line, None, weight=1.5)}, digits=4))
    return _collection(feats)


def _infrastructure_features(frame: gpd.GeoDataFrame) -> dict:
    tips = tooltips(frame, _titles(frame, "name", "kind", default="site"),
                    [("Kind", "kind"), ("Type", "subkind"), ("Code", "code"), ("Capacity", "capacity"),
                     ("Source", "source"), ("Marking", "marking")])
    feats = []
    for g, t, k in zip(frame.geometry.values, tips, _col(frame, "kind")):
        colour = style.INFRASTRUCTURE.get(str(k), style.INFRASTRUCTURE_DEFAULT)
        if g.geom_type == "Point":
            st = _marker_style(colour, 4)
        else:
            st = _path_style(colour, list(colour[:3]) + [40], weight=1.5)
        feats.append(_feature(g, {"tip": t, "style": st}))
    return _collection(feats)


def _deployment_features(frame: gpd.GeoDataFrame) -> dict:
    nations = [str(n) if n is not None else "" for n in _col(frame, "nation", "")]
    colours = style.nation_colours(nations)
    tips = tooltips(frame, _titles(frame, "unit_name", default="unit"),
                    [("Nation", "nation"), ("Type", "unit_type"), ("Echelon", "echelon"),
                     ("Strength", "strength"), ("SIDC", "symbol_code"), ("Reported", "reported_at"),
                     ("Marking", "marking")])
    areas, units = [], []
    for g, n, t, area in zip(frame.geometry.values, nations, tips, _col(frame, "area")):
        colour = colours[n]
        if isinstance(area, BaseGeometry) and not area.is_empty:
            areas.append(_feature(area, {"tip": t, "style": _path_style(
                colour, list(colour[:3]) + [style.AOR_ALPHA], weight=2)}, digits=4))
        units.append(_feature(g, {"tip": t, "style": _marker_style(colour, 8, (255, 255, 255, 255), 2)}))
    return _collection(areas + units)  # areas first: unit markers draw on top


def _track_features(frame: gpd.GeoDataFrame, now: datetime) -> dict:
    stale_at = pd.to_datetime(frame["stale_at"], utc=True) if "stale_at" in frame else None
    stale = ((stale_at < pd.Timestamp(now)).fillna(False).tolist() if stale_at is not None
             else [False] * len(frame))
    shown = frame.assign(state=["stale" if s else "active" for s in stale])
    tips = tooltips(shown, _titles(shown, "callsign", "track_id", default="track"),
                    [("Track", "track_id"), ("State", "state"), ("Last seen", "last_seen"),
                     ("Speed m/s", "last_speed_mps"), ("Heading", "last_heading_deg"),
                     ("Altitude m", "last_altitude_m"), ("Fixes", "point_count"), ("Type", "platform_type"),
                     ("Source", "source"), ("Marking", "marking")])
    lines, heads = [], []
    for g, t, s in zip(frame.geometry.values, tips, stale):
        colour = style.TRACK_STALE if s else style.TRACK_ACTIVE
        if g.geom_type == "LineString":
            g = _unwrap_line(g)
            lines.append(_feature(g, {"tip": t, "style": _path_style(colour, None, weight=3)}))
            head = shapely.Point(g.coords[-1])
        else:
            head = g if g.geom_type == "Point" else shapely.point_on_surface(g)
        heads.append(_feature(head, {"tip": t, "style": _marker_style(colour, 5, (0, 0, 0, 255))}))
    return _collection(lines + heads)


def _incident_features(frame: gpd.GeoDataFrame) -> dict:
    tips = tooltips(frame, _titles(frame, "title", "category", default="incident"),
                    [("Category", "category"), ("Type", "subcategory"), ("Severity", "severity"),
                     ("Status", "status"), ("Time", "occurred_at"), ("Place", "location_name"),
                     ("Fatalities", "fatalities"), ("Actors", "actors"), ("Notes", "description"),
                     ("Source", "source"), ("Marking", "marking")])
    feats = []
    pts = shapely.point_on_surface(frame.geometry.values)
    for g, t, sev in zip(pts, tips, _col(frame, "severity")):
        sev = str(sev) if sev in style.SEVERITY else "low"
        radius = round(4 + style.SEVERITY_RADIUS_M[sev] / 300)  # 6..10 px, ranked like the pydeck map
        feats.append(_feature(g, {"tip": t, "style": _marker_style(style.SEVERITY[sev], radius,
                                                                    (0, 0, 0, 200))}))
    return _collection(feats)


def _aoi_layer(aoi: BaseGeometry) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name="Area of interest")
    st = {"color": "#ffb020", "weight": 3, "dashArray": "8 6", "fill": False}
    folium.GeoJson(_collection([_feature(aoi, {"style": st})]), interactive=False,
                   control=False).add_to(group)
    return group


def _unwrap_line(line: shapely.LineString) -> shapely.LineString:
    """Continuous longitudes (179 -> 181, not 179 -> -179), so a track over the antimeridian
    draws as the short hop it is instead of a line across the whole world."""
    xy = np.asarray(line.coords)[:, :2].copy()
    if len(xy) > 1 and np.any(np.abs(np.diff(xy[:, 0])) > 180):
        xy[:, 0] = np.rad2deg(np.unwrap(np.deg2rad(xy[:, 0])))
        return shapely.LineString(xy)
    return line


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


# --- area of interest from a drawing -----------------------------------------------------------

MAX_AOI_AREA_KM2 = 5_000_000.0  # about half of Europe: larger is a slip of the mouse, not an AOI
MIN_AOI_AREA_M2 = 100.0  # a click without a drag
MAX_CIRCLE_RADIUS_M = 1_500_000.0
MAX_VERTICES = 10_000
CIRCLE_SEGMENTS = 72


def aoi_from_drawing(drawing: Mapping[str, Any] | None) -> BaseGeometry | None:
    """A validated area of interest (Polygon/MultiPolygon, EPSG:4326 lon/lat) from a drawing.

    Accepts what streamlit-folium returns: the whole st_folium dict (uses the last feature of
    `all_drawings`, which reflects edits and deletions, else `last_active_drawing`), one GeoJSON
    Feature, a FeatureCollection (its last feature) or a bare geometry. A Leaflet.draw circle
    arrives as a Point with `properties.radius` in metres; it becomes a geodesic circle polygon.

    Returns None when nothing is drawn. Raises InvalidAOI (with a reason to show the analyst) for
    anything else unusable: not an area, coordinates out of range, a self-intersecting ring that
    cannot be repaired, a size outside [MIN_AOI_AREA_M2, MAX_AOI_AREA_KM2] or a polar cap.
    Self-intersections are repaired with make_valid (a bow-tie becomes its two triangles).
    Across the antimeridian Leaflet hands back continuous longitudes (170 .. 190); the result is
    split at +/-180 into a MultiPolygon, as RFC 7946 asks, with every longitude in [-180, 180].
    """
    feature = _pick_feature(drawing)
    if feature is None:
        return None
    geometry = feature.get("geometry") if feature.get("type") == "Feature" else feature
    if not isinstance(geometry, Mapping):
        raise InvalidAOI("the drawing has no geometry")
    props = (feature.get("properties") or {}) if feature.get("type") == "Feature" else {}
    kind = geometry.get("type")
    coords = geometry.get("coordinates")

    if kind == "Point":
        radius = props.get("radius") if isinstance(props, Mapping) else None
        if radius is None:
            raise InvalidAOI("a point is not an area: draw a polygon, rectangle or circle")
        lon, lat = _position(coords)
        rings = [[_circle_ring(lon, lat, _radius(radius))]]
    elif kind == "Polygon":
        rings = [_rings(coords)]
    elif kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            raise InvalidAOI("empty MultiPolygon")
        rings = [_rings(p) for p in coords]
    else:
        raise InvalidAOI(f"a {kind or 'shape without a type'} is not an area: "
                         "draw a polygon, rectangle or circle")

    if sum(len(r) for poly in rings for r in poly) > MAX_VERTICES:
        raise InvalidAOI(f"too many vertices (over {MAX_VERTICES:,})")
    parts = [_normalised_polygon(poly) for poly in rings]
    geom = shapely.union_all(parts) if len(parts) > 1 else parts[0]
    geom = _polygonal(geom)
    area_km2 = aoi_area_km2(geom)
    if area_km2 * 1e6 < MIN_AOI_AREA_M2:
        raise InvalidAOI("the area is empty (a click without a drag?)")
    if area_km2 > MAX_AOI_AREA_KM2:
        raise InvalidAOI(f"the area is {area_km2:,.0f} km², over the {MAX_AOI_AREA_KM2:,.0f} km² limit")
    return _split_antimeridian(geom)


def aoi_area_km2(aoi: BaseGeometry) -> float:
    """Area on the WGS84 ellipsoid of the shape as drawn on the map.

    Edges are first cut into pieces of at most 0.1 degree: the map draws an edge as a straight
    line in lon/lat (a rectangle's sides follow parallels), while a geodesic between two far
    vertices bows towards the pole, which would miscount a large rectangle by about 1%.
    """
    return abs(_GEOD.geometry_area_perimeter(shapely.segmentize(aoi, 0.1))[0]) / 1e6


def circle_polygon(lon: float, lat: float, radius_m: float, segments: int = CIRCLE_SEGMENTS) -> shapely.Polygon:
    """A geodesic circle on WGS84: every vertex exactly `radius_m` from the centre (pyproj.Geod).

    Longitudes are continuous (may pass +/-180); `aoi_from_drawing` splits them.
    """
    return shapely.Polygon(_circle_ring(lon, lat, radius_m, segments))


def _pick_feature(drawing: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if drawing is None:
        return None
    if not isinstance(drawing, Mapping):
        raise InvalidAOI("the drawing is not a GeoJSON object")
    if "all_drawings" in drawing or "last_active_drawing" in drawing:  # st_folium's return value
        drawings = drawing.get("all_drawings")
        if isinstance(drawings, list):
            return _pick_feature(drawings[-1]) if drawings else None
        return _pick_feature(drawing.get("last_active_drawing"))
    if drawing.get("type") == "FeatureCollection":
        features = drawing.get("features") or []
        return _pick_feature(features[-1]) if features else None
    if not drawing.get("type"):
        return None  # {} is what an untouched component can hold
    return drawing


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidAOI(f"{what} is not a number: {value!r}"[:200])
    value = float(value)
    if not math.isfinite(value):
        raise InvalidAOI(f"{what} is not finite")
    return value


def _position(value: Any) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) < 2:
        raise InvalidAOI("a position must be [lon, lat]")
    lon, lat = _number(value[0], "longitude"), _number(value[1], "latitude")
    if not -90 <= lat <= 90:
        raise InvalidAOI(f"latitude {lat} is outside [-90, 90]")
    if not -540 <= lon <= 540:  # Leaflet world copies: a few turns at most
        raise InvalidAOI(f"longitude {lon} is out of range")
    return lon, lat


def _radius(value: Any) -> float:
    r = _number(value, "circle radius")
    if r <= 0:
        raise InvalidAOI("the circle has no radius")
    if r > MAX_CIRCLE_RADIUS_M:
        raise InvalidAOI(f"the circle radius is {r / 1000:,.0f} km, over the {MAX_CIRCLE_RADIUS_M / 1000:,.0f} km limit")
    return r


def _rings(value: Any) -> list[list[tuple[float, float]]]:
    if not isinstance(value, list) or not value:
        raise InvalidAOI("a polygon needs at least one ring")
    rings = []
    for ring in value:
        if not isinstance(ring, list) or len(ring) > MAX_VERTICES:
            raise InvalidAOI("a polygon ring must be a list of positions")
        pts = [_position(p) for p in ring]
        if len(pts) >= 2 and pts[0] == pts[-1]:
            pts = pts[:-1]
        if len(set(pts)) < 3:
            raise InvalidAOI("the area is empty (fewer than three distinct corners)")
        rings.append(pts)
    return rings


def _circle_ring(lon: float, lat: float, radius_m: float, segments: int = CIRCLE_SEGMENTS) -> list[tuple[float, float]]:
    az = np.linspace(0.0, 360.0, segments, endpoint=False)
    lons, lats, _ = _GEOD.fwd(np.full(segments, lon), np.full(segments, lat), az, np.full(segments, radius_m))
    lons = np.rad2deg(np.unwrap(np.deg2rad(np.asarray(lons))))  # continuous over +/-180
    if np.ptp(lons) >= 180 or np.max(np.abs(lats)) >= 89.5:
        raise InvalidAOI("the circle reaches a pole")
    return [(float(x), float(y)) for x, y in zip(lons, lats)]


def _normalised_polygon(rings: list[list[tuple[float, float]]]) -> BaseGeometry:
    """Continuous longitudes per ring, shifted so the shape starts in [-180, 180); repaired.

    Each edge is read the short way round (170 -> -170 is a 20 degree hop east over the
    antimeridian, not 340 degrees west), which is what Leaflet's continuous coordinates and
    antimeridian-cut GeoJSON both mean; an AOI wider than 180 degrees is refused outright.
    """
    fixed = []
    shift = None
    for ring in rings:
        xy = np.asarray(ring, dtype=float)
        xy[:, 0] = np.rad2deg(np.unwrap(np.deg2rad(xy[:, 0])))
        if np.ptp(xy[:, 0]) > 180:  # edges are read the short way round, so this is a real width
            raise InvalidAOI("the area is wider than 180 degrees of longitude")
        if shift is None:
            shift = -360.0 * math.floor((xy[:, 0].min() + 180.0) / 360.0)
        xy[:, 0] += shift
        fixed.append(xy)
    poly = shapely.Polygon(fixed[0], fixed[1:])
    if not poly.is_valid:
        try:
            poly = shapely.make_valid(poly, method="structure", keep_collapsed=False)
        except TypeError:  # shapely < 2.1
            poly = shapely.make_valid(poly)
        poly = _polygonal(poly)
    return poly


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        out = geom
    else:
        parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
        out = shapely.union_all(parts) if parts else shapely.Polygon()
    if out.is_empty:
        raise InvalidAOI("the outline encloses no area (its corners are in a line or it folds onto itself)")
    return out


def _split_antimeridian(geom: BaseGeometry) -> BaseGeometry:
    minx, _, maxx, _ = geom.bounds
    if minx >= -180 and maxx <= 180:
        return geom
    world = shapely.box(-180, -90, 180, 90)
    # _normalised_polygon put the west edge in [-180, 180): what lies east of 180 is one turn over.
    pieces = [geom.intersection(world),
              shapely.transform(geom, lambda c: c - np.array([360.0, 0.0])).intersection(world)]
    parts = []
    for piece in pieces:
        if piece.is_empty:
            continue
        parts.extend(getattr(piece, "geoms", [piece]))
    polys = [p for p in parts if p.geom_type == "Polygon" and p.area > 0]
    if not polys:
        raise InvalidAOI("the area is empty")
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def drawing_summary(aoi: BaseGeometry | None) -> str:
    """'1,234.5 km², centre 45.12 N 19.84 E' for a caption under the map (plain text, no HTML)."""
    if aoi is None:
        return "No area of interest drawn"
    area_km2 = aoi_area_km2(aoi)
    c = aoi.representative_point()
    return (f"{area_km2:,.1f} km², around {abs(c.y):.2f} {'N' if c.y >= 0 else 'S'} "
            f"{abs(c.x):.2f} {'E' if c.x >= 0 else 'W'}")
