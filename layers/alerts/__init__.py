"""Alerts: the rules (a TOML file), their evaluation over the picture, and keeping the results.

- `rules`: the rules file read and normalised once (`load_rules`, `parse_rules`, `with_zone`);
- `evaluate`: the rules run over the picture, pure (`evaluate`, `zones_frame`), and findings
  evaluated for one viewer shaped as stored alerts (`findings_as_alerts`);
- `refresh`: evaluation over the store, results kept there (`refresh_alerts`, `AlertRun`), as
  `watchfloor alerts run` and the dashboard do.

A new rule: its analysis function in `layers/analysis/`, its settings in `rules.py`, one `if` in
`evaluate.py`, its defaults in `data/alerts.default.toml`.
"""

from __future__ import annotations

from layers.alerts.evaluate import evaluate, findings_as_alerts, zones_frame
from layers.alerts.refresh import AlertRun, refresh_alerts
from layers.alerts.rules import (
    AGGREGATE_RULES,
    DEFAULT_FILE,
    FILE_NAME,
    RULE_NAMES,
    CoverageRule,
    DeploymentProximityRule,
    HotspotRule,
    LoiteringRule,
    ProximityRule,
    RestrictedZoneRule,
    Rules,
    SimpleRule,
    StaleRule,
    Zone,
    load_rules,
    parse_rules,
    with_zone,
)

__all__ = [
    "AGGREGATE_RULES",
    "DEFAULT_FILE",
    "FILE_NAME",
    "AlertRun",
    "CoverageRule",
    "DeploymentProximityRule",
    "HotspotRule",
    "LoiteringRule",
    "ProximityRule",
    "RULE_NAMES",
    "RestrictedZoneRule",
    "Rules",
    "SimpleRule",
    "StaleRule",
    "Zone",
    "evaluate",
    "findings_as_alerts",
    "load_rules",
    "parse_rules",
    "refresh_alerts",
    "with_zone",
    "zones_frame",
]
