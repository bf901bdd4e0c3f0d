"""The rules engine: which analysis rules run, with which thresholds, over the picture.

Rules and thresholds live in a TOML file, not in code, because they are an
operational decision (how close to a power plant is too close here) that a
watch officer changes without a release: ``$WATCHFLOOR_HOME/alerts.toml``,
laid table by table over the bundled ``data/alerts.default.toml``.

The file is read loosely ("2 km", 2000, "10 min", 600, "High") and normalised
once into frozen dataclasses, so nothing downstream parses units again; a
setting that cannot be understood raises ConfigError naming the setting, what
was expected and what was found, rather than silently switching a rule off.

Evaluating the rules is `layers/alerts/evaluate.py`; keeping alerts and
acknowledgements is the store's job (Store.put_alerts / alerts / acknowledge).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import shapely

from ingest.config import DATA_DIR, home
from ingest.errors import ConfigError
from ingest.schema import INFRASTRUCTURE_KINDS, SEVERITIES
from layers.analysis.proximity import DEFAULT_KEY
from layers.triage import DEFAULT_SETTINGS as DEFAULT_TRIAGE
from layers.triage import GROUP_LAYERS, NEVER, NO_GROUP, RULE_GROUP, RuleTriage

DEFAULT_FILE = DATA_DIR / "alerts.default.toml"
FILE_NAME = "alerts.toml"
INHERIT = "inherit"
MAX_DISTANCE_M = 1_000_000.0  # beyond 1000 km "near" means nothing; and it is surely a typo


# -- the normalised configuration ------------------------------------------------------

@dataclass(frozen=True)
class ProximityRule:
    enabled: bool = True
    severity: str | None = None  # None: the incident's own severity
    distances_m: tuple[tuple[str, float], ...] = ()  # (kind, metres); kind "*" for the rest
    categories: tuple[str, ...] = ()  # incident categories the rule watches; () = all

    @property
    def distances(self) -> dict[str, float]:
        return dict(self.distances_m)


@dataclass(frozen=True)
class DeploymentProximityRule:
    enabled: bool = True
    severity: str | None = None
    distance_m: float = 5000.0
    categories: tuple[str, ...] = ()  # incident categories the rule watches; () = all


@dataclass(frozen=True)
class SimpleRule:
    enabled: bool = True
    severity: str = "medium"


@dataclass(frozen=True)
class Zone:
    """A restricted zone from the config or drawn by an analyst."""

    name: str
    wkt: str
    geometry: shapely.Geometry = field(compare=False, repr=False, hash=False, default=None)


@dataclass(frozen=True)
class RestrictedZoneRule:
    enabled: bool = True
    severity: str = "critical"
    include_infrastructure: bool = True
    # Drawings TAK users marked as geofences (overlays with geofence = true, an entry or both
    # trigger) count as zones too: a fence drawn on a tablet alerts the watch floor.
    include_tak_geofences: bool = True
    zones: tuple[Zone, ...] = ()


@dataclass(frozen=True)
class LoiteringRule:
    enabled: bool = True
    severity: str = "high"
    radius_m: float = 500.0
    min_dwell_s: float = 600.0
    max_gap_s: float | None = 120.0
    kinds: tuple[str, ...] = ()  # () = every kind


@dataclass(frozen=True)
class CoverageRule:
    enabled: bool = True
    severity: str | None = None
    max_cloud: float = 30.0
    min_severity: str = "high"


@dataclass(frozen=True)
class StaleRule:
    enabled: bool = True
    severity: str = "low"
    max_age_s: float = 300.0


@dataclass(frozen=True)
class HotspotRule:
    enabled: bool = True
    severity: str = "high"
    resolution: int = 6
    window_s: float = 86_400.0
    min_score: float = 20.0
    min_count: int = 3


@dataclass(frozen=True)
class Rules:
    """Every rule's settings. ``Rules()`` is a bare code default (no proximity distances);
    the operational defaults are data/alerts.default.toml, through `load_rules`."""

    incident_near_infrastructure: ProximityRule = ProximityRule()
    incident_near_deployment: DeploymentProximityRule = DeploymentProximityRule()
    border_crossing: SimpleRule = SimpleRule(severity="medium")
    disputed_area_entry: SimpleRule = SimpleRule(severity="high")
    restricted_zone_entry: RestrictedZoneRule = RestrictedZoneRule()
    loitering: LoiteringRule = LoiteringRule()
    coverage_gap: CoverageRule = CoverageRule()
    stale_track: StaleRule = StaleRule(severity="low", max_age_s=300.0)
    stale_deployment: StaleRule = StaleRule(severity="medium", max_age_s=48 * 3600.0)
    hotspot: HotspotRule = HotspotRule()
    # Per rule: which alerts need a person and how repeated findings are grouped (layers/triage.py).
    triage: tuple[tuple[str, RuleTriage], ...] = tuple(sorted(DEFAULT_TRIAGE.items()))
    # Resolved alerts are forgotten this long after they were last seen.
    retention_s: float = 7 * 86_400.0
    origin: str = field(default="defaults", compare=False)

    @property
    def enabled(self) -> list[str]:
        return [name for name in RULE_NAMES if getattr(self, name).enabled]

    @property
    def triage_settings(self) -> dict[str, RuleTriage]:
        return dict(self.triage)


# Rules whose findings depend on which records EXIST, not only on the records they name: a
# coverage gap is the absence of a clear scene, a hot spot is a count. Every other rule's finding
# is about exactly its subjects, so showing it only to viewers who may see all of them is enough;
# these are evaluated again over what a viewer may see (layers.picture.as_seen_by), so no answer
# changes with a record the viewer cannot see.
AGGREGATE_RULES: tuple[str, ...] = ("coverage_gap", "hotspot")

RULE_NAMES: tuple[str, ...] = ("incident_near_infrastructure", "incident_near_deployment", "border_crossing",
                               "disputed_area_entry", "restricted_zone_entry", "loitering", "coverage_gap",
                               "stale_track", "stale_deployment", "hotspot")


# -- loading and parsing ---------------------------------------------------------------

def load_rules(path: Path | None = None) -> Rules:
    """The rules in force: ``path`` (or ``$WATCHFLOOR_HOME/alerts.toml`` if it exists) laid over
    the bundled defaults. A missing site file means the defaults; an unreadable one is an error,
    not the defaults (a typo must not silently disable alerting)."""
    base = _read_toml(DEFAULT_FILE)
    site = path if path is not None else home() / FILE_NAME
    if path is None and not site.exists():
        return parse_rules(base, origin=str(DEFAULT_FILE))
    return parse_rules(_merge(base, _read_toml(site)), origin=str(site))


def _read_toml(path: Path) -> dict:
    try:
        with Path(path).open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(str(path), "an alerts TOML file", "no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "valid TOML", str(exc)) from None


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict:
    """Tables merge key by key; anything else (numbers, lists of zones) is replaced."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def parse_rules(data: Mapping[str, Any], *, origin: str = "alerts.toml") -> Rules:
    """Normalise a loose mapping (as read from TOML) into `Rules`; raise ConfigError on anything unclear."""
    p = _Parser(origin)
    top = p.table(data, "", {"rules", "retention"})
    rules = p.table(top.get("rules", {}), "rules", set(RULE_NAMES))
    d = Rules()
    triage: dict[str, RuleTriage] = {}

    def section(name: str, keys: set[str]) -> dict:
        table = p.table(rules.get(name, {}), f"rules.{name}", keys | {"enabled", "severity", "attention", "group"})
        triage[name] = p.triage(table, f"rules.{name}", DEFAULT_TRIAGE.get(name, RuleTriage()))
        return table

    s = section("incident_near_infrastructure", {"distances", "categories"})
    dist = p.table(s.get("distances", {}), "rules.incident_near_infrastructure.distances",
                   set(INFRASTRUCTURE_KINDS) | {DEFAULT_KEY})
    near_infra = ProximityRule(
        enabled=p.boolean(s, "rules.incident_near_infrastructure", d.incident_near_infrastructure.enabled),
        severity=p.severity(s, "rules.incident_near_infrastructure", None, inherit=True),
        distances_m=tuple(sorted((k, p.distance(v, f"rules.incident_near_infrastructure.distances.{k}"))
                                 for k, v in dist.items())),
        categories=p.texts(s.get("categories", []), "rules.incident_near_infrastructure.categories"))
    s = section("incident_near_deployment", {"distance", "categories"})
    near_dep = DeploymentProximityRule(
        enabled=p.boolean(s, "rules.incident_near_deployment", True),
        severity=p.severity(s, "rules.incident_near_deployment", None, inherit=True),
        distance_m=p.distance(s.get("distance", d.incident_near_deployment.distance_m),
                              "rules.incident_near_deployment.distance"),
        categories=p.texts(s.get("categories", []), "rules.incident_near_deployment.categories"))
    simple = {}
    for name in ("border_crossing", "disputed_area_entry"):
        s = section(name, set())
        default = getattr(d, name)
        simple[name] = SimpleRule(enabled=p.boolean(s, f"rules.{name}", True),
                                  severity=p.severity(s, f"rules.{name}", default.severity))
    s = section("restricted_zone_entry", {"include_infrastructure", "include_tak_geofences", "zones"})
    zones_raw = s.get("zones", [])
    if not isinstance(zones_raw, list):
        raise ConfigError(f"{origin}: rules.restricted_zone_entry.zones", "a list of {name, wkt} tables", zones_raw)
    zones = tuple(p.zone(z, f"rules.restricted_zone_entry.zones[{i}]") for i, z in enumerate(zones_raw))
    names = [z.name for z in zones]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{origin}: rules.restricted_zone_entry.zones", "unique zone names", dup)
    restricted = RestrictedZoneRule(
        enabled=p.boolean(s, "rules.restricted_zone_entry", True),
        severity=p.severity(s, "rules.restricted_zone_entry", d.restricted_zone_entry.severity),
        include_infrastructure=p.boolean(s, "rules.restricted_zone_entry", True, key="include_infrastructure"),
        include_tak_geofences=p.boolean(s, "rules.restricted_zone_entry", True, key="include_tak_geofences"),
        zones=zones)
    s = section("loitering", {"radius", "min_dwell", "max_gap", "kinds"})
    max_gap = s.get("max_gap", d.loitering.max_gap_s)
    loiter = LoiteringRule(
        enabled=p.boolean(s, "rules.loitering", True),
        severity=p.severity(s, "rules.loitering", d.loitering.severity),
        radius_m=p.distance(s.get("radius", d.loitering.radius_m), "rules.loitering.radius"),
        min_dwell_s=p.duration(s.get("min_dwell", d.loitering.min_dwell_s), "rules.loitering.min_dwell"),
        max_gap_s=None if max_gap in (None, "", "none", 0) else p.duration(max_gap, "rules.loitering.max_gap"),
        kinds=p.kinds(s.get("kinds", []), "rules.loitering.kinds"))
    s = section("coverage_gap", {"max_cloud", "min_severity"})
    coverage = CoverageRule(
        enabled=p.boolean(s, "rules.coverage_gap", True),
        severity=p.severity(s, "rules.coverage_gap", None, inherit=True),
        max_cloud=p.number(s.get("max_cloud", d.coverage_gap.max_cloud), "rules.coverage_gap.max_cloud", 0, 100),
        min_severity=p.severity(s, "rules.coverage_gap", d.coverage_gap.min_severity, key="min_severity"))
    stale = {}
    for name in ("stale_track", "stale_deployment"):
        s = section(name, {"max_age"})
        default = getattr(d, name)
        stale[name] = StaleRule(enabled=p.boolean(s, f"rules.{name}", True),
                                severity=p.severity(s, f"rules.{name}", default.severity),
                                max_age_s=p.duration(s.get("max_age", default.max_age_s), f"rules.{name}.max_age"))
    s = section("hotspot", {"resolution", "window", "min_score", "min_count"})
    hot = HotspotRule(
        enabled=p.boolean(s, "rules.hotspot", True),
        severity=p.severity(s, "rules.hotspot", d.hotspot.severity),
        resolution=int(p.number(s.get("resolution", d.hotspot.resolution), "rules.hotspot.resolution", 0, 15,
                                integer=True)),
        window_s=p.duration(s.get("window", d.hotspot.window_s), "rules.hotspot.window"),
        min_score=p.number(s.get("min_score", d.hotspot.min_score), "rules.hotspot.min_score", 0, None),
        min_count=int(p.number(s.get("min_count", d.hotspot.min_count), "rules.hotspot.min_count", 1, None,
                               integer=True)))
    retention = p.table(top.get("retention", {}), "retention", {"resolved"})
    return Rules(incident_near_infrastructure=near_infra, incident_near_deployment=near_dep,
                 border_crossing=simple["border_crossing"], disputed_area_entry=simple["disputed_area_entry"],
                 restricted_zone_entry=restricted, loitering=loiter, coverage_gap=coverage,
                 stale_track=stale["stale_track"], stale_deployment=stale["stale_deployment"], hotspot=hot,
                 triage=tuple(sorted(triage.items())),
                 retention_s=p.duration(retention.get("resolved", d.retention_s), "retention.resolved"),
                 origin=origin)


def with_zone(rules: Rules, name: str, wkt: str) -> Rules:
    """The rules plus a restricted zone (an analyst drew it on the map); validated like the config's."""
    zone = _Parser("analyst zone").zone({"name": name, "wkt": wkt}, "zone")
    kept = tuple(z for z in rules.restricted_zone_entry.zones if z.name != zone.name)
    return replace(rules, restricted_zone_entry=replace(rules.restricted_zone_entry, zones=kept + (zone,)))


_DIST = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*(m|km|nm|mi|metres?|meters?)?\s*$", re.IGNORECASE)
_DIST_UNITS = {None: 1.0, "m": 1.0, "metre": 1.0, "metres": 1.0, "meter": 1.0, "meters": 1.0, "km": 1000.0,
               "nm": 1852.0, "mi": 1609.344}


class _Parser:
    """The loose-to-strict conversions, each naming the setting it failed on."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, setting: str, expected: str, found: object) -> ConfigError:
        return ConfigError(f"{self.origin}: {setting}" if setting else self.origin, expected, found)

    def table(self, value: object, where: str, allowed: set[str]) -> dict:
        if not isinstance(value, Mapping):
            raise self.fail(where, "a table", value)
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(f"{where}.{unknown[0]}" if where else unknown[0],
                            f"one of {', '.join(sorted(allowed))}", unknown[0])
        return dict(value)

    def boolean(self, table: Mapping, where: str, default: bool, key: str = "enabled") -> bool:
        v = table.get(key, default)
        if isinstance(v, bool):
            return v
        if isinstance(v, (int, float)) and v in (0, 1):
            return bool(v)
        if isinstance(v, str) and v.strip().lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return v.strip().lower() in ("true", "yes", "on", "1")
        raise self.fail(f"{where}.{key}", "true or false", v)

    def severity(self, table: Mapping, where: str, default: str | None, *, inherit: bool = False,
                 key: str = "severity") -> str | None:
        v = table.get(key, default if default is not None else (INHERIT if inherit else None))
        text = v.strip().lower() if isinstance(v, str) else v
        if text in SEVERITIES:
            return text
        if inherit and text == INHERIT:
            return None
        allowed = ", ".join(SEVERITIES + ((INHERIT,) if inherit else ()))
        raise self.fail(f"{where}.{key}", f"one of {allowed}", v)

    def number(self, v: object, where: str, lo: float | None, hi: float | None, *, integer: bool = False) -> float:
        if isinstance(v, bool):
            raise self.fail(where, "a number", v)
        try:
            x = float(v.strip()) if isinstance(v, str) else float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise self.fail(where, "a whole number" if integer else "a number", v) from None
        if math.isnan(x) or (integer and x != int(x)) or (lo is not None and x < lo) or (hi is not None and x > hi):
            rng = f"between {lo:g} and {hi:g}" if lo is not None and hi is not None else f">= {lo:g}"
            raise self.fail(where, f"{'a whole number' if integer else 'a number'} {rng}", v)
        return x

    def distance(self, v: object, where: str) -> float:
        expected = "a distance: metres as a number, or text such as '800 m' or '2 km' (at most 1000 km)"
        if isinstance(v, bool):
            raise self.fail(where, expected, v)
        if isinstance(v, (int, float)):
            metres = float(v)
        elif isinstance(v, str) and (m := _DIST.match(v)):
            metres = float(m.group(1)) * _DIST_UNITS[m.group(2).lower() if m.group(2) else None]
        else:
            raise self.fail(where, expected, v)
        if not (0 <= metres <= MAX_DISTANCE_M):
            raise self.fail(where, expected, v)
        return metres

    def duration(self, v: object, where: str) -> float:
        expected = "a duration: seconds as a number, or text such as '90 s', '10 min', '2 h', '3 d'"
        if isinstance(v, bool):
            raise self.fail(where, expected, v)
        if isinstance(v, (int, float)):
            seconds = float(v)
        elif isinstance(v, str):
            try:
                # pandas 3 deprecates "d" for days; people write "3 d"
                seconds = pd.Timedelta(re.sub(r"(?<=\d)d\b", "D", v.strip().replace(" ", ""))).total_seconds()
            except ValueError:
                raise self.fail(where, expected, v) from None
        elif isinstance(v, timedelta):
            seconds = v.total_seconds()
        else:
            raise self.fail(where, expected, v)
        if not (seconds > 0 and math.isfinite(seconds)):
            raise self.fail(where, expected + " (positive)", v)
        return seconds

    def texts(self, v: object, where: str) -> tuple[str, ...]:
        items = [v] if isinstance(v, str) else v
        if not isinstance(items, list) or not all(isinstance(t, str) and t.strip() for t in items):
            raise self.fail(where, "a list of names", v)
        return tuple(dict.fromkeys(t.strip() for t in items))

    def triage(self, table: Mapping, where: str, default: RuleTriage) -> RuleTriage:
        """`attention` (the least severity that needs a person, or "never") and `group` ("rule",
        "none", or a layer whose record the alerts share)."""
        raw = table.get("attention", default.attention if default.attention is not None else NEVER)
        text = raw.strip().lower() if isinstance(raw, str) else raw
        if text not in (*SEVERITIES, NEVER):
            raise self.fail(f"{where}.attention", f"one of {', '.join((*SEVERITIES, NEVER))}", raw)
        group = table.get("group", default.group)
        allowed = (RULE_GROUP, NO_GROUP, *GROUP_LAYERS)
        if group not in allowed:
            raise self.fail(f"{where}.group", f"one of {', '.join(allowed)}", group)
        return RuleTriage(None if text == NEVER else text, group)

    def kinds(self, v: object, where: str) -> tuple[str, ...]:
        items = [s.strip() for s in v.split(",") if s.strip()] if isinstance(v, str) else v
        if not isinstance(items, list) or not all(isinstance(k, str) for k in items):
            raise self.fail(where, "a list of infrastructure kinds", v)
        bad = [k for k in items if k not in INFRASTRUCTURE_KINDS]
        if bad:
            raise self.fail(where, f"kinds among {', '.join(INFRASTRUCTURE_KINDS)}", bad[0])
        return tuple(dict.fromkeys(items))

    def zone(self, v: object, where: str) -> Zone:
        t = self.table(v, where, {"name", "wkt"})
        name = t.get("name")
        if not isinstance(name, str) or not name.strip():
            raise self.fail(f"{where}.name", "a non-empty name", name)
        wkt = t.get("wkt")
        expected = "WKT of a valid Polygon or MultiPolygon in lon/lat"
        try:
            geom = shapely.from_wkt(wkt) if isinstance(wkt, str) else None
        except shapely.errors.GEOSException:
            geom = None
        if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon") or not geom.is_valid:
            raise self.fail(f"{where}.wkt", expected, wkt)
        minx, miny, maxx, maxy = geom.bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            raise self.fail(f"{where}.wkt", expected + " (longitude -180..180, latitude -90..90)", wkt)
        return Zone(name=name.strip(), wkt=geom.wkt, geometry=geom)
