"""The Leaflet map's drawing and measuring tools, and the area of interest read back from a drawing."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import folium
import folium.plugins
import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

from layers.map.leaflet.assets import _use_assets

_GEOD = Geod(ellps="WGS84")

_AOI_DRAW_STYLE = {"color": "#ffb020", "weight": 3, "fillOpacity": 0.08}


class InvalidAOI(ValueError):
    """A drawn area of interest that cannot be used; the message says why, for the analyst."""


def add_draw_tools(m: folium.Map, assets: Mapping[str, Mapping[str, list[tuple[str, str]]]]) -> None:
    """Leaflet.draw (areas only: an AOI is an area) and leaflet-measure, from the vendored assets."""
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
