"""ADS-B snapshots -> `track_points`: readsb / dump1090 `aircraft.json` and OpenSky state vectors.

Both are snapshots of "every aircraft the receiver knows now", polled over
HTTP (`kind = "http-json"` with `format = "adsb-aircraft-json"` or
`"opensky-states"`) or read from a saved file. One aircraft is one record.

readsb / dump1090 (`/data/aircraft.json`; dump1090-mutability, dump1090-fa,
readsb and tar1090 share the shape): `{"now": unix s, "aircraft": [...]}`.

    hex                       -> track_id  f"adsb:{hex}" (lower case; "~" marks a non-ICAO address)
    flight                    -> callsign  (trailing spaces dropped)
    lat, lon                  -> geometry
    now - seen_pos            -> time      (the position is seen_pos seconds older than
                                            the file; without seen_pos, now - seen)
    alt_geom | alt_baro | altitude (ft)  -> altitude_m  (geometric first; "ground" -> empty)
    gs | speed (kt)           -> speed_mps
    track                     -> heading_deg
    category                  -> platform_type (DO-260 emitter category, e.g. B6 -> "uav")

OpenSky (`/api/states/all`): `{"time": unix s, "states": [[...], ...]}`, each
state a positional array: 0 icao24, 1 callsign, 3 time_position, 5 longitude,
6 latitude, 7 baro_altitude (m), 9 velocity (m/s), 10 true_track,
13 geo_altitude (m), 17 category (optional). The time of a fix is
`time_position`, the time of the position, not the response's `time`.

The same aircraft in both feeds gets the same track id, so it is one track.
An aircraft the receiver has heard but not located (no lat/lon, or OpenSky's
null time_position) is still a record read: it is quarantined as
missing_geometry with its id and callsign in the detail, so stored +
quarantined = aircraft in the file. A fix's time is rounded to the
millisecond: successive snapshots report the same position with a growing
seen_pos (now 781.4, seen_pos 0.3; now 793.5, seen_pos 12.4), and both must
give the same time and so the same source_id, or one fix would be stored
twice.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from ingest import reasons
from ingest.adapters.base import ReadResult, rejection
from ingest.adapters.common import MAX_INPUT_BYTES, decode_text, read_bytes, text_or_none
from ingest.adapters.cot import result_from_parsed
from ingest.errors import UnreadableInputError

LAYER = "track_points"
FT = 0.3048
KT = 1852 / 3600
# DO-260B emitter categories (dump1090 "category"; OpenSky's number n >= 2 is the n-2'th of these).
CATEGORIES = {
    "A1": "light aircraft", "A2": "small aircraft", "A3": "large aircraft",
    "A4": "high-vortex large aircraft", "A5": "heavy aircraft", "A6": "high-performance aircraft",
    "A7": "rotorcraft", "B1": "glider", "B2": "lighter-than-air", "B3": "parachutist",
    "B4": "ultralight", "B5": None, "B6": "uav", "B7": "space vehicle",
    "C1": "emergency vehicle", "C2": "service vehicle", "C3": "point obstacle",
    "C4": "cluster obstacle", "C5": "line obstacle",
}
OPENSKY_CATEGORIES = {n: code for n, code in enumerate(CATEGORIES, start=2)}


def track_id(icao: str) -> str:
    return f"adsb:{icao.strip().lower()}"


def _number(value: Any) -> float | None:
    """A finite float, or None for missing, non-numeric ("ground") or NaN values."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _scaled(value: Any, factor: float) -> float | None:
    v = _number(value)
    return None if v is None else v * factor


def _utc(seconds: float) -> pd.Timestamp:
    return pd.Timestamp(round(seconds * 1000), unit="ms", tz="UTC")


def _load(path: Path, max_bytes: int, what: str) -> Any:
    text = decode_text(path, read_bytes(path, max_bytes))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableInputError(path, f"expected {what} (JSON), found invalid JSON: {exc}") from None


def _row(source: str, icao: str, time: pd.Timestamp, lon: float, lat: float, **values: Any
         ) -> dict[str, Any]:
    tid = track_id(icao)
    return {"source": source, "source_id": f"{tid}@{time.isoformat()}", "marking": None,
            "track_id": tid, "time": time, "stale_at": None, "lon": lon, "lat": lat, **values}


def _no_position(source: str, icao: str, callsign: str | None, seen: str, raw: Any) -> dict[str, Any]:
    who = f"aircraft {icao.strip().lower()}" + (f" ({callsign})" if callsign else "")
    return rejection(LAYER, source, track_id(icao), reasons.MISSING_GEOMETRY,
                     f"{who} was heard but not located: no position in the snapshot ({seen})", raw)


def _malformed(source: str, what: str, raw: Any) -> dict[str, Any]:
    return rejection(LAYER, source, None, reasons.MALFORMED_RECORD, what, raw)


def _aircraft_json_record(plane: Any, now: float, source: str) -> dict[str, Any]:
    if not isinstance(plane, dict):
        return _malformed(source, f"expected an aircraft object, found {type(plane).__name__}", plane)
    icao = text_or_none(plane.get("hex"))
    if icao is None:
        return _malformed(source, f"expected an aircraft with a 'hex' address, found keys {sorted(plane)}",
                          plane)
    callsign = text_or_none(plane.get("flight"))
    lat, lon = _number(plane.get("lat")), _number(plane.get("lon"))
    if lat is None or lon is None:
        seen = _number(plane.get("seen"))
        return _no_position(source, icao, callsign, f"last message {seen:g} s before 'now'"
                            if seen is not None else "no 'seen' either", plane)
    age = _number(plane.get("seen_pos"))
    age = _number(plane.get("seen")) if age is None else age
    altitude = next((v for k in ("alt_geom", "alt_baro", "altitude")
                     if (v := _scaled(plane.get(k), FT)) is not None), None)
    return _row(source, icao, _utc(now - (age or 0.0)), lon, lat, altitude_m=altitude,
                speed_mps=_scaled(plane.get("gs", plane.get("speed")), KT),
                heading_deg=_number(plane.get("track")), callsign=callsign,
                platform_type=CATEGORIES.get(str(plane.get("category", "")).upper()))


def _opensky_record(state: Any, source: str) -> dict[str, Any]:
    if not isinstance(state, list) or len(state) < 17 or not isinstance(state[0], str):
        size = len(state) if isinstance(state, list) else type(state).__name__
        return _malformed(source, f"expected a state vector (an array of 17 or 18 values starting "
                                  f"with icao24), found {size}", state)
    icao, callsign = state[0], text_or_none(state[1])
    when, lon, lat = _number(state[3]), _number(state[5]), _number(state[6])
    if when is None or lon is None or lat is None:
        return _no_position(source, icao, callsign, f"time_position={state[3]!r}, "
                            f"longitude={state[5]!r}, latitude={state[6]!r}", state)
    altitude = _number(state[13]) if _number(state[13]) is not None else _number(state[7])
    category = state[17] if len(state) > 17 else None
    return _row(source, icao, _utc(when), lon, lat, altitude_m=altitude,
                speed_mps=_number(state[9]), heading_deg=_number(state[10]), callsign=callsign,
                platform_type=CATEGORIES.get(OPENSKY_CATEGORIES.get(category, ""))
                if isinstance(category, int) else None)


def _snapshot(path: Path, max_bytes: int, what: str, list_key: str, time_key: str
              ) -> tuple[list[Any], float]:
    doc = _load(path, max_bytes, what)
    if not isinstance(doc, dict) or list_key not in doc:
        found = sorted(doc)[:10] if isinstance(doc, dict) else type(doc).__name__
        raise UnreadableInputError(path, f"expected {what}: an object with {list_key!r}, found {found}")
    items = doc[list_key]
    if items is None:  # OpenSky: "states": null when nothing is in view
        items = []
    if not isinstance(items, list):
        raise UnreadableInputError(path, f"expected {list_key!r} to be a list, found "
                                         f"{type(items).__name__}")
    stamp = _number(doc.get(time_key))
    if stamp is None:
        raise UnreadableInputError(path, f"expected {time_key!r} (Unix seconds) in {what}, found "
                                         f"{doc.get(time_key)!r}: without it no fix has a time")
    return items, stamp


def read_aircraft_json(path: Path, *, source: str, max_bytes: int = MAX_INPUT_BYTES, **_: Any
                       ) -> ReadResult:
    """Read a readsb / dump1090 `aircraft.json` snapshot; one record per aircraft."""
    planes, now = _snapshot(Path(path), max_bytes, "a readsb/dump1090 aircraft.json", "aircraft", "now")
    return result_from_parsed(_aircraft_json_record(p, now, source) for p in planes)


def read_opensky_states(path: Path, *, source: str, max_bytes: int = MAX_INPUT_BYTES, **_: Any
                        ) -> ReadResult:
    """Read an OpenSky `/states/all` response; one record per state vector."""
    states, _time = _snapshot(Path(path), max_bytes, "an OpenSky state-vector response", "states", "time")
    return result_from_parsed(_opensky_record(s, source) for s in states)
