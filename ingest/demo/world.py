"""The real world the scenario is placed on: host countries, towns and infrastructure read from
``data/reference`` (borders, places, infrastructure), so no position is ever typed in."""

from __future__ import annotations

import math
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point

from ingest.demo.common import REGION, _norm, _to_utm_geom, _utm_xy
from ingest.demo.tables import HOST_NAMES, HOSTS
from ingest.errors import UnreadableInputError


@dataclass
class _Town:
    name: str
    cc: str
    population: int
    lon: float
    lat: float
    x: float
    y: float


@dataclass
class _Infra:
    kind: str
    name: str
    subkind: str
    cc: str
    code: str
    capacity: float
    lon: float
    lat: float
    x: float
    y: float

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})" if self.code and self.kind == "airport" else self.name


@dataclass
class _Reference:
    countries: dict[str, Any]  # code -> (Multi)Polygon in UTM, prepared
    country_names: dict[str, str]
    towns: list[_Town]
    infra: list[_Infra]
    by_name: dict[tuple[str, str], _Town] = field(default_factory=dict)

    def country_of(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        codes = np.full(len(xs), "", dtype=object)
        for cc in HOSTS:
            poly = self.countries.get(cc)
            if poly is None:
                continue
            hit = shapely.contains_xy(poly, xs, ys) & (codes == "")
            codes[hit] = cc
        return codes

    def country_at(self, x: float, y: float) -> str:
        return str(self.country_of(np.array([x]), np.array([y]))[0])

    def town(self, cc: str, prefs: Sequence[str]) -> _Town | None:
        for p in prefs:
            t = self.by_name.get((cc, _norm(p)))
            if t is not None:
                return t
        return None

    def towns_in(self, cc: str) -> list[_Town]:
        return [t for t in self.towns if t.cc == cc]


def _read_parquet(path: pathlib.Path, what: str) -> gpd.GeoDataFrame:
    if not path.exists():
        raise UnreadableInputError(
            path, f"the {what} reference file is missing (build data/reference first)"
        )
    try:
        gdf = gpd.read_parquet(path)
    except Exception as exc:
        raise UnreadableInputError(path, f"not a GeoParquet file: {exc}") from exc
    if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    return gdf


def _col(gdf: pd.DataFrame, name: str, default: Any) -> pd.Series:
    if name in gdf.columns:
        return gdf[name]
    return pd.Series([default] * len(gdf), index=gdf.index)


def _str(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ""
    return str(v).strip()


def _num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(f) else f


def _load_reference(reference_dir: pathlib.Path) -> _Reference:
    borders = _read_parquet(reference_dir / "borders.parquet", "borders")
    infra = _read_parquet(reference_dir / "infrastructure.parquet", "infrastructure")
    places = _read_parquet(reference_dir / "places.parquet", "places")

    countries: dict[str, Any] = {}
    names: dict[str, str] = {}
    for cc in HOSTS:
        rows = borders[_col(borders, "country_code", "").astype(str).str.upper() == cc]
        geoms = [g for g in rows.geometry if g is not None and not g.is_empty]
        if not geoms:
            continue
        g = shapely.make_valid(shapely.union_all(geoms))
        g = _to_utm_geom(g)
        shapely.prepare(g)
        countries[cc] = g
        nm = _str(rows.iloc[0].get("name")) if "name" in rows.columns else ""
        names[cc] = nm or HOST_NAMES[cc]
    missing = [cc for cc in HOSTS if cc not in countries]
    if len(countries) < 4:
        raise UnreadableInputError(
            reference_dir / "borders.parquet",
            f"expected polygons for {', '.join(HOSTS)}, missing {', '.join(missing)}",
        )
    ref = _Reference(countries, names, [], [])

    def located(
        gdf: gpd.GeoDataFrame,
    ) -> tuple[gpd.GeoDataFrame, np.ndarray, np.ndarray, np.ndarray]:
        gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty].copy()
        pts = gdf.geometry.representative_point()
        lon, lat = pts.x.to_numpy(), pts.y.to_numpy()
        keep = (lon >= REGION[0]) & (lon <= REGION[2]) & (lat >= REGION[1]) & (lat <= REGION[3])
        gdf, lon, lat = gdf[keep], lon[keep], lat[keep]
        x, y = _utm_xy(lon, lat)
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        cc = ref.country_of(x, y)
        for i in np.flatnonzero(cc == ""):  # on the coast or a low-resolution border
            best, best_d = "", 1500.0
            for code, poly in countries.items():
                d = poly.distance(Point(x[i], y[i]))
                if d < best_d:
                    best, best_d = code, d
            cc[i] = best
        ok = cc != ""
        gdf = gdf[ok].copy()
        gdf["k_lon"], gdf["k_lat"], gdf["k_x"], gdf["k_y"], gdf["k_cc"] = (
            lon[ok],
            lat[ok],
            x[ok],
            y[ok],
            cc[ok],
        )
        return gdf, lon[ok], lat[ok], cc[ok]

    p, _, _, _ = located(places)
    p["k_name"] = _col(p, "name", "").map(_str)
    p["k_pop"] = _col(p, "population", 0).map(_num).astype("int64")
    p = p[p["k_name"] != ""].sort_values(
        ["k_pop", "k_name", "k_lon", "k_lat"], ascending=[False, True, True, True]
    )
    for r in p.itertuples():
        t = _Town(
            r.k_name,
            r.k_cc,
            int(r.k_pop),
            float(r.k_lon),
            float(r.k_lat),
            float(r.k_x),
            float(r.k_y),
        )
        key = (t.cc, _norm(t.name))
        if key in ref.by_name:
            continue  # duplicate name in the same country: keep the most populous
        ref.by_name[key] = t
        ref.towns.append(t)

    q, _, _, _ = located(infra)
    q["k_kind"] = _col(q, "kind", "").map(_str)
    q["k_name"] = _col(q, "name", "").map(_str)
    q["k_sub"] = _col(q, "subkind", "").map(_str)
    q["k_code"] = _col(q, "code", "").map(_str)
    q["k_cap"] = _col(q, "capacity", 0).map(_num)
    q = q[q["k_name"] != ""].sort_values(
        ["k_kind", "k_cap", "k_name", "k_lon"], ascending=[True, False, True, True]
    )
    for r in q.itertuples():
        ref.infra.append(
            _Infra(
                r.k_kind,
                r.k_name,
                r.k_sub,
                r.k_cc,
                r.k_code,
                float(r.k_cap),
                float(r.k_lon),
                float(r.k_lat),
                float(r.k_x),
                float(r.k_y),
            )
        )
    if len(ref.towns) < 30:
        raise UnreadableInputError(
            reference_dir / "places.parquet", "fewer than 30 towns in the region"
        )
    return ref
