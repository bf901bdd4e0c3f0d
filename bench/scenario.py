"""The deterministic scale scenario every benchmark reuses.

1,000,000 drone track points (2,000 tracks over 24 h, random-walk kinematics),
50,000 incidents, 20,000 infrastructure points and 5,000 imagery footprints
over the Western Balkans, already conformed to the layer schema. Same seed,
same frames: ratios between runs compare like with like.

Markings vary as on a real floor: the demo's five (ingest/demo/common.py
MARKINGS) cycled over the records, and per track for track points (every fix
of a track carries its track's marking, so a derived track is as visible as
its fixes and a FRA RESTRICTED viewer sees about four in five of everything).

`set_scale` shrinks every size (track count included, tracks keep their
length) for a quick run: ``python -m bench --scale 0.05 dashboard``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ingest.demo.common import MARKINGS
from ingest.schema import INCIDENT_STATUSES, LAYERS, SEVERITIES, TIME_DTYPE

SEED = 20261121
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
BBOX = (18.5, 40.5, 23.5, 44.5)
FULL_SIZES = {"track_points": 1_000_000, "tracks": 2_000, "incidents": 50_000, "infrastructure": 20_000,
              "imagery": 5_000}
SIZES = dict(FULL_SIZES)
SCALE = 1.0


def set_scale(scale: float) -> None:
    """Every default size times ``scale`` (1 = the full scenario)."""
    global SCALE
    if not 0 < scale <= 1:
        raise ValueError(f"scale: expected 0 < scale <= 1, found {scale}")
    SCALE = scale
    SIZES.update({k: max(1, round(v * scale)) for k, v in FULL_SIZES.items()})


def markings(n: int, group: np.ndarray | None = None) -> pd.arrays.StringArray:
    """The demo's markings cycled over ``n`` records (by ``group`` when given: one marking per group)."""
    which = np.arange(n) if group is None else group
    return pd.array(np.asarray(MARKINGS, dtype=object)[which % len(MARKINGS)], dtype="string")


def _common(n: int, source: str, prefix: str, group: np.ndarray | None = None) -> dict:
    return {"source": pd.array([source] * n, dtype="string"),
            "source_id": pd.array([f"{prefix}{i}" for i in range(n)], dtype="string"),
            "ingested_at": pd.Series([pd.Timestamp(NOW)] * n).astype(TIME_DTYPE),
            "marking": markings(n, group),
            "geometry_fix": pd.array([None] * n, dtype="string")}


def _frame(layer: str, cols: dict, geoms) -> gpd.GeoDataFrame:
    ls = LAYERS[layer]
    n = len(geoms)
    for c in ls.all_columns:
        if c.name not in cols:
            cols[c.name] = pd.Series([None] * n, dtype={"str": "string", "float": "float64", "int": "Int64",
                                                        "time": TIME_DTYPE, "bool": "boolean"}.get(c.kind, object))
    frame = gpd.GeoDataFrame({k: cols[k] for k in ls.column_names if k != "geometry"},
                             geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"), crs="EPSG:4326")
    return frame


def track_points(n: int | None = None, tracks: int | None = None) -> gpd.GeoDataFrame:
    n = n or SIZES["track_points"]
    tracks = tracks or SIZES["tracks"]
    rng = np.random.default_rng(SEED)
    per = n // tracks
    tid = np.repeat(np.arange(tracks), per)
    start = rng.uniform(0, 86_400 - per * 5, tracks)
    t = np.repeat(start, per) + np.tile(np.arange(per) * 5.0, tracks)
    heading = np.cumsum(rng.normal(0, 8, n)) % 360
    speed = rng.uniform(10, 35, n)
    step = speed * 5 / 111_000
    x0 = np.repeat(rng.uniform(BBOX[0], BBOX[2], tracks), per)
    y0 = np.repeat(rng.uniform(BBOX[1], BBOX[3], tracks), per)
    dx = step * np.sin(np.radians(heading)) / np.cos(np.radians(y0))
    dy = step * np.cos(np.radians(heading))
    grp = np.arange(n) // per
    cx = pd.Series(dx).groupby(grp).cumsum().to_numpy()
    cy = pd.Series(dy).groupby(grp).cumsum().to_numpy()
    times = pd.Timestamp(NOW) - pd.Timedelta(days=1) + pd.to_timedelta(t, unit="s")
    cols = _common(n, "bench", "p", group=tid)
    cols.update({"track_id": pd.array([f"uav-{i}" for i in tid], dtype="string"),
                 "time": pd.Series(times).astype(TIME_DTYPE), "altitude_m": rng.uniform(80, 1500, n),
                 "speed_mps": speed, "heading_deg": heading})
    return _frame("track_points", cols, shapely.points(x0 + cx, y0 + cy))


def incidents(n: int | None = None) -> gpd.GeoDataFrame:
    n = n or SIZES["incidents"]
    rng = np.random.default_rng(SEED + 1)
    cols = _common(n, "bench", "i")
    cols.update({"occurred_at": pd.Series(pd.Timestamp(NOW) - pd.to_timedelta(rng.uniform(0, 7 * 86_400, n),
                                                                               unit="s")).astype(TIME_DTYPE),
                 "category": pd.array(rng.choice(["Protests", "Riots", "Explosions/Remote violence", "Flood"], n),
                                      dtype="string"),
                 "severity": pd.array(rng.choice(SEVERITIES, n), dtype="string"),
                 "status": pd.array(rng.choice(INCIDENT_STATUSES, n), dtype="string"),
                 "description": pd.array([f"report {i}" for i in range(n)], dtype="string")})
    return _frame("incidents", cols, shapely.points(rng.uniform(BBOX[0], BBOX[2], n),
                                                    rng.uniform(BBOX[1], BBOX[3], n)))


def infrastructure(n: int | None = None) -> gpd.GeoDataFrame:
    n = n or SIZES["infrastructure"]
    rng = np.random.default_rng(SEED + 2)
    cols = _common(n, "bench", "f")
    cols.update({"kind": pd.array(rng.choice(["airport", "power_plant", "hospital", "port"], n), dtype="string"),
                 "name": pd.array([f"facility {i}" for i in range(n)], dtype="string")})
    return _frame("infrastructure", cols, shapely.points(rng.uniform(BBOX[0], BBOX[2], n),
                                                         rng.uniform(BBOX[1], BBOX[3], n)))


def imagery(n: int | None = None) -> gpd.GeoDataFrame:
    n = n or SIZES["imagery"]
    rng = np.random.default_rng(SEED + 3)
    cx, cy = rng.uniform(BBOX[0], BBOX[2], n), rng.uniform(BBOX[1], BBOX[3], n)
    half = rng.uniform(0.05, 0.6, n)
    cols = _common(n, "bench", "s")
    cols.update({"acquired_at": pd.Series(pd.Timestamp(NOW) - pd.to_timedelta(rng.uniform(0, 7 * 86_400, n),
                                                                              unit="s")).astype(TIME_DTYPE),
                 "cloud_cover": rng.uniform(0, 100, n), "platform": pd.array(["sentinel-2a"] * n, dtype="string")})
    return _frame("imagery", cols, shapely.box(cx - half, cy - half, cx + half, cy + half))
