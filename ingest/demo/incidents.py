"""Incidents: ACLED-style events (``incidents.csv``) and a relief agency's reports
(``incidents_relief.geojson``), placed in real towns, mostly along the flooded rivers."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ingest.adapters.acled_csv import FIELDS as ACLED_FIELDS
from ingest.demo.common import _GEOD, M_ALL, M_NATO, _dt, _iso_s, _json_text, _r
from ingest.demo.tables import (
    ACLED_SOURCES,
    ACLED_TYPES,
    HOSTILE_NOTES,
    HOSTILE_RELIEF,
    HOSTS,
    HOTSPOTS,
    RELIEF_TYPES,
    SOURCE_MARKINGS,
)
from ingest.demo.tracks import _f
from ingest.demo.world import _Reference, _Town
from ingest.schema import INCIDENT_STATUSES, SEVERITIES

# The ACLED adapter's columns that the demo fills, in its order (no event_id_cnty, mgrs, timestamp, title).
ACLED_HEADER = tuple(f for f in ACLED_FIELDS if f not in {"event_id_cnty", "mgrs", "timestamp", "title"})


@dataclass
class _Incident:
    occurred_ms: int
    cc: str
    town: _Town
    lon: float
    lat: float
    category: str
    subcategory: str
    severity: str
    status: str
    fatalities: int
    actor1: str = ""
    actor2: str = ""
    source: str = ""
    notes: str = ""
    title: str = ""
    marking: str = M_ALL
    event_id: str = ""



def _weighted(rng: np.random.Generator, weights: Sequence[float]) -> int:
    w = np.asarray(weights, dtype=float)
    return int(rng.choice(len(w), p=w / w.sum()))


def _hotspot_towns(ref: _Reference) -> list[_Town]:
    out: list[_Town] = []
    for cc in HOSTS:
        for prefs in HOTSPOTS[cc]:
            t = ref.town(cc, prefs)
            if t is not None and t not in out:
                out.append(t)
    if len(out) < 8:  # reference data without the names: use the biggest towns
        for t in ref.towns:
            if t not in out:
                out.append(t)
            if len(out) >= 12:
                break
    return out


def _incident_place(
    ref: _Reference, rng: np.random.Generator, where: str, hotspots: list[_Town]
) -> _Town:
    if where == "BIH":
        pool = [t for t in hotspots if t.cc == "BIH"] or ref.towns_in("BIH") or ref.towns
        return pool[int(rng.integers(0, len(pool)))]
    if where == "flood" and rng.random() < 0.75:
        return hotspots[int(rng.integers(0, len(hotspots)))]
    towns = [t for t in ref.towns if t.population >= 5000] or ref.towns
    w = np.maximum([t.population for t in towns], 1000) ** 0.75
    return towns[_weighted(rng, w)]


def _jitter(rng: np.random.Generator, town: _Town) -> tuple[float, float]:
    lon, lat, _ = _GEOD.fwd(
        town.lon, town.lat, float(rng.uniform(0, 360)), float(rng.uniform(50, 1800))
    )
    return float(lon), float(lat)


def _status(rng: np.random.Generator, age_h: float) -> str:
    if age_h < 0.5:
        return "reported"
    closed = min(0.5, max(0.0, (age_h - 6) / 30))
    verified = 0.25 + 0.35 * min(age_h / 12, 1.0)
    return INCIDENT_STATUSES[_weighted(rng, [max(0.0, 1 - closed - verified), verified, closed])]


def _severity(rng: np.random.Generator, weights: Sequence[float], fatalities: int) -> str:
    i = _weighted(rng, weights)
    if fatalities >= 3:
        i = 3
    elif fatalities >= 1:
        i = max(i, 2)
    return SEVERITIES[i]


def _fatalities(rng: np.random.Generator, p: tuple[float, float, float]) -> int:
    u = rng.random()
    if u < p[2]:
        return 3
    if u < p[2] + p[1]:
        return 2
    if u < p[2] + p[1] + p[0]:
        return 1
    return 0


def acled_incident(
    ref: _Reference, rng: np.random.Generator, hotspots: list[_Town], when: Callable[[], tuple[int, int]]
) -> _Incident:
    """One ACLED-style incident; ``when()`` gives (occurred ms, age ms), drawn at its place in the
    sequence of random draws (so the static scenario and the live demo share one generator)."""
    etype, _w, where, pfat, subs = ACLED_TYPES[_weighted(rng, [t[1] for t in ACLED_TYPES])]
    sub, _w, a1, a2, sev_w, notes = subs[_weighted(rng, [t[1] for t in subs])]
    town = _incident_place(ref, rng, where, hotspots)
    lon, lat = _jitter(rng, town)
    occurred, age_ms = when()
    country = ref.country_names.get(town.cc, town.cc)
    fat = _fatalities(rng, pfat)
    note = notes[int(rng.integers(0, len(notes)))].format(
        town=town.name, n=int(rng.integers(2, 40)), d=f"{rng.uniform(0.5, 2.5):.1f}"
    )
    if fat:
        note += f" {fat} fatalit{'y' if fat == 1 else 'ies'} reported."
    source = ACLED_SOURCES[int(rng.integers(0, len(ACLED_SOURCES)))]
    opts = SOURCE_MARKINGS.get(source)
    mark = opts[int(rng.integers(0, len(opts)))] if opts else (M_ALL if rng.random() < 0.85 else M_NATO)
    return _Incident(
        occurred,
        town.cc,
        town,
        lon,
        lat,
        etype,
        sub,
        _severity(rng, sev_w, fat),
        _status(rng, age_ms / 3.6e6),
        fat,
        a1.format(country=country),
        a2.format(country=country),
        source,
        note,
        marking=mark,
    )


def _acled(
    ref: _Reference, rng: np.random.Generator, now_ms: int, hotspots: list[_Town], n: int = 270
) -> list[_Incident]:
    def when() -> tuple[int, int]:
        age_ms = int(rng.uniform(60, 86_340)) * 1000
        return (now_ms - age_ms) // 1000 * 1000, age_ms

    rows = [acled_incident(ref, rng, hotspots, when) for _ in range(n)]
    rows.sort(key=lambda r: (r.occurred_ms, r.cc, r.town.name))
    used: set[int] = set()
    for etype, text in HOSTILE_NOTES:
        for i, r in enumerate(rows):
            if r.category == etype and i not in used:
                r.notes = text
                used.add(i)
                break
    counters: dict[str, int] = {}
    for r in rows:
        counters[r.cc] = counters.get(r.cc, 0) + 1
        r.event_id = f"{r.cc}{1200 + counters[r.cc]:05d}"
    rows.reverse()  # ACLED exports: newest first
    return rows


def relief_incident(
    ref: _Reference, rng: np.random.Generator, hotspots: list[_Town], when: Callable[[], tuple[int, int]]
) -> _Incident:
    """One relief consortium field report (see `acled_incident` for ``when``)."""
    cat, _w, subs, (title, desc) = RELIEF_TYPES[_weighted(rng, [t[1] for t in RELIEF_TYPES])]
    town = _incident_place(ref, rng, "flood", hotspots)
    lon, lat = _jitter(rng, town)
    occurred, age_ms = when()
    sub = subs[int(rng.integers(0, len(subs)))]
    fat = _fatalities(rng, (0.04, 0.01, 0.0)) if cat in ("Flood", "Landslide") else 0
    sev = _severity(rng, (0.2, 0.4, 0.3, 0.1), fat)
    k = int(rng.integers(2, 30))
    return _Incident(
        occurred,
        town.cc,
        town,
        lon,
        lat,
        cat,
        sub,
        sev,
        _status(rng, age_ms / 3.6e6),
        fat,
        title=title.format(sub=sub, town=town.name),
        notes=desc.format(sub=sub, town=town.name, n=k),
        marking=M_ALL if rng.random() < 0.8 else M_NATO,
    )


def _relief(
    ref: _Reference, rng: np.random.Generator, now_ms: int, hotspots: list[_Town], n: int = 75
) -> list[_Incident]:
    def when() -> tuple[int, int]:
        age_ms = int(rng.uniform(300, 86_000)) * 1000
        return (now_ms - age_ms) // 1000 * 1000, age_ms

    rows = [relief_incident(ref, rng, hotspots, when) for _ in range(n)]
    rows.sort(key=lambda r: (r.occurred_ms, r.cc, r.town.name))
    for (title, desc), r in zip(HOSTILE_RELIEF, rows[5::20]):
        r.title, r.notes = title, desc
    for i, r in enumerate(rows, 1):
        r.event_id = f"BFRC-{_dt(now_ms).year}-{i:04d}"
    return rows


def _incidents_csv(rows: list[_Incident]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(ACLED_HEADER)
    for r in rows:
        w.writerow(
            [
                r.event_id,
                _iso_s(r.occurred_ms),
                r.category,
                r.subcategory,
                r.actor1,
                r.actor2,
                r.town.name,
                _f(r.lat, 5),
                _f(r.lon, 5),
                r.fatalities,
                r.source,
                r.notes,
                r.severity,
                r.status,
                r.marking,
            ]
        )
    return out.getvalue()


def _relief_geojson(rows: list[_Incident]) -> str:
    feats = []
    for r in rows:
        feats.append(
            {
                "type": "Feature",
                "id": r.event_id,
                "geometry": {"type": "Point", "coordinates": [_r(r.lon, 5), _r(r.lat, 5)]},
                "properties": {
                    "id": r.event_id,
                    "occurred_at": _iso_s(r.occurred_ms),
                    "category": r.category,
                    "subcategory": r.subcategory,
                    "severity": r.severity,
                    "status": r.status,
                    "title": r.title,
                    "description": r.notes,
                    "location_name": r.town.name,
                    "fatalities": r.fatalities,
                    "marking": r.marking,
                },
            }
        )
    return _json_text(
        {
            "type": "FeatureCollection",
            "name": "Balkan Flood Relief Consortium field reports",
            "features": feats,
        }
    )
