"""The analyst's folium map: offline assets, escaped feed text, feature caps, drawn areas of interest.

The browser test at the end serves a throwaway Streamlit script that shows the map. Streamlit's
static serving (`server.enableStaticServing`, on in .streamlit/config.toml) serves the `static/`
folder next to the *main script*, so the script is written to a temporary folder holding a
symlink `static -> dashboard/static` (a copy where symlinks are unavailable), and Streamlit runs
with the repository as working directory so it reads the repository's .streamlit/config.toml.
Nothing under dashboard/ is touched.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import folium
import folium.plugins
import geopandas as gpd
import pandas as pd
import pytest
import requests
import shapely
from pyproj import Geod

from layers import style
from layers.map.deck.base import escape
from layers.map.leaflet import (
    LEAFLET,
    LEAFLET_DRAW,
    LEAFLET_MEASURE,
    RETURNED_OBJECTS,
    VENDOR_BASE,
    InvalidAOI,
    RemoteAssetError,
    aoi_area_km2,
    aoi_from_drawing,
    build_analyst_map,
    check_offline,
    check_tile_url,
    circle_polygon,
    thin,
    tile_settings,
    view_for_bounds,
)
from tests.conftest import ARTIFACTS, ROOT, free_port, wait_for_streamlit

STATIC = ROOT / "dashboard" / "static"
VENDOR = STATIC / "vendor"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
GEOD = Geod(ellps="WGS84")
HOSTILE = "<img src=x onerror=alert(1)> </script><script>alert(2)</script> `${alert(3)}` \"quoted\" 'single'"


# --- a small picture ---------------------------------------------------------------------------


def _picture(n_incidents: int = 3, hostile: str = HOSTILE) -> dict[str, gpd.GeoDataFrame]:
    t = pd.Timestamp("2026-11-21T11:00Z")
    sev = ["low", "medium", "high", "critical"]
    incidents = gpd.GeoDataFrame({
        "source": "test", "source_id": [f"i{i}" for i in range(n_incidents)],
        "title": [hostile if i == 0 else f"incident {i}" for i in range(n_incidents)],
        "category": "armed clash", "severity": [sev[i % 4] for i in range(n_incidents)],
        "status": "reported", "description": [hostile] * n_incidents,
        "occurred_at": [t - pd.Timedelta(minutes=i) for i in range(n_incidents)],
        "marking": "UNCLASSIFIED",
    }, geometry=[shapely.Point(20 + (i % 50) * 0.01, 44 + (i // 50) * 0.01) for i in range(n_incidents)],
        crs=4326)
    deployments = gpd.GeoDataFrame({
        "nation": ["FRA", "DEU"], "unit_name": ["1er RI", "PzBtl 393"], "unit_type": "infantry",
        "reported_at": [t, t], "area": [shapely.box(19.5, 43.5, 20.5, 44.5), None],
    }, geometry=[shapely.Point(20, 44), shapely.Point(21, 44.5)], crs=4326)
    tracks = gpd.GeoDataFrame({
        "track_id": ["uav-1", "uav-2"], "callsign": ["RAVEN 1", None],
        "last_seen": [t, t - pd.Timedelta(hours=2)],
        "stale_at": [pd.Timestamp("2026-11-21T13:00Z"), pd.Timestamp("2026-11-21T10:00Z")],
    }, geometry=[shapely.LineString([(20, 44), (20.2, 44.1), (20.4, 44.1)]), shapely.Point(21, 45)], crs=4326)
    imagery = gpd.GeoDataFrame({"platform": ["sentinel-2a"], "cloud_cover": [12.0], "acquired_at": [t]},
                               geometry=[shapely.box(19, 43, 21, 45)], crs=4326)
    infrastructure = gpd.GeoDataFrame({"kind": ["airport", "restricted_zone"], "name": ["LYBE", "zone"]},
                                      geometry=[shapely.Point(20.3, 44.8), shapely.box(20, 44, 20.1, 44.1)],
                                      crs=4326)
    borders = gpd.GeoDataFrame({"country_code": ["SRB"], "name": ["Serbia"]},
                               geometry=[shapely.box(18.8, 42.2, 23.0, 46.2)], crs=4326)
    disputed = gpd.GeoDataFrame({"name": ["Kosovo"], "claimants": ["SRB,XKX"]},
                                geometry=[shapely.box(20.0, 42.0, 21.8, 43.2)], crs=4326)
    return {"incidents": incidents, "deployments": deployments, "tracks": tracks, "imagery": imagery,
            "infrastructure": infrastructure, "borders": borders, "disputed_areas": disputed}


def _html(m: folium.Map) -> str:
    return m.get_root().render()


def _geojson_layers(m: folium.Map) -> dict[str, dict]:
    """Layer title -> the GeoJSON data embedded for it."""
    out = {}
    for group in m._children.values():
        if isinstance(group, folium.FeatureGroup):
            for child in group._children.values():
                if isinstance(child, folium.GeoJson):
                    out[group.layer_name] = child.data
    return out


# --- offline assets ----------------------------------------------------------------------------

ASSET_ATTR = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)


def test_html_references_only_vendored_assets():
    html = _html(build_analyst_map(_picture(), center=(44, 20), zoom=7, now=NOW))
    urls = ASSET_ATTR.findall(html)
    assert urls, "no script or stylesheet found"
    assert all(u.startswith(f"{VENDOR_BASE}/") for u in urls), urls
    tags = re.findall(r"<(?:script|link)\b[^>]*>", html, re.IGNORECASE)
    assert not [t for t in tags if re.search(r"(?:https?:)?//", t)], "a tag loads from another origin"
    for u in urls:  # and each one is really there to be served
        assert (STATIC / u.removeprefix("/app/static/")).is_file(), u
    for lib in (LEAFLET, LEAFLET_DRAW, LEAFLET_MEASURE):
        assert any(f"/{lib}/" in u for u in urls), lib


def test_streamlit_folium_links_are_local():
    """streamlit-folium ignores folium's page and loads every element's default_js/default_css
    itself, in the component iframe: those must all be origin-relative vendored files."""
    m = build_analyst_map(_picture(), center=(44, 20), zoom=7, now=NOW)
    links = []

    def walk(e):
        if isinstance(e, folium.elements.JSCSSMixin):
            links.extend(url for _, url in [*e.default_js, *e.default_css])
        for c in getattr(e, "_children", {}).values():
            walk(c)

    walk(m)
    assert links and all(u.startswith(f"{VENDOR_BASE}/") for u in links), links
    # folium's class-level CDN lists are untouched (instance overrides only)
    assert folium.Map.default_js[0][1].startswith("https://")
    assert folium.plugins.Draw.default_js[0][1].startswith("https://")


def test_vendored_css_urls_resolve_and_nothing_remote():
    for css in VENDOR.rglob("*.css"):
        for ref in re.findall(r"url\(\s*['\"]?([^'\")]+)", css.read_text()):
            if ref.startswith(("#", "data:")):
                continue
            assert not re.match(r"(?:https?:)?//", ref), f"{css}: {ref}"
            assert (css.parent / ref).is_file(), f"{css}: {ref} missing"


def test_vendored_files_are_pinned_licensed_and_small():
    sums = (VENDOR / "SHA256SUMS").read_text().split("\n")
    listed = {}
    for line in filter(None, sums):
        digest, name = line.split(maxsplit=1)
        listed[name.strip()] = digest
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    files = [p for p in VENDOR.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    assert total < 2_000_000, total
    for lib in (LEAFLET, LEAFLET_DRAW, LEAFLET_MEASURE):
        assert (VENDOR / lib / "LICENSE").is_file(), lib
        assert lib in (VENDOR / "README.md").read_text()
    assert "enableStaticServing = true" in (ROOT / ".streamlit" / "config.toml").read_text()


def test_streamlit_folium_component_bundle_loads_nothing_remote():
    import streamlit_folium

    build = Path(streamlit_folium.__file__).parent / "frontend" / "build"
    index = (build / "index.html").read_text()
    assert not re.search(r"(?:src|href)=[\"']?(?:https?:)?//", index), index
    for js in (build / "static" / "js").glob("*.js"):
        # Only a React error-decoder link appears, as a string in an error message.
        urls = set(re.findall(r"https?://[\w./-]+", js.read_text(errors="replace")))
        assert urls <= {"https://reactjs.org/docs/error-decoder.html"}, urls


def test_check_offline_refuses_a_cdn_plugin():
    m = build_analyst_map(_picture(), center=(44, 20), zoom=7, now=NOW)
    folium.plugins.Fullscreen().add_to(m)  # defaults to cdn.jsdelivr.net
    with pytest.raises(RemoteAssetError, match="cdn"):
        check_offline(m)


def test_no_streamlit_import():
    code = "import sys, layers.map.leaflet; assert 'streamlit' not in sys.modules, 'streamlit imported'"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# --- tiles ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/app/static/tiles/{z}/{x}/{y}.png", "http://127.0.0.1:8080/{z}/{x}/{y}.png",
                                 "https://localhost/t/{z}/{x}/{y}.png", "http://[::1]:9000/{z}/{x}/{y}.pbf",
                                 "http://127.8.0.1/{z}/{x}/{y}.png"])
def test_local_tile_urls_accepted(url):
    assert check_tile_url(url) == url
    m = build_analyst_map(_picture(), center=(44, 20), zoom=7, now=NOW, tile_url=url)
    assert any(isinstance(c, folium.TileLayer) and c.tiles == url for c in m._children.values())


@pytest.mark.parametrize("url", ["https://tile.openstreetmap.org/{z}/{x}/{y}.png", "//evil.example/{z}/{x}/{y}.png",
                                 "http://10.0.0.5/{z}/{x}/{y}.png", "http://127.0.0.1.nip.io/{z}/{x}/{y}.png",
                                 "http://localhost.example.com/{z}/{x}/{y}.png", "file:///tiles/{z}/{x}/{y}.png",
                                 "javascript:alert(1)//{z}{x}{y}", "/app/static/tiles/{z}.png",
                                 "https://{s}.localhost/{z}/{x}/{y}.png", "/\\evil.example/{z}/{x}/{y}.png"])
def test_remote_or_odd_tile_urls_refused(url):
    with pytest.raises(ValueError):
        check_tile_url(url)
    with pytest.raises(ValueError):
        build_analyst_map(_picture(), center=(44, 20), zoom=7, now=NOW, tile_url=url)


def test_tile_settings():
    assert tile_settings({}) == (None, "Local tiles")
    url = "/app/static/tiles/{z}/{x}/{y}.png"
    assert tile_settings({"map": {"tile_url": url, "tile_attribution": "NMA"}}) == (url, "NMA")
    with pytest.raises(ValueError, match="not local"):
        tile_settings({"map": {"tile_url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png"}})


def test_no_basemap_tiles_by_default():
    m = build_analyst_map(_picture(), center=(44, 20), zoom=7, now=NOW)
    assert not [c for c in m._children.values() if isinstance(c, folium.TileLayer)]
    assert "L.tileLayer" not in _html(m)


# --- escaping ------------------------------------------------------------------------------------


def test_feed_text_is_escaped_never_markup():
    m = build_analyst_map(_picture(), center=(44, 20), zoom=7, now=NOW)
    html = _html(m)
    for raw in ("<script>alert", "<img src=x", "</script><script>", "onerror=alert(1)>"):
        assert raw not in html, raw
    # The only <script> tags are folium's own: the vendored files and the map code.
    assert len(re.findall(r"<script\b", html, re.IGNORECASE)) == len(re.findall(r"</script>", html, re.IGNORECASE))
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html.replace("\\u0026", "&")

    incidents = _geojson_layers(m)["Incidents"]["features"]
    tip = next(f["properties"]["tip"] for f in incidents if "alert(1)" in f["properties"]["tip"])
    assert escape(HOSTILE) in tip  # title and notes: escaped once, by layers.map.deck.base.escape
    assert "<img" not in tip and "<script" not in tip
    # Backticks and ${...} only ever travel inside JSON strings, never in a JS template literal.
    for line in html.splitlines():
        if "alert(3)" in line:
            assert line.lstrip().startswith(("geo_json_", "{")) or '"tip":' in line, line[:200]


# --- layers and caps ------------------------------------------------------------------------------


def test_layers_and_controls():
    m = build_analyst_map(_picture(), center=(44, 20), zoom=7, now=NOW)
    layers = _geojson_layers(m)
    assert {"Borders", "Disputed areas", "Imagery footprints", "Critical infrastructure", "Partner deployments",
            "Tracks", "Incidents"} <= set(layers)
    html = _html(m)
    assert "L.Control.Draw" in html and "L.Control.Measure" in html and "L.control.layers" in html
    assert '"preferCanvas": true' in html
    draw = next(c for c in m._children.values() if isinstance(c, folium.plugins.Draw))
    assert draw.draw_options["marker"] is False and draw.draw_options["polyline"] is False
    assert {"polygon", "rectangle", "circle"} <= {k for k, v in draw.draw_options.items() if v}
    measure = next(c for c in m._children.values() if isinstance(c, folium.plugins.MeasureControl))
    assert measure.options["primary_length_unit"] == "kilometers"
    # severity colours from layers/style.py; stale tracks greyed
    sev = [f["properties"]["style"]["fillColor"] for f in layers["Incidents"]["features"]]
    assert sev == [style.hex_colour(style.SEVERITY[s]) for s in ("low", "medium", "high")]
    track_colours = {f["properties"]["style"]["fillColor" if f["geometry"]["type"] == "Point" else "color"]
                     for f in layers["Tracks"]["features"]}  # uav-2 is past its stale time
    assert track_colours == {style.hex_colour(style.TRACK_ACTIVE), style.hex_colour(style.TRACK_STALE)}
    border_style = layers["Borders"]["features"][0]["properties"]["style"]
    assert border_style["fillColor"] == style.hex_colour(style.LAND)
    assert border_style["color"] == style.hex_colour(style.BORDER_LINE)


def test_feature_cap_keeps_most_severe_and_says_how_many_were_left_out():
    pic = _picture(n_incidents=500)
    m = build_analyst_map(pic, center=(44, 20), zoom=7, max_features=100, now=NOW)
    assert m.watchfloor_omitted == {"incidents": 400}
    layers = _geojson_layers(m)
    assert "Incidents (100 of 500)" in layers
    kept = layers["Incidents (100 of 500)"]["features"]
    assert len(kept) == 100
    critical = style.hex_colour(style.SEVERITY["critical"])
    assert {f["properties"]["style"]["fillColor"] for f in kept} == {critical}  # 125 critical exist
    html = _html(m)
    assert "Not drawn (over 100 per layer): 400 incidents" in html
    assert "textContent" in html  # the note is text, not HTML


def test_thin_orders_by_time_for_other_layers():
    t = pd.Timestamp("2026-11-21T00:00Z")
    f = gpd.GeoDataFrame({"last_seen": [t, t + pd.Timedelta(hours=2), t + pd.Timedelta(hours=1)]},
                         geometry=[shapely.Point(0, 0)] * 3, crs=4326)
    kept, left_out = thin(f, "tracks", 2)
    assert left_out == 1 and list(kept["last_seen"]) == [t + pd.Timedelta(hours=2), t + pd.Timedelta(hours=1)]
    assert thin(f, "tracks", 5) == (f, 0)


def test_empty_and_missing_layers():
    m = build_analyst_map({}, center=(0, 0), zoom=2)
    assert _geojson_layers(m) == {}
    empty = _picture()
    empty["incidents"] = empty["incidents"].iloc[:0]
    assert "Incidents" not in _geojson_layers(build_analyst_map(empty, center=(44, 20), zoom=7, now=NOW))


def test_center_is_lat_lon_and_view_helper():
    with pytest.raises(ValueError):
        build_analyst_map({}, center=(120.0, 10.0), zoom=5)  # lon/lat by mistake
    (lat, lon), zoom = view_for_bounds((19.0, 42.0, 23.0, 46.0))
    assert (lat, lon) == (44.0, 21.0) and 5 <= zoom <= 9


def test_antimeridian_track_is_drawn_short_way():
    pic = _picture()
    pic["tracks"] = gpd.GeoDataFrame({"track_id": ["x"], "last_seen": [pd.Timestamp("2026-11-21T11:00Z")]},
                                     geometry=[shapely.LineString([(179.5, 0), (-179.5, 0.5)])], crs=4326)
    m = build_analyst_map(pic, center=(0, 180), zoom=5, now=NOW)
    line = next(f for f in _geojson_layers(m)["Tracks"]["features"] if f["geometry"]["type"] == "LineString")
    assert line["geometry"]["coordinates"][1][0] == pytest.approx(180.5)


# --- areas of interest -----------------------------------------------------------------------------


def _feature(geometry: dict, properties: dict | None = None) -> dict:
    return {"type": "Feature", "properties": properties or {}, "geometry": geometry}


# As streamlit-folium returns them (captured from the browser test's map).
RECTANGLE = _feature({"type": "Polygon", "coordinates": [[[18.676758, 43.444943], [18.676758, 44.394542],
                                                          [20.874023, 44.394542], [20.874023, 43.444943],
                                                          [18.676758, 43.444943]]]})
POLYGON = _feature({"type": "Polygon", "coordinates": [[[20.874023, 45.174293], [22.521973, 45.019185],
                                                        [22.192383, 44.000718], [20.76416, 44.158563],
                                                        [20.874023, 45.174293]]]})
CIRCLE = _feature({"type": "Point", "coordinates": [16.479492, 44.000718]}, {"radius": 61512.423914049665})


def _geod_area_km2(g) -> float:
    return abs(GEOD.geometry_area_perimeter(g)[0]) / 1e6


def test_rectangle():
    aoi = aoi_from_drawing(RECTANGLE)
    assert aoi.geom_type == "Polygon" and aoi.is_valid
    assert aoi.bounds == pytest.approx((18.676758, 43.444943, 20.874023, 44.394542))
    assert _geod_area_km2(aoi) == pytest.approx(18_618, rel=0.01)


def test_polygon_and_st_folium_return_value():
    result = {"all_drawings": [RECTANGLE, POLYGON], "last_active_drawing": POLYGON}
    aoi = aoi_from_drawing(result)
    assert aoi.equals(shapely.geometry.shape(POLYGON["geometry"]))
    assert aoi_from_drawing(POLYGON).equals(aoi)
    assert aoi_from_drawing(POLYGON["geometry"]).equals(aoi)  # a bare geometry
    assert aoi_from_drawing({"type": "FeatureCollection", "features": [RECTANGLE, POLYGON]}).equals(aoi)
    assert set(RETURNED_OBJECTS) == {"all_drawings", "last_active_drawing"}


def test_circle_is_geodesic():
    aoi = aoi_from_drawing(CIRCLE)
    lon, lat = CIRCLE["geometry"]["coordinates"]
    radius = CIRCLE["properties"]["radius"]
    xs, ys = aoi.exterior.coords.xy
    _, _, dist = GEOD.inv([lon] * len(xs), [lat] * len(ys), list(xs), list(ys))
    assert max(abs(d - radius) for d in dist) < 0.01  # metres: every vertex on the geodesic circle
    assert _geod_area_km2(aoi) == pytest.approx(math.pi * radius**2 / 1e6, rel=0.005)
    assert aoi.contains(shapely.Point(lon, lat))
    assert circle_polygon(lon, lat, radius).equals(aoi)


def test_bow_tie_is_repaired():
    bow_tie = _feature({"type": "Polygon", "coordinates": [[[20, 44], [21, 45], [21, 44], [20, 45], [20, 44]]]})
    aoi = aoi_from_drawing(bow_tie)
    assert aoi.is_valid and aoi.geom_type == "MultiPolygon" and len(aoi.geoms) == 2
    assert aoi.area == pytest.approx(0.5)  # both lobes kept


@pytest.mark.parametrize("drawing", [None, {}, {"all_drawings": None, "last_active_drawing": None},
                                     {"all_drawings": [], "last_active_drawing": RECTANGLE},  # deleted
                                     {"type": "FeatureCollection", "features": []}])
def test_nothing_drawn(drawing):
    assert aoi_from_drawing(drawing) is None


def test_antimeridian_rectangle_is_split():
    # Leaflet's continuous longitudes: a box from 170 E to 170 W comes back as 170 .. 190.
    box = _feature({"type": "Polygon", "coordinates": [[[170, -10], [170, 10], [190, 10], [190, -10], [170, -10]]]})
    aoi = aoi_from_drawing(box)
    assert aoi.geom_type == "MultiPolygon" and aoi.is_valid
    assert sorted(p.bounds for p in aoi.geoms) == [(-180, -10, -170, 10), (170, -10, 180, 10)]
    unsplit = shapely.box(170, -10, 190, 10)
    assert aoi_area_km2(aoi) == pytest.approx(aoi_area_km2(unsplit), rel=1e-6)
    # The same box as antimeridian-cut GeoJSON (170 -> -170) means the same 20 degrees, not 340.
    cut = _feature({"type": "Polygon", "coordinates": [[[170, -10], [170, 10], [-170, 10], [-170, -10], [170, -10]]]})
    assert aoi_from_drawing(cut).equals(aoi)
    # A world copy one turn east is the same place.
    shifted = _feature({"type": "Polygon", "coordinates": [[[380, 10], [385, 10], [385, 15], [380, 15], [380, 10]]]})
    assert aoi_from_drawing(shifted).bounds == (20, 10, 25, 15)


def test_circle_over_antimeridian():
    aoi = aoi_from_drawing(_feature({"type": "Point", "coordinates": [179.9, 0]}, {"radius": 50_000}))
    assert aoi.geom_type == "MultiPolygon" and aoi.bounds[0] == -180 and aoi.bounds[2] == 180
    assert _geod_area_km2(aoi) == pytest.approx(math.pi * 50**2, rel=0.005)


@pytest.mark.parametrize("drawing, reason", [
    (_feature({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}), "not an area"),
    (_feature({"type": "Point", "coordinates": [20, 44]}), "not an area"),
    (_feature({"type": "Polygon", "coordinates": [[[20, 44], [21, 45], [22, 46], [20, 44]]]}), "no area"),
    (_feature({"type": "Polygon", "coordinates": [[[20, 44], [20, 44], [20, 44], [20, 44]]]}), "empty"),
    (_feature({"type": "Polygon", "coordinates": [[[-60, -40], [60, -40], [60, 40], [-60, 40], [-60, -40]]]}),
     "limit"),
    (_feature({"type": "Polygon", "coordinates": [[[-100, 0], [-10, 0], [85, 0], [85, 0.1], [-10, 0.1],
                                                   [-100, 0.1], [-100, 0]]]}), "wider than 180"),
    (_feature({"type": "Polygon", "coordinates": [[[20, 44], [20, 95], [21, 44], [20, 44]]]}), "latitude"),
    (_feature({"type": "Polygon", "coordinates": [[[20, 44], [float("nan"), 45], [21, 44], [20, 44]]]}), "finite"),
    (_feature({"type": "Polygon", "coordinates": [[[20, 44], ["21", 45], [21, 44], [20, 44]]]}), "not a number"),
    (_feature({"type": "Point", "coordinates": [20, 44]}, {"radius": -5}), "no radius"),
    (_feature({"type": "Point", "coordinates": [20, 44]}, {"radius": 5e6}), "limit"),
    (_feature({"type": "Point", "coordinates": [0, 88]}, {"radius": 300_000}), "pole"),
    (_feature({"type": "Polygon", "coordinates": [[[20, 44], [20.00001, 44], [20, 44.00001], [20, 44]]]}),
     "click without a drag"),
    (_feature({"type": "Polygon", "coordinates": []}), "at least one ring"),
    ({"type": "Feature", "properties": {}}, "no geometry"),
])
def test_unusable_drawings_are_refused_with_a_reason(drawing, reason):
    with pytest.raises(InvalidAOI, match=reason):
        aoi_from_drawing(drawing)


# --- in a real browser ---------------------------------------------------------------------------

APP = '''
"""Throwaway page for tests/layers/map/test_leaflet.py: the analyst map over a small picture."""
import sys
sys.path.insert(0, {root!r})
import geopandas as gpd
import streamlit as st
from streamlit_folium import st_folium

from layers.map.leaflet import RETURNED_OBJECTS, InvalidAOI, aoi_from_drawing, build_analyst_map, drawing_summary
from tests.layers.map.test_leaflet import NOW, _picture

st.set_page_config(layout="wide")
picture = _picture(n_incidents=60)
picture["borders"] = gpd.read_parquet({borders!r}).cx[12:30, 38:50]
m = build_analyst_map(picture, center=(44.2, 20.4), zoom=7, now=NOW)
result = st_folium(m, key="analyst", height=620, use_container_width=True, returned_objects=list(RETURNED_OBJECTS))
try:
    st.write("AOI: " + drawing_summary(aoi_from_drawing(result)))
except InvalidAOI as exc:
    st.write(f"AOI refused: {{exc}}")
'''

LOCAL = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(scope="module")
def analyst_app_url(tmp_path_factory):
    """Streamlit on a loopback port, serving a throwaway script whose static/ is dashboard/static."""
    folder = tmp_path_factory.mktemp("analyst-app")
    (folder / "analyst_map_app.py").write_text(textwrap.dedent(APP.format(
        root=str(ROOT), borders=str(ROOT / "data" / "reference" / "borders.parquet"))))
    try:
        os.symlink(STATIC, folder / "static", target_is_directory=True)
    except OSError:
        shutil.copytree(STATIC, folder / "static")
    port = free_port()
    with open(folder / "streamlit.log", "w") as log:  # the child keeps its own handle
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(folder / "analyst_map_app.py"),
             "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT,  # the repository's .streamlit/config.toml: enableStaticServing = true
            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_for_streamlit(url, proc, folder / "streamlit.log", "streamlit")
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.mark.browser
def test_analyst_map_in_browser_offline(browser, analyst_app_url):
    js = requests.get(f"{analyst_app_url}/app/static/vendor/{LEAFLET}/dist/leaflet.js", timeout=5)
    assert js.ok and "javascript" in js.headers["content-type"]  # served, and executable under nosniff

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    seen, errors, dialogs = [], [], []
    page.on("request", lambda r: seen.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(analyst_app_url)

    iframe = page.wait_for_selector("iframe[src*='st_folium']", timeout=60_000)
    frame = iframe.content_frame()
    frame.wait_for_selector(".leaflet-container", timeout=60_000)
    frame.wait_for_selector(".leaflet-draw-toolbar a.leaflet-draw-draw-polygon", timeout=30_000)
    frame.wait_for_selector(".leaflet-draw-toolbar a.leaflet-draw-draw-rectangle")
    frame.wait_for_selector(".leaflet-draw-toolbar a.leaflet-draw-draw-circle")
    assert frame.query_selector(".leaflet-draw-draw-marker") is None
    assert frame.query_selector(".leaflet-control-measure") is not None
    assert frame.query_selector(".leaflet-control-layers") is not None
    # prefer_canvas: the vector layers are one <canvas> in the overlay pane, with features on it
    frame.wait_for_selector(".leaflet-overlay-pane canvas")
    n_layers = frame.evaluate("() => { let n = 0; map_div.eachLayer(l => { if (l.feature) n++; }); return n; }")
    assert n_layers > 60

    # The hostile incident's tooltip shows the markup as text.
    tip_html = frame.evaluate("""() => {
        let out = null;
        map_div.eachLayer(l => {
            const t = l.getTooltip && l.getTooltip();
            if (!out && t && String(t.getContent()).includes("onerror")) { l.openTooltip(); out = true; }
        });
        const el = document.querySelector(".leaflet-tooltip");
        return el ? {html: el.innerHTML, text: el.textContent,
                     tags: el.querySelectorAll("img, script").length} : null;
    }""")
    assert tip_html is not None
    assert "<img src=x onerror=alert(1)>" in tip_html["text"] and tip_html["tags"] == 0

    # Draw a rectangle: streamlit-folium returns it, the page turns it into an AOI.
    time.sleep(1)
    frame.click("a.leaflet-draw-draw-rectangle")
    box = iframe.bounding_box()
    x, y = box["x"] + box["width"] * 0.45, box["y"] + 260
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 80, y + 50, steps=5)
    page.mouse.move(x + 160, y + 100, steps=5)
    page.mouse.up()
    page.wait_for_selector("text=/AOI: [0-9,.]+ km²/", timeout=30_000)

    time.sleep(1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "analyst-folium.png"))
    page.close()

    external = sorted({u for u in seen if urlparse(u).scheme in ("http", "https", "ws", "wss")
                       and urlparse(u).hostname not in LOCAL})
    assert external == [], f"requests left 127.0.0.1: {external}"
    vendored = {u for u in seen if "/app/static/vendor/" in u}
    assert any(LEAFLET_DRAW in u and u.endswith(".js") for u in vendored), vendored
    assert any(u.endswith("spritesheet.svg") for u in vendored), "draw toolbar icons not loaded"
    assert errors == [], f"console errors: {errors}"
    assert dialogs == [], f"script from feed text ran: {dialogs}"
