"""The Leaflet map's layers: each operational layer as one GeoJSON FeatureGroup, styled as the
pydeck map (`layers.style`), its tips escaped HTML bound by Leaflet (never spliced into code)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.utilities import JsCode
from shapely.geometry.base import BaseGeometry

from layers import style
from layers.map.deck.base import tooltips

SIMPLIFY_DEG = 0.01  # borders: ~1 km, as the pydeck basemap
CLOUDY_PERCENT = 30  # imagery footprints above this are drawn as cloudy (as layers.map.deck.imagery)

_CSS = f"""<style>
.leaflet-container {{ background: {style.BACKGROUND}; }}
.leaflet-tooltip.wf-tip, .wf-popup .leaflet-popup-content-wrapper, .wf-popup .leaflet-popup-tip {{
  background: #111a2b; color: #e8eef8; border: 1px solid #3a4a66; font-size: 14px; }}
.leaflet-tooltip.wf-tip {{ max-width: 420px; white-space: normal; }}
.wf-popup .leaflet-popup-content {{ max-width: 420px; overflow-wrap: anywhere; }}
.wf-note {{ background: rgba(17, 26, 43, 0.9); color: #ffb020; padding: 4px 8px; font-size: 13px;
  border: 1px solid #3a4a66; max-width: 420px; }}
</style>"""

# Tips are escaped HTML (layers.map.deck.base.tooltips) inside the GeoJSON properties; bound as
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


def _tak_features(frame: gpd.GeoDataFrame) -> dict:
    """TAK drawings in their own colours (layers.map.deck.overlays.rgba), lines unfilled."""
    from layers.map.deck.overlays import DEFAULT_FILL, DEFAULT_LINE, rgba

    tips = tooltips(frame, [f"TAK {k}: {t}" for k, t in zip(_col(frame, "kind", ""), _titles(frame, "label", default=""))],
                    [("Geofence", "geofence_trigger"), ("Sent by", "sender_uid"), ("Remarks", "remarks"),
                     ("Drawn", "drawn_at"), ("Marking", "marking")])
    feats = []
    for g, t, line, fill in zip(frame.geometry.values, tips, _col(frame, "stroke_color"), _col(frame, "fill_color")):
        area = g.geom_type in ("Polygon", "MultiPolygon")
        st = _path_style(rgba(line, DEFAULT_LINE), rgba(fill, DEFAULT_FILL) if area else None, weight=2)
        feats.append(_feature(g, {"tip": t, "style": st}, digits=6))
    return _collection(feats)


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
