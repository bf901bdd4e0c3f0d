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

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ingest.store import Store
from ingest.store.locks import ALERTS
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
    now = now or datetime.now(UTC)
    rules = rules or load_rules()
    picture = load_picture(store, Window(now - PICTURE_WINDOW, now), operational_bounds(store))
    points = store.read("track_points", start=now - GEOFENCE_WINDOW, end=now,
                        columns=["track_id", "time", "callsign", "marking"])
    findings = evaluate(picture, rules, now, track_points=points)
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
        return refresh_alerts(self.store, now=now, rules=self.rules)

    def holder(self) -> str | None:
        """Who evaluates now (this process or another), for messages."""
        return self.lease.holder()

    def close(self) -> None:
        self.lease.release()
