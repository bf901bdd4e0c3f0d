"""Unit symbols, infrastructure icons and the legend: what they draw, what the deck JSON carries, and how it looks.

The symbol checks read features milsymbol documents for its SVG output (the
friendly land-unit frame is the rectangle ``M25,50 l150,0 0,100 -150,0 z``
filled crystal blue ``rgb(128,224,255)``; the hostile one a diamond filled
``rgb(255,128,128)``; echelon marks are drawn above the frame, one bar per
company, two per battalion) rather than comparing whole SVGs, so a library
update that changes coordinates elsewhere does not break them needlessly.
"""

from __future__ import annotations

import base64
import json
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from io import BytesIO

import geopandas as gpd
import numpy as np
import pandas as pd

from tests.conftest import sign_in
import pydeck as pdk
import pytest
from shapely.geometry import Point

from ingest.schema import INFRASTRUCTURE_KINDS, SEVERITIES
from layers import style
from layers.map.icons import symbols
from layers.map.deck.deployments import deployments
from layers.map.icons import KIND_GLYPHS, infrastructure_icon
from layers.map.deck.legend import legend_items
from layers.map.deck.points import infrastructure
from layers.map.icons.symbols import unit_icon, unit_symbol_for
from tests.conftest import ARTIFACTS

FRIEND_FRAME = "M25,50 l150,0 0,100 -150,0 z"
FRIEND_FILL = "rgb(128,224,255)"
HOSTILE_FILL = "rgb(255,128,128)"
INFANTRY_COMPANY = "10031000151211000000"
INFANTRY_BATTALION = "10031000161211000000"
HQ_BRIGADE = "10031002181804000000"
COMPANY_BAR = "M100,40L100,15"
BATTALION_BARS = ("M90,40L90,15", "M110,40L110,15")


def svg_of(icon: dict) -> str:
    prefix = "data:image/svg+xml;base64,"
    assert icon["url"].startswith(prefix)
    return base64.b64decode(icon["url"][len(prefix):]).decode("utf-8")


def layer_json(layers: list[pdk.Layer]) -> list[dict]:
    return json.loads(pdk.Deck(layers=layers, map_provider=None).to_json())["layers"]


def deployments_frame() -> gpd.GeoDataFrame:
    rows = [
        ("USA", "Eagle Infantry Battalion", "infantry", "battalion", INFANTRY_BATTALION),
        ("FRA", "Compagnie Lynx <script>alert(1)</script>", "infantry", "company", INFANTRY_COMPANY),
        ("ITA", "MJTF-WB Headquarters", "headquarters", "brigade", HQ_BRIGADE),
        ("POL", "Unknown code", "engineer", "platoon", "not-a-sidc"),
        ("DEU", "No code", "medical", "company", None),
    ]
    return gpd.GeoDataFrame({
        "nation": [r[0] for r in rows], "unit_name": [r[1] for r in rows], "unit_type": [r[2] for r in rows],
        "echelon": [r[3] for r in rows], "strength": [100] * len(rows),
        "symbol_code": pd.array([r[4] for r in rows], dtype="string"),
        "reported_at": pd.Timestamp("2026-11-21 10:00", tz="UTC"), "marking": "UNCLASSIFIED",
        "area": gpd.GeoSeries([Point(20 + i, 44).buffer(0.2) for i in range(len(rows))], crs=4326),
    }, geometry=[Point(20 + i, 44) for i in range(len(rows))], crs=4326)


# --- unit symbols ---------------------------------------------------------------------------------


def test_friendly_sidc_renders_the_friendly_frame():
    svg = svg_of(unit_icon(INFANTRY_COMPANY))
    assert FRIEND_FRAME in svg and FRIEND_FILL in svg
    assert "M25,50 L175,150 M25,150 L175,50" in svg  # the infantry cross inside the frame
    ET.fromstring(svg)  # well-formed
    hostile = svg_of(unit_icon("10061000151211000000"))
    assert HOSTILE_FILL in hostile and FRIEND_FRAME not in hostile


def test_echelon_marks_differ_between_company_and_battalion():
    company, battalion = svg_of(unit_icon(INFANTRY_COMPANY)), svg_of(unit_icon(INFANTRY_BATTALION))
    assert COMPANY_BAR in company and not any(b in company for b in BATTALION_BARS)
    assert all(b in battalion for b in BATTALION_BARS) and COMPANY_BAR not in battalion


def test_icon_definition_is_a_deck_gl_auto_packing_icon():
    icon = unit_icon(INFANTRY_COMPANY, nation_colour=[66, 135, 245, 240])
    assert set(icon) >= {"url", "width", "height", "anchorX", "anchorY", "id"}
    root = ET.fromstring(svg_of(icon))
    assert (int(root.get("width")), int(root.get("height"))) == (icon["width"], icon["height"])
    assert 0 < icon["anchorX"] < icon["width"] and 0 < icon["anchorY"] < icon["height"]
    assert "#4287f5" in svg_of(icon)  # the nation's halo
    # On-screen sizes for a wall screen: a 30 px frame, 40-80 px with echelon marks or a staff.
    for sidc in (INFANTRY_COMPANY, INFANTRY_BATTALION, HQ_BRIGADE):
        s = unit_symbol_for(sidc)
        assert 40 <= s.display_height <= 80, (sidc, s.display_height)


def test_headquarters_anchor_is_the_foot_of_the_staff():
    hq = unit_icon(HQ_BRIGADE)
    assert hq["anchorY"] > 0.9 * hq["height"] and hq["anchorX"] < 0.1 * hq["width"]


@pytest.mark.parametrize("bad", [None, "", "garbage", "1003100015121100000", "<svg onload=alert(1)>", 12345,
                                 "ＳＦＧＰＵＣＩ", "S" * 40])
def test_missing_or_invalid_sidc_falls_back_to_a_plain_frame(bad):
    icon = unit_icon(bad, echelon="battalion")
    svg = svg_of(icon)
    assert FRIEND_FRAME in svg and FRIEND_FILL in svg
    assert "onload" not in svg and "script" not in svg
    assert icon["id"].startswith("unit-1003100016")  # the unit's echelon survives, the main icon is gone
    assert all(b in svg for b in BATTALION_BARS)


def test_unknown_entity_keeps_the_affiliation_of_the_code():
    icon = unit_icon("10061000159999990000")  # hostile company, no such main icon
    assert icon["id"].startswith("unit-10061000150000000000")
    assert HOSTILE_FILL in svg_of(icon)


def test_icons_are_cached_per_sidc_and_colour():
    symbols._unit_icon.cache_clear()
    first = unit_icon(INFANTRY_COMPANY, nation_colour=[52, 199, 89])
    assert unit_icon(INFANTRY_COMPANY, nation_colour=(52, 199, 89, 240)) is first
    assert unit_icon(" 10031000151211000000 ", nation_colour="#34C759") is first
    assert symbols._unit_icon.cache_info().hits == 2
    other = unit_icon(INFANTRY_COMPANY, nation_colour=[255, 55, 95])
    assert other is not first and other["id"] != first["id"]


# --- the deck JSON --------------------------------------------------------------------------------


def test_deployments_layer_is_an_icon_layer_with_its_atlas():
    frame = deployments_frame()
    layers = {layer["id"]: layer for layer in layer_json(deployments(frame))}
    assert {"deployment_areas", "deployments", "deployment_labels"} <= set(layers)
    units = layers["deployments"]
    assert units["@@type"] == "IconLayer" and units["pickable"] is True
    assert units["getIcon"] == "@@=icon" and units["sizeUnits"] == "pixels"
    # The atlas is a literal, not an expression pydeck made of a bare string.
    assert units["iconAtlas"].startswith("data:image/svg+xml;base64,")
    atlas = ET.fromstring(base64.b64decode(units["iconAtlas"].split(",", 1)[1]))
    assert len(atlas.findall("{http://www.w3.org/2000/svg}svg")) == len(units["iconMapping"])
    assert {row["icon"] for row in units["data"]} == set(units["iconMapping"])
    assert len(units["data"]) == len(frame)
    for row in units["data"]:
        assert 40 <= row["size"] <= 80
    # Tooltips stay escaped; labels keep the nation; the bad and missing codes still got a symbol.
    spec = json.dumps(units)
    assert "<script>" not in spec and "&lt;script&gt;" in spec
    assert [r["label"] for r in layers["deployment_labels"]["data"]] == frame["nation"].tolist()
    # The platoon with a bad code and the company with none: plain frames of their echelons.
    assert any(k.startswith("unit-10031000140000000000-") for k in units["iconMapping"])
    assert any(k.startswith("unit-10031000150000000000-") for k in units["iconMapping"])


def infrastructure_frame(kinds: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"kind": kinds, "name": [f"{k} site" for k in kinds], "source": "test",
                             "marking": "UNCLASSIFIED"},
                            geometry=[Point(19 + 0.1 * i, 42) for i in range(len(kinds))], crs=4326)


def test_infrastructure_icons_are_distinct_per_kind():
    assert set(KIND_GLYPHS) == set(INFRASTRUCTURE_KINDS)
    svgs = {k: infrastructure_icon(k).svg for k in INFRASTRUCTURE_KINDS}
    assert len(set(svgs.values())) == len(INFRASTRUCTURE_KINDS)
    for kind, colour in style.INFRASTRUCTURE.items():
        assert style.hex_colour(colour) in svgs[kind]
    kinds = [*INFRASTRUCTURE_KINDS, "airport", "spaceport"]  # repeats share; unknown kinds draw as 'other'
    (layer,) = layer_json(infrastructure(infrastructure_frame(kinds)))
    assert layer["@@type"] == "IconLayer" and layer["id"] == "infrastructure" and layer["pickable"] is True
    assert layer["iconAtlas"].startswith("data:image/svg+xml;base64,")
    mapping = layer["iconMapping"]
    assert len(mapping) == len(INFRASTRUCTURE_KINDS)
    assert len({(m["x"], m["y"]) for m in mapping.values()}) == len(mapping)
    icons = [row["icon"] for row in layer["data"]]
    assert icons[-1] == "infra-other" and icons[-2] == icons[0] == "infra-airport"
    assert all("<b>" in row["tip"] for row in layer["data"])


def test_infrastructure_costs_few_bytes_per_point():
    """The atlas keeps images out of the rows: a guard against falling back to a data URL per row."""
    frame = infrastructure_frame(["airport", "port", "power_plant"] * 100)
    (layer,) = layer_json(infrastructure(frame))
    rows = json.dumps([{k: v for k, v in r.items() if k != "tip"} for r in layer["data"]], separators=(",", ":"))
    assert len(rows) / len(frame) < 80
    assert len(layer["iconAtlas"]) < 8_000


# --- legend ---------------------------------------------------------------------------------------


def test_legend_covers_severities_kinds_nations_tracks_and_imagery():
    now = datetime(2026, 11, 21, 12, tzinfo=UTC)
    picture = {
        "incidents": pd.DataFrame({"severity": ["low"]}),
        "infrastructure": infrastructure_frame(["airport", "port"]),
        "deployments": deployments_frame(),
        "tracks": pd.DataFrame({"stale_at": [pd.Timestamp("2026-11-21 11:00", tz="UTC")]}),
        "imagery": pd.DataFrame({"cloud_cover": [5.0, 80.0]}),
    }
    items = legend_items(picture, now=now)
    by_kind: dict[str, list[dict]] = {}
    for item in items:
        assert set(item) >= {"label", "kind"} and ("colour" in item or "icon" in item)
        by_kind.setdefault(item["kind"], []).append(item)
    severities = [i["label"] for i in by_kind["severity"]]
    assert len(severities) == len(SEVERITIES) and all(s.capitalize() in " ".join(severities) for s in SEVERITIES)
    assert [i["colour"] for i in by_kind["severity"]] == [style.hex_colour(style.SEVERITY[s]) for s in SEVERITIES]
    assert [i["label"] for i in by_kind["infrastructure"]] == ["Airport", "Port"]
    assert all(i["icon"].startswith("data:image/svg+xml;base64,") for i in by_kind["infrastructure"])
    assert [i["label"] for i in by_kind["nation"]] == sorted(deployments_frame()["nation"])
    assert [i["label"] for i in by_kind["track"]] == ["Track: stale"]
    assert len(by_kind["imagery"]) == 2
    assert legend_items({}) == []
    assert {i["label"] for i in legend_items({"tracks": picture["tracks"]})} == {"Track: active", "Track: stale"}


# --- in the browser -------------------------------------------------------------------------------

CRYSTAL_BLUE = np.array([128, 224, 255])


def _frame_fill_mask(png: bytes) -> np.ndarray:
    """Pixels of the friendly frame fill: drawn by no other layer of the map."""
    from PIL import Image

    img = np.asarray(Image.open(BytesIO(png)).convert("RGB")).astype(int)
    return (np.abs(img - CRYSTAL_BLUE) <= 10).all(axis=2)


def _densest_window(mask: np.ndarray, h: int, w: int) -> tuple[int, int]:
    """Top-left corner of the h x w window holding the most True pixels (summed-area table)."""
    s = np.pad(mask.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    h, w = min(h, mask.shape[0]), min(w, mask.shape[1])
    counts = s[h:, w:] - s[:-h, w:] - s[h:, :-w] + s[:-h, :-w]
    y, x = np.unravel_index(np.argmax(counts), counts.shape)
    return int(y), int(x)


@pytest.mark.browser
def test_operations_map_draws_unit_symbols(browser, dashboard_url):
    from PIL import Image

    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, dashboard_url)
    page.wait_for_selector("#deckgl-overlay, canvas", timeout=90_000)
    mask = np.zeros((1, 1), dtype=bool)
    deadline = time.time() + 60
    while time.time() < deadline:  # deck.gl loads the atlas images asynchronously
        time.sleep(2)
        png = page.screenshot()
        mask = _frame_fill_mask(png)
        if mask.sum() > 3_000:
            break
    # Hover a frame's interior: the unit's tooltip shows (the layer is pickable, the text escaped).
    ys, xs = np.nonzero(mask)
    interior = [(x, y) for x, y in zip(xs, ys) if mask[max(y - 4, 0):y + 5, max(x - 4, 0):x + 5].all()]
    tooltip = ""
    if interior:
        x, y = interior[len(interior) // 2]
        page.mouse.move(float(x), float(y))
        time.sleep(1)
        tooltip = page.inner_text(".deck-tooltip") if page.query_selector(".deck-tooltip") else ""
    page.close()

    assert mask.sum() > 3_000, f"no unit symbols on the map ({mask.sum()} frame-fill pixels)"
    y, x = _densest_window(mask, 360, 560)
    ARTIFACTS.mkdir(exist_ok=True)
    Image.open(BytesIO(png)).crop((x, y, x + 560, y + 360)).save(ARTIFACTS / "symbols.png")
    icon_errors = [e for e in errors if "404" not in e]
    assert icon_errors == [], f"console errors: {icon_errors}"
    assert "Nation:" in tooltip, f"hovering a unit symbol showed {tooltip!r}"
