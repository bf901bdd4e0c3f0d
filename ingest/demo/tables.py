"""The scenario's tables, read once from ``data/demo/*.toml``: who is deployed where, which sorties
are flown, what kinds of incident happen. Names only: every position comes from the real reference
data (`ingest.demo.world`). Rows are turned back into the tuples the generators unpack, in the
order the TOML files list them; markings are named there by short name (`MARKING_NAMES`).
"""

from __future__ import annotations

import tomllib
from typing import Any

from ingest.config import DATA_DIR
from ingest.demo.common import M_ALL, M_COALITION, M_GBR_FRA, M_NATO, M_USA_GBR

TABLES_DIR = DATA_DIR / "demo"
MARKING_NAMES = {"all": M_ALL, "coalition": M_COALITION, "nato": M_NATO, "usa_gbr": M_USA_GBR,
                 "gbr_fra": M_GBR_FRA}


def _read(name: str) -> dict[str, Any]:
    with (TABLES_DIR / f"{name}.toml").open("rb") as fh:
        return tomllib.load(fh)


def _tuples(value: Any) -> Any:
    """TOML arrays as tuples, all the way down (the tables are constants)."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


def _markings(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(MARKING_NAMES[n] for n in names)


def _rows(rows: list[dict[str, Any]], *fields: str) -> tuple[tuple[Any, ...], ...]:
    return tuple(tuple(_tuples(row[f]) for f in fields) for row in rows)


_hosts = _read("hosts")
_units = _read("units")
_sorties = _read("sorties")
_incidents = _read("incidents")

# Host countries in scenario order, with the names used in actor strings when borders.parquet has none.
HOST_NAMES: dict[str, str] = dict(_hosts["hosts"])
HOSTS: tuple[str, ...] = tuple(HOST_NAMES)
HOTSPOTS: dict[str, tuple[tuple[str, ...], ...]] = _tuples(_hosts["hotspots"])

# key, nation, unit name, unit type, echelon, strength, host country, base town preferences,
# marking, reported up to two days ago
UNITS: tuple[tuple[str, str, str, str, str, int, str, tuple[str, ...], str, bool], ...] = tuple(
    (u["key"], u["nation"], u["name"], u["type"], u["echelon"], u["strength"], u["host"], _tuples(u["base"]),
     MARKING_NAMES[u["marking"]], u["old_report"])
    for u in _units["units"]
)
AOR_RADIUS_KM: dict[str, int] = dict(_units["aor_radius_km"])
NATION_CALLSIGN: dict[str, str] = dict(_units["nation_callsign"])
NATION_MARKINGS: dict[str, tuple[str, ...]] = {k: _markings(v) for k, v in _units["nation_markings"].items()}

# track id, nation, format, (country, launch town prefs), (country, target town prefs)
CROSSINGS = tuple(
    (c["track_id"], c["nation"], c["format"], (c["launch_country"], _tuples(c["launch_town"])),
     (c["target_country"], _tuples(c["target_town"])))
    for c in _sorties["crossings"]
)
# track id, nation, airframe, format, infrastructure kind, preferences (codes or names)
LOITERS = _rows(_sorties["loiters"], "track_id", "nation", "airframe", "format", "kind", "targets")
# track id, nation, format, (country, town prefs)
SURVEYS = tuple((s["track_id"], s["nation"], s["format"], (s["country"], _tuples(s["town"])))
                for s in _sorties["surveys"])
# track id, nation, format, launch unit, waypoint town prefs, still airborne at `now`
ROUTES = _rows(_sorties["routes"], "track_id", "nation", "format", "unit", "waypoints", "airborne")

# event type, weight, where, fatality probabilities (1, 2, 3), and per sub-event type: weight,
# actor1, actor2, severity weights (low, medium, high, critical), notes.
ACLED_TYPES = tuple(
    (t["event_type"], t["weight"], t["where"], _tuples(t["fatality_p"]),
     _rows(t["sub_events"], "name", "weight", "actor1", "actor2", "severity_weights", "notes"))
    for t in _incidents["acled_types"]
)
ACLED_SOURCES: tuple[str, ...] = _tuples(_incidents["acled_sources"])
SOURCE_MARKINGS: dict[str, tuple[str, ...]] = {k: _markings(v)
                                               for k, v in _incidents["source_markings"].items()}
# Records whose free text needs escaping when shown as HTML: valid, must load.
HOSTILE_NOTES = _rows(_incidents["hostile_notes"], "event_type", "notes")
RELIEF_TYPES = _rows(_incidents["relief_types"], "category", "weight", "subcategories", "texts")
HOSTILE_RELIEF = _rows(_incidents["hostile_relief"], "title", "description")
