"""What every part of the demo scenario shares: its constants, markings and output files, and the
time, UTM and GeoJSON helpers (all metric work is done in UTM zone 34N)."""

from __future__ import annotations

import datetime as dt
import json
import math
import pathlib
import re
import unicodedata
from typing import Any

import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import Point, Polygon
from shapely.geometry.polygon import orient

from ingest.config import REFERENCE_DIR
from ingest.errors import ConfigError

DEFAULT_REFERENCE_DIR = REFERENCE_DIR
DEFAULT_SEED = 20261121

OPERATION = "Operation SILVER RIVER"
TASK_FORCE = "MJTF-WB"

REGION = (18.0, 40.5, 23.1, 45.0)  # lon_min, lat_min, lon_max, lat_max

# All metric work happens in UTM zone 34N, which spans 18..24 E: the whole region.
UTM_CRS = "EPSG:32634"
_TO_UTM = Transformer.from_crs("EPSG:4326", UTM_CRS, always_xy=True)
_TO_LL = Transformer.from_crs(UTM_CRS, "EPSG:4326", always_xy=True)
_GEOD = Geod(ellps="WGS84")

M_ALL = "UNCLASSIFIED"
M_COALITION = "UNCLASSIFIED//REL TO USA, GBR, FRA, DEU, ITA, TUR, POL"
M_NATO = "UNCLASSIFIED//REL TO NATO"
M_USA_GBR = "UNCLASSIFIED//REL TO USA, GBR"
M_GBR_FRA = "RESTRICTED//REL TO GBR, FRA"
MARKINGS = (M_ALL, M_COALITION, M_NATO, M_USA_GBR, M_GBR_FRA)

FILES = {
    "deployments": ("deployments.geojson",),
    "track_points": ("tracks_cot.xml", "tracks.gpx", "tracks.csv"),
    "incidents": ("incidents.csv", "incidents_relief.geojson"),
    "imagery": ("imagery_stac.json",),
}

STAC_EXT = {
    "eo": "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "proj": "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "sar": "https://stac-extensions.github.io/sar/v1.0.0/schema.json",
    "sat": "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
    "view": "https://stac-extensions.github.io/view/v1.0.0/schema.json",
    "mgrs": "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
}


def _norm(name: str) -> str:
    """Lower-case ASCII form of a place name for matching ('Šabac' -> 'sabac')."""
    s = str(name).replace("đ", "d").replace("Đ", "D").replace("ł", "l")
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()


def _now_ms(now: dt.datetime) -> int:
    if not isinstance(now, dt.datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise ConfigError("now", "a timezone-aware datetime (UTC)", now)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (now.astimezone(dt.UTC) - epoch) // dt.timedelta(milliseconds=1)


def _iso_ms(ms: int) -> str:
    t = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(ms))
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _iso_s(ms: int) -> str:
    t = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(ms))
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _dt(ms: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(ms))


def _utm_xy(lon: Any, lat: Any) -> tuple[Any, Any]:
    return _TO_UTM.transform(lon, lat)


def _ll(x: Any, y: Any) -> tuple[Any, Any]:
    return _TO_LL.transform(x, y)


def _to_ll_geom(geom: Any) -> Any:
    def fn(a: np.ndarray) -> np.ndarray:
        lon, lat = _TO_LL.transform(a[:, 0], a[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geom, fn)


def _to_utm_geom(geom: Any) -> Any:
    def fn(a: np.ndarray) -> np.ndarray:
        x, y = _TO_UTM.transform(a[:, 0], a[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, fn)


def _r(v: float, nd: int) -> float:
    out = round(float(v), nd)
    return 0.0 if out == 0 else out  # no "-0.0"


def _polygon_json(poly: Polygon, nd: int = 6) -> dict[str, Any]:
    poly = orient(poly, 1.0)  # RFC 7946: exterior counter-clockwise
    rings = [poly.exterior, *poly.interiors]
    return {
        "type": "Polygon",
        "coordinates": [[[_r(x, nd), _r(y, nd)] for x, y in ring.coords] for ring in rings],
    }


def _largest_polygon(geom: Any, prefer: Point | None = None) -> Polygon:
    if isinstance(geom, Polygon):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon) and not g.is_empty]
    if not parts:
        raise ValueError("no polygon in geometry")
    if prefer is not None:
        for p in parts:
            if p.contains(prefer):
                return p
    return max(parts, key=lambda p: p.area)


def _offset(x: float, y: float, dist: float, az_deg: float) -> tuple[float, float]:
    a = math.radians(az_deg)
    return x + dist * math.sin(a), y + dist * math.cos(a)


def _write_text(path: pathlib.Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def _json_text(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=1) + "\n"
