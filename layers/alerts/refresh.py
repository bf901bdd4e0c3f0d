"""Evaluate the alert rules over the store and keep the results there.

Alerts are computed on the server, over every feed, and persisted in the store
(de-duplicated by each finding's stable key; acknowledgements kept apart), so
every dashboard process and every viewer sees the same alerts and the same
acknowledgements. `watchfloor alerts run` does this on an interval; the
dashboard also refreshes them when they are older than its refresh interval,
so a single laptop needs no second process.

Once, however many processes could: an `Evaluator` evaluates only while it holds
the store's "alerts" lease (ingest/store/locks.py). Every `watchfloor alerts run`
and every dashboard that evaluates in the background goes through one, so with
several of them on one store (machines kept for availability) one evaluates and
the others stand by, and one of them takes over when it dies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import shapely

from ingest.store import Store
from ingest.store.base import GeofenceQuery
from ingest.store.locks import ALERTS
from layers.alerts.evaluate import evaluate, tak_geofences
from layers.alerts.rules import Rules, load_rules
from layers.picture import Window, load_picture, operational_bounds, reference_boxes

# Track fixes older than this are not geofenced again on every evaluation.
GEOFENCE_WINDOW = timedelta(hours=24)
PICTURE_WINDOW = timedelta(days=7)
FIX_COLUMNS = ("track_id", "time", "callsign", "marking")
log = logging.getLogger("watchfloor.alerts")


@dataclass(frozen=True)
class AlertRun:
    findings: int
    new: int
    updated: int
    resolved: int
    at: datetime
    pruned: int = 0

    def line(self) -> str:
        return (f"{self.findings} findings: {self.new} new alerts, {self.updated} updated, "
                f"{self.resolved} resolved" + (f", {self.pruned} old resolved forgotten" if self.pruned else ""))


def geofence_query(rules: Rules, now: datetime, bounds: tuple | None,
                   overlays: gpd.GeoDataFrame | None = None) -> GeofenceQuery:
    """What the geofencing rules in force test the last GEOFENCE_WINDOW of fixes against, as the
    picture holds it (`layers.picture.reference_boxes`), for `Store.geofence_fixes`; the TAK
    geofences among `overlays` are zones too (when the rule includes them)."""
    boxes = reference_boxes(bounds)
    rz, lt = rules.restricted_zone_entry, rules.loitering
    return GeofenceQuery(
        start=now - GEOFENCE_WINDOW, end=now, columns=FIX_COLUMNS,
        borders=rules.border_crossing.enabled, borders_bbox=boxes["borders"],
        disputed_areas=rules.disputed_area_entry.enabled, restricted_zones=rz.enabled and rz.include_infrastructure,
        areas_bbox=boxes["infrastructure"],
        zones_wkb=(tuple(shapely.to_wkb(z.geometry) for z in rz.zones) + _fence_wkb(rz, overlays)) if rz.enabled else (),
        loiter_radius_m=lt.radius_m if lt.enabled else None, loiter_kinds=tuple(lt.kinds))


def _fence_wkb(rz, overlays: gpd.GeoDataFrame | None) -> tuple[bytes, ...]:
    fences = tak_geofences(overlays) if rz.include_tak_geofences else None
    return tuple(shapely.to_wkb(g) for g in fences.geometry.values) if fences is not None else ()


def evaluate_store(store: Store, now: datetime, rules: Rules, *, pushdown: bool = True) -> gpd.GeoDataFrame:
    """The rules over the store: the picture of the last PICTURE_WINDOW and the fixes of the last
    GEOFENCE_WINDOW. With `pushdown`, a store that can (PostGIS) pairs incidents with facilities
    and units and picks out the fixes the geofencing rules need itself, so this process never
    holds a day of fixes; the findings are the same (tests/layers/alerts/test_pushdown.py)."""
    bounds = operational_bounds(store)
    picture = load_picture(store, Window(now - PICTURE_WINDOW, now), bounds)
    points = store.geofence_fixes(geofence_query(rules, now, bounds, picture.get("overlays"))) if pushdown else None
    if points is None:
        points = store.read("track_points", start=now - GEOFENCE_WINDOW, end=now, columns=list(FIX_COLUMNS))

    def pairs(left: str, left_frame, right: str, right_frame, limits):
        if not {"source", "source_id"} <= set(left_frame.columns) & set(right_frame.columns):
            return None
        return store.near_pairs(left, left_frame[["source", "source_id"]], right,
                                right_frame[["source", "source_id"]], limits)

    return evaluate(picture, rules, now, track_points=points, pair_search=pairs if pushdown else None)


def in_database() -> bool:
    """`[alerts] in_database` in watchfloor.toml (default true): whether a store that can do the
    heavy part of the rules (PostGIS) does it. False evaluates in the evaluating process, which then
    reads the day of fixes: faster end to end, heavier on that process (`python -m bench pushdown`)."""
    from ingest.config import settings
    from ingest.errors import ConfigError

    value = settings().get("alerts", {}).get("in_database", True)
    if not isinstance(value, bool):
        raise ConfigError("alerts.in_database in watchfloor.toml", "true or false", value)
    return value


def refresh_alerts(store: Store, *, now: datetime | None = None, rules: Rules | None = None) -> AlertRun:
    now = now or datetime.now(UTC)
    rules = rules or load_rules()
    findings = evaluate_store(store, now, rules, pushdown=in_database())
    log.debug("alert evaluation: %d findings computed; storing them", len(findings))
    report = store.put_alerts(findings, now=now)
    resolved = store.resolve_missing(set(findings["key"].astype(str)), now=now)
    pruned = store.prune_alerts(now - timedelta(seconds=rules.retention_s))
    return AlertRun(len(findings), report.new, report.updated, resolved, now, pruned)


class Evaluator:
    """The alert rules evaluated by this process only while it holds the "alerts" lease. The lease
    is kept once taken (the holder evaluates every interval); a process that did not get it tries
    again on its next `evaluate`, so it takes over when the holder dies."""

    def __init__(self, store: Store, rules: Rules | None = None) -> None:
        self.store, self.rules = store, rules
        self.lease = store.exclusive(ALERTS)

    def evaluate(self, now: datetime | None = None) -> AlertRun | None:
        """Evaluate and keep the results, if this process holds (or now takes) the lease;
        None when another process holds it."""
        if not (self.lease.held() or self.lease.acquire()):
            return None
        log.debug("alert evaluation started")
        return refresh_alerts(self.store, now=now, rules=self.rules)

    def holder(self) -> str | None:
        """Who evaluates now (this process or another), for messages."""
        return self.lease.holder()

    def close(self) -> None:
        self.lease.release()


def evaluations(evaluator: Evaluator, *, interval_s: float, takeover_s: float,
                wait: Callable[[float], bool]) -> Iterator[AlertRun | None]:
    """The loop of every evaluating process (`watchfloor alerts run`, a dashboard's evaluator):
    evaluate now, then every ``interval_s`` while holding the lease, or try to take it over every
    ``takeover_s`` while another process holds it. Yields each run (None: standing by).
    ``wait(seconds)`` waits and says whether to stop (the caller's clock and stop signal)."""
    while True:
        run = evaluator.evaluate()
        yield run
        if wait(interval_s if run is not None else takeover_s):
            return
