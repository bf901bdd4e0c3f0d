"""Evaluate the alert rules over the store and keep the results there.

Alerts are computed on the server, over every feed, and persisted in the store
(de-duplicated by each finding's stable key; acknowledgements kept apart), so
every dashboard process and every viewer sees the same alerts and the same
acknowledgements. `watchfloor alerts run` does this on an interval; the
dashboard also refreshes them when they are older than its refresh interval,
so a single laptop needs no second process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ingest.store import Store
from layers.alerts.evaluate import evaluate
from layers.alerts.rules import Rules, load_rules
from layers.picture import Window, load_picture, operational_bounds

# Track fixes older than this are not geofenced again on every evaluation.
GEOFENCE_WINDOW = timedelta(hours=24)
PICTURE_WINDOW = timedelta(days=7)


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


def refresh_alerts(store: Store, *, now: datetime | None = None, rules: Rules | None = None) -> AlertRun:
    now = now or datetime.now(timezone.utc)
    rules = rules or load_rules()
    picture = load_picture(store, Window(now - PICTURE_WINDOW, now), operational_bounds(store))
    points = store.read("track_points", start=now - GEOFENCE_WINDOW, end=now,
                        columns=["track_id", "time", "callsign", "marking"])
    findings = evaluate(picture, rules, now, track_points=points)
    report = store.put_alerts(findings, now=now)
    resolved = store.resolve_missing(set(findings["key"].astype(str)), now=now)
    pruned = store.prune_alerts(now - timedelta(seconds=rules.retention_s))
    return AlertRun(len(findings), report.new, report.updated, resolved, now, pruned)
