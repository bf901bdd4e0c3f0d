"""What a viewer has chosen to look at, as one value: time window, filters, layers, area, viewport.

One `View` drives the map, the tables, the charts and (later) the exports, so
what is exported is exactly what is on screen. It round-trips through URL
query parameters, so a link reopens the same view.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import pandas as pd
import shapely

WINDOWS: dict[str, float] = {"1h": 1, "6h": 6, "24h": 24, "7d": 168}
DEFAULT_WINDOW = "24h"
DEFAULT_LAYERS: tuple[str, ...] = ("borders", "disputed_areas", "places", "imagery", "infrastructure",
                                   "overlays", "deployments", "tracks", "incidents", "alerts")
ALL_LAYERS: tuple[str, ...] = DEFAULT_LAYERS + ("hotspots",)
# The wall shows what needs attention; imagery footprints (for analysts) would cross out its symbols.
WALL_LAYERS: tuple[str, ...] = tuple(name for name in DEFAULT_LAYERS if name != "imagery")


@dataclass(frozen=True)
class Viewport:
    longitude: float
    latitude: float
    zoom: float

    def to_param(self) -> str:
        return f"{self.longitude:.4f},{self.latitude:.4f},{self.zoom:.2f}"

    @classmethod
    def from_param(cls, text: str | None) -> Viewport | None:
        try:
            lon, lat, zoom = (float(v) for v in (text or "").split(","))
        except ValueError:
            return None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90 and 0 <= zoom <= 22):
            return None
        return cls(lon, lat, zoom)


@dataclass(frozen=True)
class View:
    window: str = DEFAULT_WINDOW  # a WINDOWS key, or "custom"
    start: datetime | None = None  # for "custom"
    end: datetime | None = None
    categories: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    nations: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    layers: tuple[str, ...] = DEFAULT_LAYERS
    country: str | None = None  # area of interest picked as a country (ISO alpha-3)
    aoi_wkt: str | None = None  # area of interest drawn on the map
    viewport: Viewport | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def span(self, now: datetime) -> tuple[datetime, datetime]:
        if self.window == "custom" and self.start and self.end:
            return self.start, self.end
        hours = WINDOWS.get(self.window, WINDOWS[DEFAULT_WINDOW])
        return now - timedelta(hours=hours), now

    def with_(self, **changes) -> View:
        return replace(self, **changes)

    # -- URL round trip -------------------------------------------------------------
    def to_params(self) -> dict[str, str]:
        """Only what differs from the default view, so links stay short."""
        out: dict[str, str] = {}
        if self.window != DEFAULT_WINDOW:
            out["w"] = self.window
        if self.window == "custom" and self.start and self.end:
            out["from"] = pd.Timestamp(self.start).strftime("%Y-%m-%dT%H:%MZ")
            out["to"] = pd.Timestamp(self.end).strftime("%Y-%m-%dT%H:%MZ")
        for key, values in (("cat", self.categories), ("sev", self.severities), ("st", self.statuses),
                            ("nat", self.nations), ("src", self.sources)):
            if values:
                out[key] = ",".join(values)
        if tuple(self.layers) != DEFAULT_LAYERS:
            out["lyr"] = ",".join(self.layers) or "-"
        if self.country:
            out["aoi_country"] = self.country
        if self.aoi_wkt:
            out["aoi"] = self.aoi_wkt
        if self.viewport:
            out["v"] = self.viewport.to_param()
        return out

    @classmethod
    def from_params(cls, params: dict[str, str | list[str]]) -> View:
        """Parse loosely: anything unreadable falls back to the default, never an error page."""
        def get(key: str) -> str | None:
            v = params.get(key)
            return v[-1] if isinstance(v, list) and v else (v if isinstance(v, str) else None)

        def many(key: str) -> tuple[str, ...]:
            v = get(key)
            return tuple(s for s in (v or "").split(",") if s and s != "-")

        window = get("w") or DEFAULT_WINDOW
        start = end = None
        if window == "custom":
            try:
                start, end = (pd.Timestamp(get(k)) for k in ("from", "to"))
                start, end = ((t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")).to_pydatetime()
                              for t in (start, end))
            except (TypeError, ValueError):
                window = DEFAULT_WINDOW
            else:
                if start >= end:
                    window, start, end = DEFAULT_WINDOW, None, None
        elif window not in WINDOWS:
            window = DEFAULT_WINDOW
        layers = many("lyr") if get("lyr") is not None else DEFAULT_LAYERS
        aoi = get("aoi")
        if aoi:
            try:
                g = shapely.from_wkt(aoi)
                aoi = g.wkt if g is not None and g.is_valid and not g.is_empty else None
            except shapely.errors.GEOSException:
                aoi = None
        return cls(window=window, start=start, end=end, categories=many("cat"), severities=many("sev"),
                   statuses=many("st"), nations=many("nat"), sources=many("src"),
                   layers=tuple(l for l in layers if l in ALL_LAYERS), country=get("aoi_country") or None,
                   aoi_wkt=aoi, viewport=Viewport.from_param(get("v")))


def area_of_interest(view: View, borders: gpd.GeoDataFrame) -> shapely.Geometry | None:
    """The view's area: a drawn shape, else a picked country's polygon, else None (everywhere)."""
    if view.aoi_wkt:
        return shapely.from_wkt(view.aoi_wkt)
    if view.country and not borders.empty:
        hit = borders[borders["country_code"] == view.country]
        if not hit.empty:
            return shapely.union_all(hit.geometry.values)
    return None


def apply_view(picture: dict[str, gpd.GeoDataFrame], view: View, now: datetime | None = None
               ) -> dict[str, gpd.GeoDataFrame]:
    """The picture as the view shows it. Never mutates the (shared, cached) input frames."""
    now = now or datetime.now(UTC)
    start, end = view.span(now)
    aoi = area_of_interest(view, picture.get("borders", gpd.GeoDataFrame()))
    out: dict[str, gpd.GeoDataFrame] = {}
    for name, frame in picture.items():
        f = frame
        if name == "incidents" and not f.empty:
            f = f[(f["occurred_at"] >= start) & (f["occurred_at"] <= end)]
            f = _isin(f, "category", view.categories)
            f = _isin(f, "severity", view.severities)
            f = _isin(f, "status", view.statuses)
        elif name == "tracks" and not f.empty:
            f = f[(f["last_seen"] >= start) & (f["first_seen"] <= end)]
        elif name == "imagery" and not f.empty:
            f = f[(f["acquired_at"] >= start) & (f["acquired_at"] <= end)]
        elif name == "deployments" and not f.empty:
            f = _isin(f, "nation", view.nations)
        elif name == "alerts" and not f.empty:
            f = f[(f["time"] >= start) & (f["time"] <= end)]
            f = _isin(f, "severity", view.severities)
        if name in ("incidents", "tracks", "imagery", "deployments", "overlays") and not f.empty:
            f = _isin(f, "source", view.sources)
        if aoi is not None and not f.empty:
            f = _within_area(f, aoi)
        out[name] = f
    return out


def _within_area(frame: gpd.GeoDataFrame, aoi: shapely.Geometry) -> gpd.GeoDataFrame:
    """The records that intersect the area, kept whole: every layer, reference layers too.

    Whole, not cut at the area's edge: a border, a track or a unit's position that reaches into
    the area is one record, and a GIS user expects that record with its own geometry (cut shapes
    would be new geometries no source holds, and would not re-ingest as the same record). A second
    geometry (a unit's area of responsibility) reaching into the area keeps its record too."""
    if not isinstance(frame, gpd.GeoDataFrame) or frame.active_geometry_name not in frame:
        return frame
    hit = frame.intersects(aoi).to_numpy(dtype=bool).copy()
    for col in frame.columns:
        if col != frame.geometry.name and isinstance(frame[col].dtype, gpd.array.GeometryDtype):
            hit |= frame[col].intersects(aoi).fillna(False).to_numpy(dtype=bool)
    return frame[hit]


def _isin(frame: gpd.GeoDataFrame, column: str, values: tuple[str, ...]) -> gpd.GeoDataFrame:
    if not values or column not in frame:
        return frame
    return frame[frame[column].isin(values)]


def wall_view(view: View) -> View:
    """The view on the wall: the session's, without imagery footprints unless layers were chosen.
    Derived, not stored: the session's own layers stay as they are for the other pages."""
    return view.with_(layers=WALL_LAYERS) if tuple(view.layers) == DEFAULT_LAYERS else view
