"""Drone sorties (border crossings, loiters over infrastructure, surveys, routes) planned over the
real world and flown; written as Cursor-on-Target XML, GPX and CSV track files."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np
from shapely.geometry import Point

from ingest.demo.common import TASK_FORCE, _iso_ms, _iso_s, _ll, _norm, _offset
from ingest.demo.deployments import _Unit
from ingest.demo.flight import _FRAMES, _FW, _QC, _Airframe, _fly, _Leg, _Track
from ingest.demo.tables import CROSSINGS, LOITERS, NATION_CALLSIGN, NATION_MARKINGS, ROUTES, SURVEYS
from ingest.demo.world import _Infra, _Reference, _Town


def _shared_border(ref: _Reference, a: str, b: str) -> Any:
    pa, pb = ref.countries.get(a), ref.countries.get(b)
    if pa is None or pb is None:
        return None
    line = pa.boundary.intersection(pb.buffer(300.0))
    return None if line.is_empty or line.length < 2000 else line


def _town_near_border(ref: _Reference, cc: str, border: Any, exclude: set[str]) -> _Town | None:
    best: tuple[int, str] | None = None
    pick = None
    for t in ref.towns_in(cc):
        if t.name in exclude:
            continue
        d = border.distance(Point(t.x, t.y))
        if 6000 <= d <= 40000 and (best is None or (-t.population, t.name) < best):
            best, pick = (-t.population, t.name), t
    return pick


def _plan_tracks(
    ref: _Reference, units: list[_Unit], rng: np.random.Generator, hotspot_towns: list[_Town]
) -> list[tuple[_Track, _Airframe, tuple[float, float], float, list[_Leg], bool]]:
    plans = []
    unit_by_key = {u.key: u for u in units}
    numbers: dict[str, int] = {}

    def callsign(nation: str) -> str:
        numbers[nation] = numbers.get(nation, 0) + 1
        return f"{NATION_CALLSIGN[nation]} {10 * numbers[nation] + 1 + int(rng.integers(0, 8))}"

    def marking(nation: str) -> str:
        options = NATION_MARKINGS[nation]
        return options[int(rng.integers(0, len(options)))]

    def fw_alt(ground: float) -> float:
        return ground + float(rng.uniform(900, 1500))

    def qc_alt(ground: float) -> float:
        return ground + float(rng.uniform(80, 120))

    def ground() -> float:
        return float(np.round(rng.uniform(80, 650), 1))

    # Cross-border sorties.
    for tid, nation, fmt, (ca, pa), (cb, pb) in CROSSINGS:
        border = _shared_border(ref, ca, cb)
        if border is None:
            continue
        ta = ref.town(ca, pa) or _town_near_border(ref, ca, border, set())
        tb = ref.town(cb, pb) or _town_near_border(ref, cb, border, set())
        if ta is None or tb is None:
            continue
        mid = Point((ta.x + tb.x) / 2, (ta.y + tb.y) / 2)
        bp = border.interpolate(border.project(mid))
        g = ground()
        alt = fw_alt(g)
        spd = float(rng.uniform(24, 32))
        orbit_r = float(rng.uniform(1200, 1800))
        legs = [
            _Leg("goto", bp.x, bp.y, alt, spd, "transit"),
            _Leg("goto", tb.x, tb.y, alt, spd, "transit"),
            _Leg(
                "orbit",
                tb.x,
                tb.y,
                alt - 200,
                spd * 0.8,
                "survey",
                orbit_r,
                int(rng.uniform(8, 14) * 60),
                1 if rng.random() < 0.5 else -1,
            ),
            _Leg("goto", bp.x, bp.y, alt, spd, "RTB"),
            _Leg("goto", ta.x, ta.y, g + 60, spd * 0.8, "RTB"),
        ]
        blon, blat = _ll(bp.x, bp.y)
        tr = _Track(
            tid,
            nation,
            "fw",
            fmt,
            callsign(nation),
            marking(nation),
            f"Cross-border flood survey {ta.name} ({ca}) to {tb.name} ({cb}), "
            "host-nation overflight clearance",
            "crossing",
            f"{ref.country_names[ca]}-{ref.country_names[cb]} border at "
            f"{blat:.4f}N {blon:.4f}E, between {ta.name} and {tb.name}",
        )
        plans.append((tr, _FW, (ta.x, ta.y), g, legs, False))

    # Loiters over real infrastructure.
    used_infra: set[str] = set()
    for tid, nation, fr, fmt, kind, prefs in LOITERS:
        target = _pick_infra(ref, kind, prefs, used_infra)
        if target is None:
            continue
        used_infra.add(target.name)
        frame = _FRAMES[fr]
        g = ground()
        if fr == "fw":
            launch = _nearest_launch(ref, units, target)
            alt = fw_alt(g)
            spd = float(rng.uniform(24, 30))
            radius = float(rng.uniform(550, 850))
            dur = int(rng.uniform(20, 45) * 60)
            ospd = float(rng.uniform(20, 24))
        else:
            launch = None
            for _ in range(12):
                lx, ly = _offset(
                    target.x, target.y, float(rng.uniform(1500, 2500)), float(rng.uniform(0, 360))
                )
                if ref.country_at(lx, ly) == target.cc:
                    launch = (lx, ly)
                    break
            launch = launch or (target.x + 1800.0, target.y)
            alt = qc_alt(g)
            spd = float(rng.uniform(10, 13))
            radius = float(rng.uniform(200, 350))
            dur = int(rng.uniform(17, 23) * 60)
            ospd = float(rng.uniform(7, 9))
        legs = [
            _Leg("goto", target.x, target.y, alt, spd, "transit"),
            _Leg(
                "orbit",
                target.x,
                target.y,
                alt,
                ospd,
                "orbit",
                radius,
                dur,
                1 if rng.random() < 0.5 else -1,
            ),
            _Leg("goto", launch[0], launch[1], g + (60 if fr == "fw" else 15), spd, "RTB"),
        ]
        what = "airport" if kind == "airport" else "power plant"
        tr = _Track(
            tid,
            nation,
            fr,
            fmt,
            callsign(nation),
            marking(nation),
            f"Overwatch orbit over {target.label} ({what})",
            "loiter",
            f"{target.label}, {what}, {ref.country_names.get(target.cc, target.cc)}",
        )
        plans.append((tr, frame, launch, g, legs, False))

    # Lawnmower damage surveys over flooded towns.
    for tid, nation, fmt, (cc, prefs) in SURVEYS:
        town = ref.town(cc, prefs) or next((t for t in hotspot_towns if t.cc == cc), None)
        if town is None:
            continue
        g = ground()
        alt = qc_alt(g)
        cx, cy = _offset(town.x, town.y, float(rng.uniform(0, 600)), float(rng.uniform(0, 360)))
        launch = _offset(cx, cy, float(rng.uniform(900, 1400)), float(rng.uniform(0, 360)))
        w, h, spacing = float(rng.uniform(1000, 1400)), float(rng.uniform(700, 1000)), 140.0
        rot = math.radians(float(rng.uniform(0, 180)))
        legs = []
        spd = float(rng.uniform(7, 10))
        n_lines = int(h // spacing) + 1
        for i in range(n_lines):
            v = -h / 2 + i * spacing
            ends = (-w / 2, w / 2) if i % 2 == 0 else (w / 2, -w / 2)
            for u in ends:
                px = cx + u * math.cos(rot) - v * math.sin(rot)
                py = cy + u * math.sin(rot) + v * math.cos(rot)
                legs.append(_Leg("goto", px, py, alt, spd, "survey"))
        legs.insert(0, _Leg("goto", legs[0].x, legs[0].y, alt, 12.0, "transit"))
        legs.append(_Leg("goto", launch[0], launch[1], g + 15, 12.0, "RTB"))
        tr = _Track(
            tid,
            nation,
            "qc",
            fmt,
            callsign(nation),
            marking(nation),
            f"Flood damage survey over {town.name}",
            "survey",
            town.name,
        )
        plans.append((tr, _QC, launch, g, legs, False))

    # Route reconnaissance between flooded towns.
    for tid, nation, fmt, unit_key, stops, live in ROUTES:
        unit = unit_by_key.get(unit_key)
        if unit is None:
            continue
        towns = [t for t in (ref.town(unit.host, p) for p in stops) if t is not None]
        if not towns:
            towns = [
                t
                for t in ref.towns_in(unit.host)
                if 15000 < math.hypot(t.x - unit.x, t.y - unit.y) < 70000
            ][:2]
        if not towns:
            continue
        g = ground()
        alt = fw_alt(g)
        spd = float(rng.uniform(25, 33))
        legs = [_Leg("goto", t.x, t.y, alt, spd, f"route recce {t.name}") for t in towns]
        legs.append(_Leg("goto", unit.x, unit.y, g + 60, spd * 0.85, "RTB"))
        tr = _Track(
            tid,
            nation,
            "fw",
            fmt,
            callsign(nation),
            marking(nation),
            "Route reconnaissance " + " - ".join([unit.base.name] + [t.name for t in towns]),
            "route",
            ", ".join(t.name for t in towns),
        )
        plans.append((tr, _FW, (unit.x, unit.y), g, legs, live))
    return plans


def _pick_infra(ref: _Reference, kind: str, prefs: Sequence[str], used: set[str]) -> _Infra | None:
    pool = [i for i in ref.infra if i.kind == kind and i.name not in used]
    for p in prefs:
        for i in pool:
            tokens = set(re.split(r"[^A-Z0-9]+", f"{i.code} {i.subkind}".upper()))
            if p.upper() in tokens or f" {_norm(p)} " in f" {_norm(i.name)} ":
                return i
    # Fallback: the biggest of that kind (power plants by capacity), else anything unused.
    if not pool:
        pool = [i for i in ref.infra if i.name not in used]
    if not pool:
        return None
    return min(pool, key=lambda i: (-i.capacity, i.name))


def _nearest_launch(ref: _Reference, units: list[_Unit], target: _Infra) -> tuple[float, float]:
    best = None
    for u in units:
        if u.host != target.cc:
            continue
        d = math.hypot(u.x - target.x, u.y - target.y)
        if 3000 < d < 90000 and (best is None or d < best[0]):
            best = (d, (u.x, u.y))
    if best is not None:
        return best[1]
    for t in ref.towns_in(target.cc):
        d = math.hypot(t.x - target.x, t.y - target.y)
        if 5000 < d < 60000 and (best is None or d < best[0]):
            best = (d, (t.x, t.y))
    return best[1] if best else (target.x + 8000.0, target.y)


def _tracks(
    ref: _Reference,
    units: list[_Unit],
    rng: np.random.Generator,
    now_ms: int,
    hotspot_towns: list[_Town],
) -> list[_Track]:
    tracks = []
    for tr, frame, launch, g, legs, live in _plan_tracks(ref, units, rng, hotspot_towns):
        fl = _fly(frame, launch, g, legs, rng)
        interval = int(rng.choice([10, 12, 15, 20] if frame.kind == "fw" else [5, 6, 8]))
        idx = np.arange(int(rng.integers(0, interval)), len(fl.x), interval)
        if live:  # still airborne: the feed has reached the middle of the flight
            idx = idx[: max(10, int(len(idx) * rng.uniform(0.6, 0.8)))]
        span_ms = int(idx[-1] - idx[0]) * 1000
        if live:
            end = now_ms - int(rng.integers(2_000, 40_000))
        else:
            latest = 86_400_000 - span_ms - 120_000
            end = now_ms - int(rng.integers(600_000, max(600_001, latest)))
        start = end - span_ms
        tr.times_ms = start + (idx - idx[0]).astype(np.int64) * 1000
        lon, lat = _ll(fl.x[idx], fl.y[idx])
        tr.lon, tr.lat = np.round(lon, 6), np.round(lat, 6)
        tr.alt = np.round(fl.z[idx], 1)
        tr.speed = np.round(fl.v[idx], 1)
        tr.heading = np.round(fl.hdg[idx], 1) % 360.0
        tr.phase = [fl.phase[i] for i in idx]
        tr.ce = float(np.round(rng.uniform(3, 8), 1))
        tr.le = float(np.round(tr.ce * 1.8, 1))
        tracks.append(tr)
    return tracks


def _f(v: float, nd: int) -> str:
    s = f"{v:.{nd}f}"
    return "0." + "0" * nd if s == "-0." + "0" * nd else s


def _cot_xml(tracks: list[_Track]) -> str:
    rows = []
    for tr in tracks:
        for i in range(len(tr.times_ms)):
            rows.append((int(tr.times_ms[i]), tr.track_id, tr, i))
    rows.sort(key=lambda r: (r[0], r[1]))
    out = io.StringIO()
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n<events>\n')
    for t, _, tr, i in rows:
        out.write(cot_event(tr.track_id, tr.cot_type, t, tr.lat[i], tr.lon[i], tr.alt[i], tr.ce, tr.le,
                            tr.callsign, tr.heading[i], tr.speed[i], f"{tr.mission}; phase: {tr.phase[i]}",
                            tr.marking))
    out.write("</events>\n")
    return out.getvalue()


def cot_event(uid: str, cot_type: str, t_ms: int, lat: float, lon: float, alt: float, ce: float, le: float,
              callsign: str, course: float, speed: float, remarks: str, marking: str) -> str:
    """One Cursor-on-Target position report as a drone's ground station sends it (stale after 60 s)."""
    return (
        f'<event version="2.0" uid={quoteattr(uid)} type="{cot_type}" how="m-g" '
        f'time="{_iso_ms(t_ms)}" start="{_iso_ms(t_ms)}" stale="{_iso_ms(t_ms + 60_000)}">'
        f'<point lat="{_f(lat, 6)}" lon="{_f(lon, 6)}" hae="{_f(alt, 1)}" '
        f'ce="{_f(ce, 1)}" le="{_f(le, 1)}"/>'
        f"<detail><contact callsign={quoteattr(callsign)}/>"
        f'<track course="{_f(course, 1)}" speed="{_f(speed, 1)}"/>'
        f"<remarks>{escape(remarks)}</remarks><marking>{escape(marking)}</marking>"
        "</detail></event>\n"
    )


def _gpx(tracks: list[_Track], now_ms: int) -> str:
    out = io.StringIO()
    out.write(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="watchfloor demo_scenario" '
        'xmlns="http://www.topografix.com/GPX/1/1" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://www.topografix.com/GPX/1/1 '
        'http://www.topografix.com/GPX/1/1/gpx.xsd">\n'
        f"<metadata><name>{escape(TASK_FORCE)} UAS tracks</name>"
        f"<time>{_iso_s(now_ms)}</time></metadata>\n"
    )
    for tr in tracks:
        kind = "fixed-wing UAS" if tr.frame == "fw" else "quadcopter UAS"
        out.write(
            f"<trk><name>{escape(tr.track_id)}</name>"
            f"<desc>{escape(tr.callsign + ': ' + tr.mission)}</desc><type>{kind}</type>\n<trkseg>\n"
        )
        for i in range(len(tr.times_ms)):
            out.write(
                f'<trkpt lat="{_f(tr.lat[i], 6)}" lon="{_f(tr.lon[i], 6)}">'
                f"<ele>{_f(tr.alt[i], 1)}</ele>"
                f"<time>{_iso_ms(int(tr.times_ms[i]))}</time></trkpt>\n"
            )
        out.write("</trkseg>\n</trk>\n")
    out.write("</gpx>\n")
    return out.getvalue()


def _tracks_csv(tracks: list[_Track]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(
        [
            "track_id",
            "time",
            "lat",
            "lon",
            "alt_m",
            "speed_mps",
            "heading_deg",
            "callsign",
            "marking",
        ]
    )
    for tr in tracks:
        for i in range(len(tr.times_ms)):
            w.writerow(
                [
                    tr.track_id,
                    _iso_ms(int(tr.times_ms[i])),
                    _f(tr.lat[i], 6),
                    _f(tr.lon[i], 6),
                    _f(tr.alt[i], 1),
                    _f(tr.speed[i], 1),
                    _f(tr.heading[i], 1),
                    tr.callsign,
                    tr.marking,
                ]
            )
    return out.getvalue()
