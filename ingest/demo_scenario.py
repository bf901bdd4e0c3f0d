"""Deterministic demo scenario: Operation SILVER RIVER (fictional).

A fictional multinational flood-relief and stabilisation mission, "Multinational
Joint Task Force Western Balkans" (MJTF-WB), in the real Western Balkans (Serbia,
Kosovo, North Macedonia, Albania, Montenegro, Bosnia and Herzegovina; roughly
lon 18.0..23.1, lat 40.5..45.0). Units, sorties, incidents and imagery are
invented; every position is taken from the real reference data in
``data/reference`` (borders, infrastructure, places), never typed in:

- unit bases, incident locations and drone launch sites are real towns from
  ``places.parquet`` (picked by name from short preference lists, falling back
  to the most populous towns of the right country when a name is absent);
- loiter targets are real airports and power plants from
  ``infrastructure.parquet``;
- cross-border sorties fly between towns on either side of a real shared
  border taken from ``borders.parquet``; areas of responsibility are buffers
  around the base clipped to the host country's real border polygon.

Usage::

    from ingest.demo_scenario import generate
    files = generate(pathlib.Path("var/demo"), datetime.now(timezone.utc))

or ``python -m ingest.demo_scenario OUTDIR [--now 2026-11-21T10:30:00Z] [--seed N]``.
`describe` lists which real towns, borders and infrastructure the scenario uses.

``generate(outdir, now, seed=..., reference_dir=...)`` writes the files below
and returns ``{layer: [paths]}`` with the layer names of `ingest.schema`
(``deployments``, ``track_points``, ``incidents``, ``imagery``). Every time is
relative to ``now`` (the 24 h before it; a few deployment reports and
imagery up to 48 h before), so the demo looks live. The same ``(now, seed)``
and reference data give byte-identical files. All randomness comes from
``numpy.random.default_rng(seed)`` (child generators per layer).

Files, each in the real format its feed uses:

``deployments.geojson``
    RFC 7946 FeatureCollection, one Point Feature per unit. Properties: id,
    nation (ISO alpha-3), unit_name, unit_type, echelon (`schema.ECHELONS`),
    strength, symbol_code, reported_at, marking, base (town name) and ``area``:
    the area of responsibility as a nested GeoJSON Polygon.

    ``symbol_code`` is a 20-digit APP-6D / MIL-STD-2525D SIDC composed as::

        10 | 0 | 3 | 10 | 0 | H | EE | EEEEEE | 00 | 00
        |    |   |   |    |   |   |    |        |    +- sector 2 modifier: none
        |    |   |   |    |   |   |    |        +------ sector 1 modifier: none
        |    |   |   |    |   |   |    +--------------- entity (main icon), _SIDC_ENTITY
        |    |   |   |    |   |   +-------------------- echelon amplifier, _SIDC_ECHELON
        |    |   |   |    |   +------------------------ HQ/TF/dummy: 2 = HQ, else 0
        |    |   |   |    +---------------------------- status: 0 = present
        |    |   |   +--------------------------------- symbol set: 10 = land unit
        |    |   +------------------------------------- standard identity: 3 = friend
        |    +----------------------------------------- context: 0 = reality
        +---------------------------------------------- version: 10 = 2525D / APP-6D

``tracks_cot.xml``
    Cursor-on-Target: root ``<events>``, one ``<event version="2.0">`` per fix
    (chronological), type ``a-f-A-M-F-Q`` (friendly military fixed-wing UAV) or
    ``a-f-A-M-H-Q`` (rotary-wing UAV, the quadcopters), how ``m-g``;
    ``time``/``start`` = fix time, ``stale`` = time + 60 s; ``<point>`` with
    hae (m), ce/le (m); ``<detail>`` with ``<contact callsign>``, ``<track
    course speed>`` (degrees true, m/s), ``<remarks>`` and -- a watchfloor
    convention, CoT has no standard element for it -- the releasability marking
    as ``<marking>UNCLASSIFIED//REL TO ...</marking>``.
``tracks.gpx``
    GPX 1.1, one ``<trk>`` per drone, ``<name>`` = track id, ``<desc>`` =
    callsign and mission, one ``<trkseg>`` of ``<trkpt lat lon><ele><time>``.
    GPX has no place for a marking: the source default applies at ingest.
``tracks.csv``
    track_id,time,lat,lon,alt_m,speed_mps,heading_deg,callsign,marking.
``incidents.csv``
    ACLED-like: event_id,event_date,event_type,sub_event_type,actor1,actor2,
    location,latitude,longitude,fatalities,source,notes,severity,status,marking
    with event_date a full ISO 8601 datetime in UTC (``...Z``). Some notes hold
    text that must be escaped in HTML (``<script>``, quotes, ``&``) and
    Cyrillic: they are valid records.
``incidents_relief.geojson``
    A relief agency's reports: FeatureCollection of Points with id,
    occurred_at, category, subcategory, severity, status, title, description,
    location_name, fatalities, marking.
``imagery_stac.json``
    STAC 1.0.0 ItemCollection: Sentinel-2 L2A MGRS tiles (109.8 km, clipped to
    the pass's 290 km swath), Sentinel-1 IW GRD slices (~250 x 170 km, along
    the orbit track) and a fictional high-resolution commercial constellation
    ("Kestrel-HR", ~15 x 15 km scenes, tasked over incident hot spots). Each
    Item has eo:cloud_cover (0 for SAR, which sees through cloud), gsd, a
    thumbnail asset (relative href) and the marking in the ``watchfloor:marking``
    property. Optical commercial scenes are acquired in daylight only (08:00-13:30
    UTC); Sentinel-2 passes at ~09:35 UTC, Sentinel-1 at ~04:50 and ~16:40 UTC.
    Catalogue latency is modelled (nothing acquired in the last 90 minutes is
    listed, Sentinel in the last 2.5 h), so the newest incidents have no
    post-event imagery while commercial scenes tasked after serious incidents
    cover older ones.

Times are ISO 8601 UTC with ``Z`` (track fixes with milliseconds). Markings
are one of `MARKINGS`, all well-formed, so the demo loads with nothing
quarantined.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import pathlib
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod, Transformer
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon, box
from shapely.geometry.polygon import orient

from ingest.errors import ConfigError, UnreadableInputError
from ingest.schema import ECHELONS, INCIDENT_STATUSES, SEVERITIES

DEFAULT_REFERENCE_DIR = pathlib.Path(__file__).resolve().parents[1] / "data" / "reference"
DEFAULT_SEED = 20261121

OPERATION = "Operation SILVER RIVER"
TASK_FORCE = "MJTF-WB"

# Host countries, with the names used in actor strings when borders.parquet
# has none.
HOSTS: tuple[str, ...] = ("SRB", "XKX", "MKD", "ALB", "MNE", "BIH")
_HOST_NAMES = {
    "SRB": "Serbia",
    "XKX": "Kosovo",
    "MKD": "North Macedonia",
    "ALB": "Albania",
    "MNE": "Montenegro",
    "BIH": "Bosnia and Herzegovina",
}
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

# ---------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------
# Scenario tables (names only: positions come from the reference data)

# fmt: off
# key, nation, unit name, unit type, echelon, strength, host country, base town
# preferences, marking, reported up to two days ago
_UNITS: tuple[tuple[str, str, str, str, str, int, str, tuple[str, ...], str, bool], ...] = (
    ("ita-hq", "ITA", "MJTF-WB Headquarters", "headquarters", "brigade", 380, "MKD",
     ("Skopje",), M_COALITION, False),
    ("usa-inf", "USA", "Task Force Eagle Infantry Battalion", "infantry", "battalion", 610, "XKX",
     ("Ferizaj", "Urosevac"), M_COALITION, False),
    ("usa-avn", "USA", "Eagle Aviation Company", "aviation", "company", 150, "XKX",
     ("Lipjan", "Lipljan", "Obiliq", "Obilic", "Fushe Kosove"), M_NATO, False),
    ("usa-uas", "USA", "Eagle UAS Platoon", "unmanned aircraft systems", "platoon", 36, "XKX",
     ("Gjilan", "Gnjilane"), M_USA_GBR, False),
    ("usa-log", "USA", "Eagle Logistics Detachment", "logistics", "platoon", 60, "ALB",
     ("Durres", "Durresi"), M_COALITION, False),
    ("gbr-recce", "GBR", "Kestrel Reconnaissance Squadron", "reconnaissance", "company", 120, "BIH",
     ("Doboj",), M_GBR_FRA, False),
    ("gbr-eng", "GBR", "Sava Field Engineer Squadron", "engineer", "company", 165, "BIH",
     ("Bijeljina",), M_COALITION, False),
    ("gbr-mp", "GBR", "Kestrel Military Police Section", "military police", "section", 22, "ALB",
     ("Tirana", "Tirane"), M_USA_GBR, False),
    ("fra-inf", "FRA", "Compagnie Lynx", "infantry", "company", 160, "XKX",
     ("Mitrovice", "Mitrovica", "Kosovska Mitrovica"), M_COALITION, False),
    ("fra-eng", "FRA", "Detachement genie Morava", "engineer", "platoon", 48, "SRB",
     ("Kraljevo",), M_COALITION, False),
    ("fra-med", "FRA", "Role 2 Bojana", "medical", "company", 85, "ALB",
     ("Shkoder", "Shkodra"), M_NATO, False),
    ("deu-med", "DEU", "Sanitaetskompanie Rhein", "medical", "company", 110, "SRB",
     ("Sabac",), M_COALITION, False),
    ("deu-log", "DEU", "Logistikzug Donau", "logistics", "platoon", 70, "SRB",
     ("Obrenovac",), M_NATO, False),
    ("deu-eod", "DEU", "EOD-Trupp Bosna", "explosive ordnance disposal", "team", 8, "BIH",
     ("Maglaj", "Zavidovici"), M_COALITION, False),
    ("ita-mp", "ITA", "Carabinieri MSU Regiment", "military police", "regiment", 290, "XKX",
     ("Pristina", "Prishtine", "Prishtina"), M_COALITION, False),
    ("ita-eng", "ITA", "Compagnia genio Tevere", "engineer", "company", 140, "MNE",
     ("Podgorica",), M_NATO, False),
    ("tur-inf", "TUR", "Anadolu Infantry Battalion", "infantry", "battalion", 450, "XKX",
     ("Prizren",), M_NATO, False),
    ("tur-med", "TUR", "Anadolu Medical Platoon", "medical", "platoon", 38, "MKD",
     ("Tetovo",), M_COALITION, False),
    ("pol-inf", "POL", "Kompania Wisla", "infantry", "company", 170, "SRB",
     ("Loznica",), M_COALITION, False),
    ("pol-eng", "POL", "Pluton saperow Drina", "engineer", "platoon", 46, "BIH",
     ("Zvornik",), M_NATO, False),
    ("pol-wat", "POL", "Sekcja uzdatniania wody Lim", "water purification", "section", 18, "MNE",
     ("Bijelo Polje",), M_COALITION, False),
    ("mkd-lno", "MKD", "North Macedonia Liaison Team", "liaison", "team", 6, "MKD",
     ("Kumanovo",), M_ALL, False),
    ("alb-lno", "ALB", "Albanian Armed Forces Liaison Team", "liaison", "team", 6, "ALB",
     ("Lezhe", "Lezha"), M_ALL, True),
    ("mne-lno", "MNE", "Montenegro Liaison Team", "liaison", "team", 5, "MNE",
     ("Niksic",), M_ALL, True),
    ("bih-lno", "BIH", "Bosnia and Herzegovina Liaison Team", "liaison", "team", 7, "BIH",
     ("Tuzla",), M_ALL, False),
    ("srb-lno", "SRB", "Serbian Civil Protection Liaison Team", "liaison", "team", 6, "SRB",
     ("Cacak",), M_ALL, True),
)
# fmt: on

# fmt: off
_AOR_RADIUS_KM = {
    "team": 8, "squad": 8, "section": 10, "platoon": 12, "company": 18,
    "battalion": 26, "regiment": 30, "brigade": 40, "division": 60, "corps": 80, "army": 100,
    "": 15,
}
# fmt: on

# Towns along the flooded rivers (Bosna, Drina, Sava, West Morava, Ibar, Lim,
# Vardar, Drin/Bojana): where most incidents happen.
# fmt: off
_HOTSPOTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "BIH": (("Doboj",), ("Maglaj",), ("Bijeljina",), ("Zvornik",), ("Modrica",), ("Zavidovici",),
            ("Brcko",)),
    "SRB": (("Obrenovac",), ("Sabac",), ("Loznica",), ("Kraljevo",), ("Cacak",), ("Krusevac",),
            ("Paracin",)),
    "ALB": (("Shkoder", "Shkodra"), ("Lezhe", "Lezha"), ("Fier",), ("Berat",)),
    "MNE": (("Podgorica",), ("Bijelo Polje",), ("Berane",)),
    "MKD": (("Tetovo",), ("Skopje",), ("Gostivar",)),
    "XKX": (("Mitrovice", "Mitrovica", "Kosovska Mitrovica"), ("Peje", "Peja", "Pec"),
            ("Vushtrri", "Vucitrn")),
}
# fmt: on

# fmt: off
_NATION_CALLSIGN = {
    "USA": "RAVEN", "GBR": "KESTREL", "FRA": "MILAN", "DEU": "FALKE",
    "ITA": "GHEPPIO", "TUR": "SAHIN", "POL": "SOKOL",
}
# fmt: on
_NATION_MARKINGS = {
    "USA": (M_USA_GBR, M_COALITION),
    "GBR": (M_GBR_FRA, M_COALITION),
    "FRA": (M_COALITION, M_GBR_FRA),
    "DEU": (M_NATO, M_COALITION),
    "ITA": (M_COALITION, M_NATO),
    "TUR": (M_NATO, M_COALITION),
    "POL": (M_COALITION, M_NATO),
}

# track id, nation, format, (country, launch town prefs), (country, target town prefs)
_CROSSINGS = (
    ("USA-FW-01", "USA", "cot", ("XKX", ("Ferizaj", "Urosevac")), ("MKD", ("Skopje",))),
    ("GBR-FW-02", "GBR", "cot", ("BIH", ("Bijeljina",)), ("SRB", ("Sabac",))),
    ("POL-FW-03", "POL", "csv", ("SRB", ("Loznica",)), ("BIH", ("Zvornik",))),
    ("TUR-FW-04", "TUR", "csv", ("XKX", ("Prizren",)), ("ALB", ("Kukes", "Kukesi"))),
    ("ITA-FW-05", "ITA", "gpx", ("MNE", ("Podgorica",)), ("ALB", ("Shkoder", "Shkodra"))),
    ("FRA-FW-06", "FRA", "gpx", ("MKD", ("Ohrid", "Struga")), ("ALB", ("Pogradec",))),
)
# track id, nation, airframe, format, infrastructure kind, preferences (codes or names)
_LOITERS = (
    ("USA-FW-07", "USA", "fw", "cot", "airport", ("BKPR", "LYPR", "PRN")),
    (
        "DEU-FW-08",
        "DEU",
        "fw",
        "cot",
        "power_plant",
        ("TENT A", "TENT B", "Nikola Tesla", "Obrenovac"),
    ),
    (
        "TUR-FW-09",
        "TUR",
        "fw",
        "gpx",
        "power_plant",
        ("Kosovo B", "Kosova B", "Kosovo A", "Kosova", "Kosovo", "Obiliq", "Obilic"),
    ),
    ("GBR-QC-10", "GBR", "qc", "csv", "power_plant", ("Ugljevik", "Tuzla", "Kakanj")),
    ("ITA-FW-11", "ITA", "fw", "gpx", "airport", ("LWSK", "SKP")),
    ("FRA-FW-12", "FRA", "fw", "csv", "airport", ("LATI", "TIA")),
    ("POL-QC-13", "POL", "qc", "cot", "power_plant", ("Bitola", "Pljevlja", "Kakanj", "Gacko")),
    ("DEU-FW-14", "DEU", "fw", "csv", "airport", ("LQTZ", "TZL", "LYNI", "INI")),
)
# track id, nation, format, (country, town prefs)
_SURVEYS = (
    ("GBR-QC-15", "GBR", "cot", ("BIH", ("Doboj",))),
    ("DEU-QC-16", "DEU", "gpx", ("BIH", ("Maglaj",))),
    ("FRA-QC-17", "FRA", "csv", ("ALB", ("Shkoder", "Shkodra"))),
    ("FRA-QC-18", "FRA", "cot", ("SRB", ("Kraljevo",))),
    ("TUR-QC-19", "TUR", "gpx", ("MKD", ("Tetovo",))),
    ("POL-QC-20", "POL", "csv", ("MNE", ("Bijelo Polje",))),
)
# track id, nation, format, launch unit, waypoint town prefs, still airborne at `now`
_ROUTES = (
    (
        "USA-FW-21",
        "USA",
        "cot",
        "usa-uas",
        (
            ("Pristina", "Prishtine", "Prishtina"),
            ("Mitrovice", "Mitrovica"),
            ("Vushtrri", "Vucitrn"),
        ),
        True,
    ),
    ("GBR-FW-22", "GBR", "gpx", "gbr-recce", (("Maglaj",), ("Zavidovici",), ("Tuzla",)), False),
    (
        "TUR-FW-23",
        "TUR",
        "csv",
        "tur-inf",
        (("Gjakove", "Gjakova", "Dakovica"), ("Peje", "Peja", "Pec")),
        False,
    ),
    ("FRA-FW-24", "FRA", "cot", "fra-eng", (("Cacak",), ("Krusevac",)), True),
    ("POL-FW-25", "POL", "gpx", "pol-inf", (("Valjevo",), ("Sabac",)), False),
    ("ITA-FW-26", "ITA", "csv", "ita-eng", (("Niksic",), ("Bijelo Polje",), ("Berane",)), True),
)

# ---------------------------------------------------------------------------
# Small helpers


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


# ---------------------------------------------------------------------------
# Reference data


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
        names[cc] = nm or _HOST_NAMES[cc]
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


# ---------------------------------------------------------------------------
# Deployments


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
    for key, nation, name, utype, echelon, strength, host, prefs, marking, old in _UNITS:
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
        radius = _AOR_RADIUS_KM[echelon] * 1000 * rng.uniform(0.85, 1.15)
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


# ---------------------------------------------------------------------------
# Drone kinematics


@dataclass(frozen=True)
class _Airframe:
    kind: str  # 'fw' fixed wing, 'qc' quadcopter
    vmin: float
    vmax: float
    max_turn: float  # rad/s
    max_turn_acc: float  # rad/s^2 (roll-in: keeps turns smooth)
    k_turn: float  # 1/s, heading error to turn rate
    accel: float  # m/s^2
    climb: float  # m/s
    sink: float  # m/s
    capture: float  # m: waypoint reached
    gust: float  # m/s, standard deviation of the along-track wind gusts


_FW = _Airframe("fw", 15.5, 39.5, 0.22, 0.06, 0.5, 0.8, 4.0, 5.0, 260.0, 0.7)
_QC = _Airframe("qc", 5.0, 15.0, 0.9, 0.5, 1.2, 1.5, 3.0, 2.5, 25.0, 0.3)
_FRAMES = {"fw": _FW, "qc": _QC}


@dataclass
class _Leg:
    kind: str  # 'goto' | 'orbit'
    x: float
    y: float
    alt: float
    speed: float
    phase: str
    radius: float = 0.0
    duration: int = 0  # s, orbit only
    direction: int = 1  # +1 clockwise seen from above


@dataclass
class _Flight:
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    v: np.ndarray
    hdg: np.ndarray  # degrees true
    phase: list[str]


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def _fly(
    frame: _Airframe,
    start: tuple[float, float],
    ground: float,
    legs: list[_Leg],
    rng: np.random.Generator,
) -> _Flight:
    """Integrate a simple point-mass drone at 1 Hz along `legs`.

    Bounded turn rate and turn acceleration (smooth turns), bounded
    acceleration, climb and sink rates; along-track gusts as an AR(1) process.
    """
    x, y = start
    z = ground + 20.0
    first = legs[0]
    hdg = math.atan2(first.x - x, first.y - y)
    vctl = frame.vmin + 1.0
    rate = 0.0
    noise = rng.normal(0.0, 1.0, 30_000)
    gust = 0.0
    xs: list[float] = []
    ys: list[float] = []
    zs: list[float] = []
    vs: list[float] = []
    hs: list[float] = []
    ph: list[str] = []
    step = 0
    for leg in legs:
        n = 0
        budget = leg.duration if leg.kind == "orbit" else 4 * 3600
        while n < budget:
            if leg.kind == "goto":
                dx, dy = leg.x - x, leg.y - y
                d = math.hypot(dx, dy)
                if d < frame.capture:
                    break
                desired = math.atan2(dx, dy)
                ff = 0.0
                vt = leg.speed
                if frame.kind == "qc":
                    vt = min(vt, max(frame.vmin, 0.35 * d))
            else:
                dx, dy = x - leg.x, y - leg.y
                d = math.hypot(dx, dy)
                theta = math.atan2(dx, dy)
                desired = theta + leg.direction * (
                    math.pi / 2 + math.atan((d - leg.radius) / (0.35 * leg.radius))
                )
                ff = leg.direction * vctl / leg.radius if d < 3 * leg.radius else 0.0
                vt = leg.speed
            err = _wrap(desired - hdg)
            if frame.kind == "qc" and abs(err) > 1.0:
                vt = frame.vmin
            want = max(-frame.max_turn, min(frame.max_turn, ff + frame.k_turn * err))
            rate += max(-frame.max_turn_acc, min(frame.max_turn_acc, want - rate))
            hdg = _wrap(hdg + rate)
            vctl += max(-frame.accel, min(frame.accel, vt - vctl))
            gust = 0.97 * gust + 0.243 * frame.gust * noise[step % len(noise)]
            v = max(frame.vmin, min(frame.vmax, vctl + gust))
            z += max(-frame.sink, min(frame.climb, leg.alt - z))
            x += v * math.sin(hdg)
            y += v * math.cos(hdg)
            xs.append(x)
            ys.append(y)
            zs.append(z)
            vs.append(v)
            hs.append(math.degrees(hdg) % 360.0)
            ph.append(leg.phase)
            n += 1
            step += 1
    return _Flight(np.array(xs), np.array(ys), np.array(zs), np.array(vs), np.array(hs), ph)


@dataclass
class _Track:
    track_id: str
    nation: str
    frame: str
    fmt: str
    callsign: str
    marking: str
    mission: str
    kind: str  # crossing | loiter | survey | route
    detail: str
    times_ms: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lon: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lat: np.ndarray = field(default_factory=lambda: np.zeros(0))
    alt: np.ndarray = field(default_factory=lambda: np.zeros(0))
    speed: np.ndarray = field(default_factory=lambda: np.zeros(0))
    heading: np.ndarray = field(default_factory=lambda: np.zeros(0))
    phase: list[str] = field(default_factory=list)
    ce: float = 5.0
    le: float = 9.0

    @property
    def cot_type(self) -> str:
        return "a-f-A-M-F-Q" if self.frame == "fw" else "a-f-A-M-H-Q"


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
        return f"{_NATION_CALLSIGN[nation]} {10 * numbers[nation] + 1 + int(rng.integers(0, 8))}"

    def marking(nation: str) -> str:
        options = _NATION_MARKINGS[nation]
        return options[int(rng.integers(0, len(options)))]

    def fw_alt(ground: float) -> float:
        return ground + float(rng.uniform(900, 1500))

    def qc_alt(ground: float) -> float:
        return ground + float(rng.uniform(80, 120))

    def ground() -> float:
        return float(np.round(rng.uniform(80, 650), 1))

    # Cross-border sorties.
    for tid, nation, fmt, (ca, pa), (cb, pb) in _CROSSINGS:
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
    for tid, nation, fr, fmt, kind, prefs in _LOITERS:
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
    for tid, nation, fmt, (cc, prefs) in _SURVEYS:
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
    for tid, nation, fmt, unit_key, stops, live in _ROUTES:
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


# ---------------------------------------------------------------------------
# Incidents


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


# fmt: off
# event type, weight, where ('flood': mostly the flooded river towns, 'any', 'BIH'), fatality
# probabilities (1, 2, 3), and per sub-event type: weight, actor1, actor2, severity weights
# (low, medium, high, critical), notes.
_SubEvent = tuple[str, float, str, str, tuple[float, ...], tuple[str, ...]]
_ACLED_TYPES: tuple[tuple[str, float, str, tuple[float, float, float], tuple[_SubEvent, ...]], ...] = (
    ("Flood", 0.25, "flood", (0.05, 0.015, 0.005), (
        ("Riverine flood", 2, "", "", (0.2, 0.4, 0.3, 0.1), (
            "Water level rising in {town}; {n} households evacuated by civil protection.",
            "River gauge near {town} above the emergency threshold, still rising.")),
        ("Flash flood", 1, "", "", (0.15, 0.35, 0.35, 0.15), (
            "Flash flood swept through the lower part of {town}; {n} cars carried away.",
            "Torrent from the hills flooded the centre of {town} within an hour.")),
        ("Urban flooding", 1, "", "", (0.35, 0.45, 0.15, 0.05), (
            "Several streets in {town} under up to {d} m of water; access only by boat.",
            "Sewers overflowing in {town}; {n} basements flooded.")),
        ("Embankment breach", 0.5, "", "", (0.0, 0.2, 0.5, 0.3), (
            "Embankment breached near {town}; farmland and {n} houses flooded.",)),
    )),
    ("Landslide", 0.09, "flood", (0.04, 0.01, 0.0), (
        ("Landslide", 2, "", "", (0.3, 0.4, 0.25, 0.05), (
            "Landslide blocked the regional road near {town}; detour in place.",
            "Landslide threatens {n} houses on the slope above {town}; residents evacuated.")),
        ("Mudflow", 1, "", "", (0.25, 0.45, 0.25, 0.05), (
            "Mudflow damaged {n} houses on the outskirts of {town}.",)),
        ("Rockfall", 0.5, "", "", (0.4, 0.4, 0.2, 0.0), (
            "Rockfall closed the mountain road above {town}; {n} vehicles stranded.",)),
    )),
    ("Infrastructure damage", 0.18, "flood", (0.0, 0.0, 0.0), (
        ("Bridge damaged", 1, "", "", (0.1, 0.4, 0.4, 0.1), (
            "Bridge near {town} closed after scour of a pier.",
            "Debris jammed against the road bridge in {town}; bridge closed to traffic.")),
        ("Road blocked", 1, "", "", (0.35, 0.45, 0.2, 0.0), (
            "Main road into {town} washed out; heavy vehicles only.",)),
        ("Power outage", 1, "", "", (0.2, 0.45, 0.3, 0.05), (
            "Power cut affecting about {n}00 households in {town}.",
            "Substation near {town} flooded; the grid operator cut supply to {n} villages.")),
        ("Water supply", 1, "", "", (0.2, 0.4, 0.3, 0.1), (
            "Water supply in {town} suspended; boil-water notice issued.",)),
    )),
    ("Protests", 0.14, "any", (0.0, 0.0, 0.0), (
        ("Peaceful protest", 3, "Protesters ({country})", "", (0.7, 0.25, 0.05, 0.0), (
            "Residents gathered at the municipal building in {town} demanding faster relief.",
            "Farmers blocked the road into {town} over flood compensation.",
            "About {n}0 people protested in {town} against the pace of pumping operations.")),
        ("Protest with intervention", 1, "Protesters ({country})", "Police Forces ({country})",
         (0.3, 0.5, 0.2, 0.0), (
            "Police removed protesters blocking the bridge in {town}.",)),
    )),
    ("Riots", 0.05, "any", (0.0, 0.0, 0.0), (
        ("Violent demonstration", 1, "Rioters ({country})", "Police Forces ({country})",
         (0.1, 0.5, 0.35, 0.05), (
            "Crowd threw stones at a municipal office in {town} after water rations ran out.",)),
        ("Mob violence", 1, "Rioters ({country})", "Civilians ({country})", (0.1, 0.4, 0.4, 0.1), (
            "Scuffles broke out at an aid distribution point in {town}; {n} people injured.",)),
    )),
    ("Strategic developments", 0.2, "flood", (0.0, 0.0, 0.0), (
        ("Looting/property destruction", 1, "Unidentified Group ({country})",
         "Civilians ({country})", (0.4, 0.45, 0.15, 0.0), (
            "Looting reported in evacuated houses in {town}.",)),
        ("Arrests", 1, "Police Forces ({country})", "Civilians ({country})",
         (0.6, 0.35, 0.05, 0.0), (
            "Police arrested {n} people for looting in {town}.",)),
        ("Disrupted weapons use", 0.5, "Police Forces ({country})", "", (0.1, 0.4, 0.4, 0.1), (
            "Unexploded ordnance found on a riverbank near {town} after the water receded.",)),
        ("Other", 1.5, "MJTF-WB", "", (0.9, 0.1, 0.0, 0.0), (
            "MJTF-WB engineers opened a temporary bridge near {town}.",
            "Relief convoy of {n} trucks reached {town}.")),
    )),
    ("Violence against civilians", 0.03, "any", (0.15, 0.0, 0.0), (
        ("Attack", 1, "Unidentified Armed Group ({country})", "Civilians ({country})",
         (0.0, 0.3, 0.5, 0.2), (
            "Aid worker assaulted near {town}; vehicle damaged.",
            "Unidentified men threatened relief volunteers in {town}.")),
    )),
    ("Explosions/Remote violence", 0.03, "BIH", (0.3, 0.05, 0.0), (
        ("Remote explosive/landmine/IED", 1, "Unidentified Armed Group ({country})",
         "Civilians ({country})", (0.0, 0.2, 0.5, 0.3), (
            "Landmine displaced by floodwater detonated near {town}; area cordoned off.",
            "Legacy mine exploded under a tractor clearing flood debris near {town}.")),
    )),
)
# fmt: on
_ACLED_SOURCES = (
    "Local media",
    "Municipal civil protection",
    "MJTF-WB patrol report",
    "Regional broadcaster",
    "Social media",
    "Liaison team report",
    "Local media; Social media",
)
_SOURCE_MARKINGS = {
    "MJTF-WB patrol report": (M_COALITION, M_NATO, M_USA_GBR),
    "Liaison team report": (M_COALITION, M_NATO, M_GBR_FRA),
}

# Records whose free text needs escaping when shown as HTML: valid, must load.
_HOSTILE_NOTES = (
    ("Protests", 'Crowd chanted "<stop>" & left'),
    ("Strategic developments", "<script>alert(1)</script>"),
    ("Flood", "Water > 2 m at the bridge & rising; residents told to 'stay <upstairs>'"),
    ("Riots", "Banner read „Хитна помоћ“ & „Stop looting“; crowd dispersed"),
    (
        "Protests",
        'Organisers said: "We need pumps, not promises" (est. 200 people, incl. <children>)',
    ),
)

_RELIEF_TYPES = (
    (
        "Flood",
        0.32,
        ("Riverine flood", "Flash flood", "Urban flooding"),
        (
            "{sub} in {town}",
            "Flood waters reached {n}00 homes in {town}; {n}0 people in collective centres.",
        ),
    ),
    (
        "Landslide",
        0.1,
        ("Landslide", "Mudflow"),
        ("{sub} near {town}", "{sub} cut off {n} hamlets near {town}; access on foot only."),
    ),
    (
        "Infrastructure damage",
        0.2,
        ("Bridge damaged", "Power outage", "Water supply"),
        (
            "{sub} in {town}",
            "{sub} reported by the municipality of {town}; repair crews requested.",
        ),
    ),
    (
        "Displacement",
        0.22,
        ("Evacuation", "Collective centre opened"),
        (
            "{sub} in {town}",
            "{n}0 people registered at the collective centre in {town}; needs: bedding, food.",
        ),
    ),
    (
        "Health",
        0.16,
        ("Waterborne disease risk", "Medical evacuation"),
        (
            "{sub} in {town}",
            (
                "Mobile clinic in {town} reports {n} suspected cases; "
                "chlorination tablets distributed."
            ),
        ),
    ),
)
_HOSTILE_RELIEF = (
    ('Shelter needs: blankets & "hygiene kits"', "<img src=x onerror=alert(1)>"),
    ("Road <closed> near the clinic", 'Driver said the bridge is "gone" & trucks must wait > 6 h'),
)


def _weighted(rng: np.random.Generator, weights: Sequence[float]) -> int:
    w = np.asarray(weights, dtype=float)
    return int(rng.choice(len(w), p=w / w.sum()))


def _hotspot_towns(ref: _Reference) -> list[_Town]:
    out: list[_Town] = []
    for cc in HOSTS:
        for prefs in _HOTSPOTS[cc]:
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
    etype, _w, where, pfat, subs = _ACLED_TYPES[_weighted(rng, [t[1] for t in _ACLED_TYPES])]
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
    source = _ACLED_SOURCES[int(rng.integers(0, len(_ACLED_SOURCES)))]
    opts = _SOURCE_MARKINGS.get(source)
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
    for etype, text in _HOSTILE_NOTES:
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
    cat, _w, subs, (title, desc) = _RELIEF_TYPES[_weighted(rng, [t[1] for t in _RELIEF_TYPES])]
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
    for (title, desc), r in zip(_HOSTILE_RELIEF, rows[5::20]):
        r.title, r.notes = title, desc
    for i, r in enumerate(rows, 1):
        r.event_id = f"BFRC-{_dt(now_ms).year}-{i:04d}"
    return rows


def _incidents_csv(rows: list[_Incident]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(
        [
            "event_id",
            "event_date",
            "event_type",
            "sub_event_type",
            "actor1",
            "actor2",
            "location",
            "latitude",
            "longitude",
            "fatalities",
            "source",
            "notes",
            "severity",
            "status",
            "marking",
        ]
    )
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


# ---------------------------------------------------------------------------
# Imagery

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


# ---------------------------------------------------------------------------
# Entry point


def generate(
    outdir: pathlib.Path,
    now: dt.datetime,
    *,
    seed: int = DEFAULT_SEED,
    reference_dir: pathlib.Path | None = None,
) -> dict[str, list[pathlib.Path]]:
    """Write the demo scenario into `outdir`; return {layer: [files written]}.

    `now` must be timezone-aware; every time in the files lies in the 48 h
    before it (CoT stale times aside, which are fix time + 60 s by definition).
    """
    now_ms = _now_ms(now)
    ref = _load_reference(pathlib.Path(reference_dir) if reference_dir else DEFAULT_REFERENCE_DIR)
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    r_dep, r_trk, r_inc, r_rel, r_img = np.random.default_rng(seed).spawn(5)

    hotspots = _hotspot_towns(ref)
    units = _deployments(ref, r_dep, now_ms)
    tracks = _tracks(ref, units, r_trk, now_ms, hotspots)
    acled = _acled(ref, r_inc, now_ms, hotspots)
    relief = _relief(ref, r_rel, now_ms, hotspots)
    items = _imagery(ref, r_img, now_ms, acled + relief, hotspots)

    by_fmt = {f: [t for t in tracks if t.fmt == f] for f in ("cot", "gpx", "csv")}
    content: dict[str, str] = {
        "deployments.geojson": _deployments_geojson(units),
        "tracks_cot.xml": _cot_xml(by_fmt["cot"]),
        "tracks.gpx": _gpx(by_fmt["gpx"], now_ms),
        "tracks.csv": _tracks_csv(by_fmt["csv"]),
        "incidents.csv": _incidents_csv(acled),
        "incidents_relief.geojson": _relief_geojson(relief),
        "imagery_stac.json": _stac_json(items),
    }
    written: dict[str, list[pathlib.Path]] = {}
    for layer, names in FILES.items():
        written[layer] = []
        for name in names:
            path = outdir / name
            _write_text(path, content[name])
            written[layer].append(path)
    return written


def describe(
    now: dt.datetime, *, seed: int = DEFAULT_SEED, reference_dir: pathlib.Path | None = None
) -> dict[str, Any]:
    """What the scenario uses from the reference data (for documentation and demos)."""
    now_ms = _now_ms(now)
    ref = _load_reference(pathlib.Path(reference_dir) if reference_dir else DEFAULT_REFERENCE_DIR)
    r_dep, r_trk, *_ = np.random.default_rng(seed).spawn(5)
    hotspots = _hotspot_towns(ref)
    units = _deployments(ref, r_dep, now_ms)
    tracks = _tracks(ref, units, r_trk, now_ms, hotspots)
    return {
        "units": [(u.key, u.nation, u.base.name, u.host) for u in units],
        "tracks": [(t.track_id, t.fmt, t.kind, t.detail, len(t.times_ms)) for t in tracks],
        "hotspots": [(t.name, t.cc) for t in hotspots],
    }


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("outdir", type=pathlib.Path)
    p.add_argument("--now", help="ISO 8601 time with zone (default: now)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--reference-dir", type=pathlib.Path)
    a = p.parse_args(argv)
    now = dt.datetime.fromisoformat(a.now) if a.now else dt.datetime.now(dt.UTC)
    for layer, paths in generate(a.outdir, now, seed=a.seed, reference_dir=a.reference_dir).items():
        for path in paths:
            print(f"{layer:13s} {path} {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
