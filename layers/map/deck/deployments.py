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
from layers.map.icons import pack_atlas
from layers.map.icons.symbols import FRAME_PX, unit_symbol_for

# Nation code below the symbol: clear of the frame (FRAME_PX / 2 below the anchor) with a small gap.
LABEL_OFFSET_PX = FRAME_PX // 2 + 11


def _text(value: object) -> str | None:
    return None if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)) else str(value)


def deployments(frame: gpd.GeoDataFrame) -> list[pdk.Layer]:
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
    x, y = shapely.get_x(frame.geometry.values).tolist(), shapely.get_y(frame.geometry.values).tolist()
    units = [{"position": [round(a, 5), round(b, 5)], "icon": s.key, "size": s.display_height, "tip": t, "label": n}
             for a, b, s, n, t in zip(x, y, symbols, nations, tips)]
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
    layers.append(pdk.Layer("IconLayer", units, id="deployments", get_position="position", get_icon="icon",
                            icon_atlas=f'"{atlas}"', icon_mapping=mapping, get_size="size",
                            size_units='"pixels"', pickable=True))
    labels = [{"position": u["position"], "label": u["label"]} for u in units]  # no tips: not pickable
    layers.append(pdk.Layer("TextLayer", labels, id="deployment_labels", get_position="position", get_text="label",
                            get_size=13, get_color=[255, 255, 255, 235], get_pixel_offset=[0, LABEL_OFFSET_PX],
                            outline_width=2, outline_color=[11, 18, 32, 255], font_settings={"sdf": True}))
    return layers
