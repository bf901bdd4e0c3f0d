"""What every map layer module shares: tooltips that cannot carry script, and geometry to deck.gl arrays.

Feed text is untrusted. deck.gl puts an `html` tooltip into innerHTML, so
every value is escaped here, once, before it is placed in the `tip` field the
tooltip shows; no layer module builds HTML any other way.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

import numpy as np
import pandas as pd
import shapely

TOOLTIP_STYLE = {
    "backgroundColor": "#111a2b",
    "color": "#e8eef8",
    "fontSize": "15px",
    "border": "1px solid #3a4a66",
    "maxWidth": "420px",
    "whiteSpace": "normal",
}
TOOLTIP = {"html": "{tip}", "style": TOOLTIP_STYLE}
MAX_FIELD_CHARS = 300


def escape(value: object) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and np.isnan(value):
        return ""
    if isinstance(value, pd.Timestamp):
        value = value.strftime("%Y-%m-%d %H:%M UTC")
    text = str(value)
    if len(text) > MAX_FIELD_CHARS:
        text = text[: MAX_FIELD_CHARS - 1] + "…"
    return html.escape(text, quote=True)


def escape_series(values: pd.Series) -> pd.Series:
    """`escape` for a whole column at once (Arrow string kernels): tooltips for 50,000
    features cost milliseconds, not seconds. Missing values become empty strings."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(values.dtype):
        text = values.dt.strftime("%Y-%m-%d %H:%M UTC")
    elif pd.api.types.is_float_dtype(values.dtype):
        text = values.map(lambda v: "" if pd.isna(v) else f"{v:g}")
    else:
        text = values.astype(object).where(values.notna(), None)
    text = pd.Series(text, index=values.index).astype("string[pyarrow]").fillna("")
    long = text.str.len() > MAX_FIELD_CHARS
    if long.any():
        text = text.where(~long, text.str.slice(0, MAX_FIELD_CHARS - 1) + "…")
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;")):
        text = text.str.replace(raw, safe, regex=False)
    return text


def tooltips(frame: pd.DataFrame, title: str | Iterable[str], fields: list[tuple[str, str]]) -> list[str]:
    """One escaped HTML snippet per row: a bold title line then `label: value` lines (empty ones left out)."""
    index = frame.index
    titles = pd.Series([title] * len(frame) if isinstance(title, str) else list(title), index=index)
    out = "<b>" + escape_series(titles) + "</b>"
    for label, col in fields:
        if col not in frame:
            continue
        value = escape_series(frame[col])
        out = out + ("<br/>" + html.escape(label) + ": " + value).where(value != "", "")
    return out.astype(object).tolist()


def polygon_rings(geoms: Iterable[shapely.Geometry], precision: int = 5) -> tuple[list, np.ndarray]:
    """Polygons as deck.gl PolygonLayer rings ([outer, *holes]); returns (polygons, owner row)."""
    polys, owner = [], []
    for i, g in enumerate(geoms):
        if g is None or g.is_empty:
            continue
        parts = g.geoms if g.geom_type == "MultiPolygon" else [g]
        for p in parts:
            rings = [np.round(np.asarray(p.exterior.coords)[:, :2], precision).tolist()]
            rings += [np.round(np.asarray(r.coords)[:, :2], precision).tolist() for r in p.interiors]
            polys.append(rings)
            owner.append(i)
    return polys, np.asarray(owner, dtype=int)


def line_paths(geoms: Iterable[shapely.Geometry], precision: int = 5) -> list[list[list[float]]]:
    out = []
    for g in geoms:
        if g is None or g.is_empty:
            out.append([])
        elif g.geom_type == "Point":
            out.append([[round(g.x, precision), round(g.y, precision)]] * 2)
        else:
            out.append(np.round(np.asarray(g.coords)[:, :2], precision).tolist())
    return out
