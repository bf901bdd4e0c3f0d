"""Imagery footprints: Sentinel-2, Sentinel-1 and a fictional commercial constellation, with
catalogue latency; written as a STAC ItemCollection (``imagery_stac.json``)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString, Polygon, box

from ingest.demo.common import (
    M_ALL,
    M_COALITION,
    M_NATO,
    M_USA_GBR,
    STAC_EXT,
    _dt,
    _iso_ms,
    _json_text,
    _largest_polygon,
    _ll,
    _polygon_json,
    _to_ll_geom,
    _utm_xy,
)
from ingest.demo.incidents import _Incident
from ingest.demo.tables import HOSTS
from ingest.demo.world import _Reference, _Town

_LATENCY_MS = 90 * 60_000  # nothing acquired in the last 90 minutes is catalogued yet
_S2_TILE = 109_800.0


_DAY_MS = 86_400_000
_DAYLIGHT = (8 * 3_600_000, 13 * 3_600_000 + 1_800_000)  # optical acquisitions, ms after 00:00 UTC


def _daylight_after(t_ms: int, rng: np.random.Generator) -> int:
    """The first daylight acquisition opportunity at or after `t_ms`."""
    midnight = t_ms - t_ms % _DAY_MS
    if t_ms < midnight + _DAYLIGHT[0]:
        return midnight + _DAYLIGHT[0] + int(rng.integers(0, 3 * 3_600_000))
    if t_ms <= midnight + _DAYLIGHT[1]:
        return t_ms
    return midnight + _DAY_MS + _DAYLIGHT[0] + int(rng.integers(0, 3 * 3_600_000))


def _mgrs_square_34(x: float, y: float) -> str:
    """MGRS 100 km square of a UTM 34N point, named in zone 34 even west of 18 E
    (as Sentinel-2 names its tiles): zone, latitude band, column and row letters."""
    _, lat = _ll(x, y)
    band = "CDEFGHJKLMNPQRSTUVWX"[int((lat + 80) // 8)]
    column = "ABCDEFGH"[int(x // 100_000) - 1]  # zone 34: (34 - 1) % 3 == 0, first column set
    row = "ABCDEFGHJKLMNPQRSTUV"[(int(y // 100_000) + 5) % 20]  # even zone: rows start at F
    return f"34{band}{column}{row}"


def _band(cx: float, cy: float, az_deg: float, half_width: float) -> Polygon:
    a = math.radians(az_deg)
    ux, uy = math.sin(a), math.cos(a)
    line = LineString(
        [(cx - 900_000 * ux, cy - 900_000 * uy), (cx + 900_000 * ux, cy + 900_000 * uy)]
    )
    return line.buffer(half_width, cap_style="flat")


def _stac_item(
    item_id: str,
    collection: str,
    footprint_utm: Polygon,
    acquired_ms: int,
    props: dict[str, Any],
    extensions: list[str],
    marking: str,
) -> dict[str, Any]:
    ll = _to_ll_geom(shapely.segmentize(footprint_utm, 10_000))
    geom = _polygon_json(ll, 6)
    xs = [c[0] for c in geom["coordinates"][0]]
    ys = [c[1] for c in geom["coordinates"][0]]
    properties = {"datetime": _iso_ms(acquired_ms), **props, "watchfloor:marking": marking}
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": sorted(set(extensions)),
        "id": item_id,
        "collection": collection,
        "bbox": [min(xs), min(ys), max(xs), max(ys)],
        "geometry": geom,
        "properties": properties,
        "links": [],
        "assets": {
            "thumbnail": {
                "href": f"thumbnails/{item_id}.png",
                "type": "image/png",
                "title": "Thumbnail",
                "roles": ["thumbnail"],
            }
        },
    }


def _day_passes(
    now_ms: int, hour: float, minutes_spread: float, rng: np.random.Generator
) -> list[int]:
    """Acquisition times at `hour` UTC on each day whose pass is catalogued and < 48 h old."""
    day0 = _dt(now_ms).replace(hour=0, minute=0, second=0, microsecond=0)
    epoch = dt.datetime(1970, 1, 1)
    out = []
    for back in (2, 1, 0):
        t = day0 - dt.timedelta(days=back) + dt.timedelta(hours=hour)
        t_ms = (t - epoch) // dt.timedelta(milliseconds=1) + int(
            rng.uniform(0, minutes_spread) * 60_000
        )
        if now_ms - 47 * 3_600_000 <= t_ms <= now_ms - _LATENCY_MS - 3_600_000:
            out.append(t_ms)
    return out


def _imagery(
    ref: _Reference,
    rng: np.random.Generator,
    now_ms: int,
    incidents: list[_Incident],
    hotspots: list[_Town],
) -> list[dict[str, Any]]:
    aoi = shapely.union_all([ref.countries[c] for c in HOSTS if c in ref.countries])
    lat_ref = 42.7
    items: list[dict[str, Any]] = []

    # Sentinel-2 L2A: MGRS tiles of UTM zone 34, clipped to the 290 km swath of a descending pass.
    s2_centres = [19.7, 22.0, 20.8]
    s2_platforms = ("sentinel-2b", "sentinel-2c", "sentinel-2a")
    for k, t_pass in enumerate(_day_passes(now_ms, 9.55, 12, rng)):
        lon_c = s2_centres[k % 3] + float(rng.uniform(-0.3, 0.3))
        cx, cy = _utm_xy(lon_c, lat_ref)
        swath = _band(cx, cy, 12.5, 145_000)
        platform = s2_platforms[k % 3]
        for e in range(1, 9):
            for nrow in range(45, 51):
                x0, uly = e * 100_000.0, nrow * 100_000.0
                tile = box(x0, uly - _S2_TILE, x0 + _S2_TILE, uly)
                if not tile.intersects(aoi):
                    continue
                fp = tile.intersection(swath)
                if fp.is_empty or fp.area < 0.05 * tile.area:
                    continue
                fp = _largest_polygon(fp)
                name = _mgrs_square_34(x0 + 50_000, uly - 50_000)
                # Descending: the satellite moves ~6.8 km/s southwards.
                t = t_pass + int((cy - (uly - 50_000)) / 6.8)
                cloud = float(np.round(100 * rng.beta(1.6, 1.2), 2))
                item_id = f"S2{platform[-1].upper()}_{name}_{_dt(t):%Y%m%d}_0_L2A"
                items.append(
                    _stac_item(
                        item_id,
                        "sentinel-2-l2a",
                        fp,
                        t,
                        {
                            "platform": platform,
                            "constellation": "sentinel-2",
                            "instruments": ["msi"],
                            "eo:cloud_cover": cloud,
                            "gsd": 10,
                            "proj:epsg": 32634,
                            "mgrs:utm_zone": int(name[:2]),
                            "mgrs:latitude_band": name[2],
                            "mgrs:grid_square": name[3:5],
                        },
                        [STAC_EXT["eo"], STAC_EXT["proj"], STAC_EXT["mgrs"]],
                        M_ALL,
                    )
                )

    # Sentinel-1 IW GRD: ~250 km wide slices of ~25 s along the orbit track.
    s1 = []
    for t_pass in _day_passes(now_ms, 4.8, 10, rng):
        s1.append((t_pass, "descending", 192.0))
    for t_pass in _day_passes(now_ms, 16.6, 10, rng):
        s1.append((t_pass, "ascending", 348.0))
    s1.sort()
    for k, (t_pass, state, heading) in enumerate(s1):
        platform = ("sentinel-1a", "sentinel-1c")[k % 2]
        lon_c = float(rng.uniform(19.6, 22.0))
        rel_orbit = int(rng.integers(1, 176))
        abs_orbit = int(rng.integers(55_000, 62_000))
        datatake = int(rng.integers(0x10000, 0xFFFFF))
        a = math.radians(heading)
        ux, uy = math.sin(a), math.cos(a)
        c0x, c0y = _utm_xy(lon_c, lat_ref)
        for j in (-1, 0, 1):  # j = -1 is the first slice along the track
            cx, cy = c0x + ux * j * 170_000.0, c0y + uy * j * 170_000.0
            hw, hl = 125_000.0, 86_000.0
            corners = [
                (cx + sx * hl * ux + sy * hw * uy, cy + sx * hl * uy - sy * hw * ux)
                for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
            ]
            fp = Polygon(corners)
            t0 = t_pass + (j + 1) * 25_000
            t1 = t0 + 25_000
            sat = platform[-1].upper()
            item_id = (
                f"S1{sat}_IW_GRDH_1SDV_{_dt(t0):%Y%m%dT%H%M%S}_{_dt(t1):%Y%m%dT%H%M%S}_"
                f"{abs_orbit:06d}_{datatake:06X}_{int(rng.integers(0, 0xFFFF)):04X}"
            )
            items.append(
                _stac_item(
                    item_id,
                    "sentinel-1-grd",
                    fp,
                    t0,
                    {
                        "platform": platform,
                        "constellation": "sentinel-1",
                        "instruments": ["c-sar"],
                        "eo:cloud_cover": 0.0,
                        "gsd": 10,
                        "sar:instrument_mode": "IW",
                        "sar:frequency_band": "C",
                        "sar:polarizations": ["VV", "VH"],
                        "sar:product_type": "GRD",
                        "sat:orbit_state": state,
                        "sat:relative_orbit": rel_orbit,
                        "sat:absolute_orbit": abs_orbit,
                    },
                    [STAC_EXT["eo"], STAC_EXT["sar"], STAC_EXT["sat"]],
                    M_ALL,
                )
            )

    # Commercial high-resolution optical scenes, in daylight only (08:00-13:30
    # UTC): tasked over serious incidents (the first daylight opportunity at
    # least 1.5 h after the event), then routine collections over the flooded
    # towns until the catalogue holds ~56 items.
    latest = now_ms - _LATENCY_MS
    com_markings = (M_USA_GBR, M_COALITION, M_NATO)
    seq = 1

    def scene(x: float, y: float, t: int) -> None:
        nonlocal seq
        size = float(rng.uniform(13_000, 17_000))
        sq = box(x - size / 2, y - size / 2, x + size / 2, y + size / 2)
        fp = affinity.rotate(sq, float(rng.uniform(-12, 12)), origin=(x, y))
        sat = int(rng.integers(1, 7))
        item_id = f"KHR{sat:02d}_{_dt(t):%Y%m%dT%H%M%S}_{seq:03d}"
        items.append(
            _stac_item(
                item_id,
                "kestrel-hr-l1c",
                fp,
                t,
                {
                    "platform": f"kestrel-hr-{sat:02d}",
                    "constellation": "kestrel-hr",
                    "instruments": ["pan", "ms"],
                    "eo:cloud_cover": float(np.round(rng.uniform(0, 35), 2)),
                    "gsd": float(rng.choice([0.3, 0.5, 0.7])),
                    "view:off_nadir": float(np.round(rng.uniform(3, 28), 1)),
                },
                [STAC_EXT["eo"], STAC_EXT["view"]],
                com_markings[seq % 3],
            )
        )
        seq += 1

    serious = [r for r in incidents if r.severity in ("high", "critical")]
    serious.sort(key=lambda r: (r.occurred_ms, r.event_id))
    if serious:
        for i in sorted(rng.choice(len(serious), size=min(18, len(serious)), replace=False)):
            r = serious[int(i)]
            t = _daylight_after(r.occurred_ms + int(rng.uniform(1.5, 4.0) * 3_600_000), rng)
            if t > latest:
                continue  # not acquired, or not delivered yet
            x, y = _utm_xy(r.lon, r.lat)
            scene(x + rng.uniform(-4000, 4000), y + rng.uniform(-4000, 4000), t)
    windows = []
    midnight = now_ms - now_ms % _DAY_MS
    for back in (2, 1, 0):
        w0 = max(midnight - back * _DAY_MS + _DAYLIGHT[0], now_ms - 46 * 3_600_000)
        w1 = min(midnight - back * _DAY_MS + _DAYLIGHT[1], latest)
        if w1 - w0 > 600_000:
            windows.append((w0, w1))
    for i in range(max(5, 56 - len(items))):
        town = hotspots[(3 * i) % len(hotspots)]
        w0, w1 = windows[i % len(windows)]
        scene(
            town.x + rng.uniform(-3000, 3000),
            town.y + rng.uniform(-3000, 3000),
            int(rng.integers(w0, w1)),
        )
    items.sort(key=lambda it: (it["properties"]["datetime"], it["id"]))
    return items


def _stac_json(items: list[dict[str, Any]]) -> str:
    return _json_text(
        {
            "type": "FeatureCollection",
            "stac_version": "1.0.0",
            "stac_extensions": [],
            "numberMatched": len(items),
            "numberReturned": len(items),
            "features": items,
            "links": [],
        }
    )
