"""Partner units: bases in real towns, areas of responsibility clipped to the host country,
APP-6D symbol codes; written as ``deployments.geojson``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Point, Polygon

from ingest.demo.common import (
    DEFAULT_REFERENCE_DIR,
    TASK_FORCE,
    _iso_s,
    _json_text,
    _largest_polygon,
    _ll,
    _offset,
    _polygon_json,
    _r,
    _to_ll_geom,
)
from ingest.demo.tables import AOR_RADIUS_KM, UNITS
from ingest.demo.world import _Reference, _Town
from ingest.errors import UnreadableInputError
from ingest.schema import ECHELONS

# APP-6D / MIL-STD-2525D symbol identification codes

_SIDC_ENTITY = {  # land unit symbol set (10) main icons
    "headquarters": "180400",  # named headquarters: multinational
    "infantry": "121100",
    "reconnaissance": "121300",
    "aviation": "120600",  # army aviation / rotary wing
    "unmanned aircraft systems": "121900",
    "engineer": "140700",
    "explosive ordnance disposal": "140800",
    "military police": "141200",
    "medical": "161300",
    "logistics": "160600",  # combat service support
    "water purification": "164800",
    "liaison": "110500",
}
_SIDC_ECHELON = {
    "team": "11",
    "squad": "12",
    "section": "13",
    "platoon": "14",
    "company": "15",
    "battalion": "16",
    "regiment": "17",
    "brigade": "18",
    "division": "21",
    "corps": "22",
    "army": "23",
    "": "00",
}


def symbol_code(unit_type: str, echelon: str, *, headquarters: bool = False) -> str:
    """The 20-digit SIDC of a friendly land unit (layout in the module docstring)."""
    sidc = (
        "10"  # version: MIL-STD-2525D / APP-6D
        + "0"  # context: reality
        + "3"  # standard identity: friend
        + "10"  # symbol set: land unit
        + "0"  # status: present
        + ("2" if headquarters else "0")
        + _SIDC_ECHELON[echelon]
        + _SIDC_ENTITY[unit_type]
        + "00"
        + "00"
    )
    assert len(sidc) == 20 and sidc.isdigit()
    return sidc



@dataclass
class _Unit:
    key: str
    nation: str
    name: str
    unit_type: str
    echelon: str
    strength: int
    host: str
    base: _Town
    x: float
    y: float
    reported_ms: int
    marking: str
    area: Polygon  # lon/lat


def _pick_base(ref: _Reference, host: str, prefs: Sequence[str], used: set[str]) -> _Town:
    t = ref.town(host, prefs)
    if t is not None:
        return t
    for t in ref.towns_in(host):  # most populous first
        if t.name not in used:
            return t
    raise UnreadableInputError(DEFAULT_REFERENCE_DIR / "places.parquet", f"no town in {host}")


def _area_of_responsibility(
    ref: _Reference, host: str, x: float, y: float, radius_m: float
) -> Polygon:
    disc = Point(x, y).buffer(radius_m, quad_segs=12)
    clipped = disc.intersection(ref.countries[host])
    if clipped.is_empty:
        clipped = disc
    part = _largest_polygon(clipped, Point(x, y))
    tol = max(200.0, radius_m * 0.015)
    simple = part.simplify(tol, preserve_topology=True)
    while len(simple.exterior.coords) > 60:
        tol *= 1.5
        simple = part.simplify(tol, preserve_topology=True)
    ll = _to_ll_geom(simple)
    rounded = shapely.set_precision(ll, 1e-6)
    if not rounded.is_valid or rounded.is_empty:
        rounded = shapely.make_valid(rounded)
    return _largest_polygon(rounded)


def _deployments(ref: _Reference, rng: np.random.Generator, now_ms: int) -> list[_Unit]:
    units: list[_Unit] = []
    used: set[str] = set()
    for key, nation, name, utype, echelon, strength, host, prefs, marking, old in UNITS:
        assert echelon in ECHELONS
        base = _pick_base(ref, host, prefs, used)
        used.add(base.name)
        # The camp is on the outskirts of the town, inside the host country.
        x, y = base.x, base.y
        dist, az = rng.uniform(400, 2500), rng.uniform(0, 360)
        for _ in range(8):
            cx, cy = _offset(base.x, base.y, dist, az)
            if ref.country_at(cx, cy) == host:
                x, y = cx, cy
                break
            dist *= 0.6
        hours = rng.uniform(26, 46) if old else rng.uniform(0.1, 20)
        reported = now_ms - int(hours * 3_600_000) // 1000 * 1000
        radius = AOR_RADIUS_KM[echelon] * 1000 * rng.uniform(0.85, 1.15)
        area = _area_of_responsibility(ref, host, x, y, radius)
        strength = round(strength * rng.uniform(0.9, 1.05))
        units.append(
            _Unit(
                key,
                nation,
                name,
                utype,
                echelon,
                strength,
                host,
                base,
                x,
                y,
                reported,
                marking,
                area,
            )
        )
    return units


def _deployments_geojson(units: list[_Unit]) -> str:
    feats = []
    for u in units:
        lon, lat = _ll(u.x, u.y)
        uid = f"dep-{u.key}"
        feats.append(
            {
                "type": "Feature",
                "id": uid,
                "geometry": {"type": "Point", "coordinates": [_r(lon, 6), _r(lat, 6)]},
                "properties": {
                    "id": uid,
                    "nation": u.nation,
                    "unit_name": u.name,
                    "unit_type": u.unit_type,
                    "echelon": u.echelon,
                    "strength": u.strength,
                    "symbol_code": symbol_code(
                        u.unit_type, u.echelon, headquarters=u.unit_type == "headquarters"
                    ),
                    "reported_at": _iso_s(u.reported_ms),
                    "marking": u.marking,
                    "base": u.base.name,
                    "area": _polygon_json(u.area),
                },
            }
        )
    return _json_text(
        {
            "type": "FeatureCollection",
            "name": f"{TASK_FORCE} partner deployments",
            "features": feats,
        }
    )
