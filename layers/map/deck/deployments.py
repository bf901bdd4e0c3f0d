"""Partner deployments: APP-6 unit symbols with a nation label, areas of responsibility as outlines.

Units are drawn with their unit symbols (layers.map.icons.symbols) rather than
coloured dots, so a watch officer reads affiliation, unit type and echelon off
the map without hovering. The symbols go to deck.gl as one shared icon atlas
plus an icon name per unit (see layers.map.icons for why not one data URL per
row). The halo and the AoR share the nation's colour.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pydeck as pdk
import shapely

from layers import style
from layers.map.deck.base import polygon_rings, tooltips
from layers.map.deck.declutter import spread
from layers.map.icons import TEXTURE_SCALE, pack_atlas
from layers.map.icons.symbols import FRAME_PX, unit_symbol_for

# Nation code below the symbol: clear of the frame (FRAME_PX / 2 below the anchor) with a small gap.
LABEL_OFFSET_PX = FRAME_PX // 2 + 11
LABEL_PX = 13
GAP_PX = 6


def _text(value: object) -> str | None:
    return None if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)) else str(value)


def deployments(frame: gpd.GeoDataFrame, *, zoom: float | None = None) -> list[pdk.Layer]:
    """Unit symbols, their nation labels and areas of responsibility. With ``zoom`` (the map's
    opening zoom), symbols that would overlap there are spread apart in screen pixels, each
    with a dot where the unit really is (layers/map/deck/declutter.py)."""
    if frame.empty:
        return []
    colours = style.nation_colours(frame["nation"].astype(str).tolist())
    tips = tooltips(frame, frame["unit_name"], [("Nation", "nation"), ("Type", "unit_type"), ("Echelon", "echelon"),
                                                ("Strength", "strength"), ("SIDC", "symbol_code"),
                                                ("Reported", "reported_at"), ("Marking", "marking")])
    nations = frame["nation"].astype(str).tolist()
    codes = frame["symbol_code"].tolist() if "symbol_code" in frame else [None] * len(frame)
    echelons = frame["echelon"].tolist() if "echelon" in frame else [None] * len(frame)
    symbols = [unit_symbol_for(_text(c), nation_colour=colours[n], echelon=_text(e))
               for c, n, e in zip(codes, nations, echelons)]
    x, y = shapely.get_x(frame.geometry.values), shapely.get_y(frame.geometry.values)
    pitch = max(max(s.width, s.height) / TEXTURE_SCALE for s in symbols) + LABEL_PX
    offsets = spread(x, y, zoom, pitch, GAP_PX).tolist() if zoom is not None else [[0.0, 0.0]] * len(frame)
    units = [{"position": [round(a, 5), round(b, 5)], "icon": s.key, "size": s.display_height, "tip": t, "label": n,
              "offset": o, "label_offset": [o[0], o[1] + LABEL_OFFSET_PX]}
             for a, b, s, n, t, o in zip(x.tolist(), y.tolist(), symbols, nations, tips, offsets)]
    layers = []
    if "area" in frame and frame["area"].notna().any():
        polys, owner = polygon_rings(frame["area"].values, precision=4)
        areas = [{"polygon": p, "fill": colours[nations[i]][:3] + [style.AOR_ALPHA], "line": colours[nations[i]],
                  "tip": tips[i]} for p, i in zip(polys, owner)]
        layers.append(pdk.Layer("PolygonLayer", areas, id="deployment_areas", get_polygon="polygon",
                                get_fill_color="fill", get_line_color="line", line_width_min_pixels=2,
                                pickable=False))
    atlas, mapping = pack_atlas(symbols)
    # pydeck reads bare strings as expressions; the atlas is a quoted literal
    # (base64 has no quote characters, which pydeck would strip).
    moved = [{"position": u["position"], "colour": colours[u["label"]]} for u in units if any(u["offset"])]
    if moved:  # where a spread-out unit really is
        layers.append(pdk.Layer("ScatterplotLayer", moved, id="deployment_anchors", get_position="position",
                                get_fill_color="colour", get_radius=150, radius_min_pixels=3, radius_max_pixels=5,
                                stroked=True, get_line_color=[11, 18, 32, 255], line_width_min_pixels=1))
    layers.append(pdk.Layer("IconLayer", units, id="deployments", get_position="position", get_icon="icon",
                            icon_atlas=f'"{atlas}"', icon_mapping=mapping, get_size="size",
                            size_units='"pixels"', get_pixel_offset="offset", pickable=True))
    labels = [{"position": u["position"], "label": u["label"], "offset": u["label_offset"]}
              for u in units]  # no tips: not pickable
    layers.append(pdk.Layer("TextLayer", labels, id="deployment_labels", get_position="position", get_text="label",
                            get_size=LABEL_PX, get_color=[255, 255, 255, 235], get_pixel_offset="offset",
                            outline_width=2, outline_color=[11, 18, 32, 255], font_settings={"sdf": True}))
    return layers
