"""Alert triage: what needs a person now, and what is information.

A watch floor drowns when every finding is a line: the demo alone raises ~300
open alerts, most of them "no clear imagery yet" and incidents a couple of km
from something. Triage turns open alerts into *cards*:

- repeated findings of one kind are grouped (one "12 incidents lack clear
  post-event imagery" card, one card per power plant with incidents near it),
  as each rule's ``group`` setting says;
- a card *needs action* when its most severe open member reaches the rule's
  ``attention`` severity; below that (or with ``attention = "never"``) it is
  information, counted but kept off the wall ticker;
- cards are ranked: needing action first, then severity, then the newest member.

Only open alerts make cards: an acknowledged or resolved alert has had its
person. Settings come from the rules file (alerts.toml, per rule), so a theatre
tunes its own noise. Pure: alerts in, cards out; text is returned raw (it comes
partly from feeds) and must be escaped by whoever renders it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from ingest.schema import SEVERITIES

NEVER = "never"
RULE_GROUP = "rule"   # one card for all open alerts of the rule
NO_GROUP = "none"     # one card per alert
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
# Layers whose record alerts may share and be grouped on.
GROUP_LAYERS = ("infrastructure", "deployments", "tracks", "incidents", "disputed_areas", "borders", "zones")
CARD_COLUMNS = ["card", "rule", "severity", "needs_action", "count", "time", "first_time", "title",
                "detail", "keys", "lon", "lat"]


@dataclass(frozen=True)
class RuleTriage:
    """How one rule's alerts are triaged.

    ``attention``: the least severity that needs a person (a severity name), or None for
    information only. ``group``: "rule" (one card for the rule), "none" (a card per alert),
    or a subject layer ("infrastructure", "deployments", "tracks", "disputed_areas", ...):
    one card per record of that layer the alerts name."""

    attention: str | None = "medium"
    group: str = NO_GROUP


# What a group of a rule's alerts is called; fields come from the newest member's details.
GROUP_TITLES: dict[str, str] = {
    "coverage_gap": "{n} incidents lack clear post-event imagery",
    "stale_track": "{n} tracks stale",
    "stale_deployment": "{n} partner units have not reported",
    "hotspot": "{n} incident hot spots",
    "incident_near_infrastructure": "{n} incidents near {target_kind} '{target_name}'",
    "incident_near_deployment": "{n} incidents near partner unit '{target_name}'",
    "loitering": "{n} loiters near '{target_name}'",
    "border_crossing": "{n} border crossings",
    "disputed_area_entry": "{n} entries into disputed area '{area}'",
    "restricted_zone_entry": "{n} restricted-zone entries",
}
BY_TRACK_TITLES: dict[str, str] = {
    "border_crossing": "Track '{track_id}' crossed borders {n} times",
    "loitering": "Track '{track_id}' loitered {n} times",
    "disputed_area_entry": "Track '{track_id}' entered disputed areas {n} times",
    "restricted_zone_entry": "Track '{track_id}' entered restricted zones {n} times",
}


def empty_cards() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in CARD_COLUMNS})


def needs_action(severity: str, setting: RuleTriage) -> bool:
    if setting.attention is None or setting.attention == NEVER:
        return False
    return SEVERITY_RANK.get(severity, -1) >= SEVERITY_RANK[setting.attention]


def triage(alerts: gpd.GeoDataFrame, settings: Mapping[str, RuleTriage], *,
           default: RuleTriage = RuleTriage()) -> pd.DataFrame:
    """Cards for the open alerts in ``alerts`` (Store.alerts columns, already restricted to the
    viewer): grouped, classified and ranked as described in the module doc."""
    if alerts is None or alerts.empty:
        return empty_cards()
    live = alerts[(alerts["state"] == "open").to_numpy(dtype=bool)]
    if live.empty:
        return empty_cards()
    rules = live["rule"].astype(str).to_numpy(dtype=object)
    subjects = live["subjects"].astype(object).tolist()
    keys = live["key"].astype(str).to_numpy(dtype=object)
    group = np.empty(len(live), dtype=object)
    for i, (rule, subj, key) in enumerate(zip(rules, subjects, keys)):
        mode = settings.get(rule, default).group
        if mode == RULE_GROUP:
            group[i] = rule
        elif mode == NO_GROUP:
            group[i] = f"{rule}|{key}"
        else:
            group[i] = f"{rule}|{_subject_of(subj, mode) or key}"
    frame = pd.DataFrame({
        "group": group, "rule": rules, "key": keys,
        "severity": live["severity"].astype(str).to_numpy(dtype=object),
        "rank": live["severity"].astype(str).map(SEVERITY_RANK).fillna(-1).to_numpy(dtype=int),
        "time": live["time"].to_numpy(), "message": live["message"].astype(str).to_numpy(dtype=object),
        "details": live["details"].astype(object).to_numpy(),
        "lon": live.geometry.x.to_numpy() if len(live) else [], "lat": live.geometry.y.to_numpy() if len(live) else [],
    })
    frame = frame.sort_values(["time", "key"], ascending=[False, True], kind="stable")
    # Per group, in one pass each (a rerun pays this with thousands of open alerts): the newest
    # member (first after the sort), the most severe (first of the highest rank), the count, the
    # first time and the members' keys, newest first.
    codes, _ = pd.factorize(frame["group"].to_numpy(dtype=object))  # numbered as first seen: newest first
    by_group = frame.groupby(codes, sort=True)
    newest = frame.drop_duplicates("group")
    top_severity = frame.loc[by_group["rank"].idxmax().to_numpy(), "severity"].tolist()
    counts = np.bincount(codes)
    first_times = by_group["time"].min().to_numpy()
    in_groups = np.argsort(codes, kind="stable")
    members_keys = [tuple(k) for k in np.split(frame["key"].to_numpy(dtype=object)[in_groups], np.cumsum(counts)[:-1])]
    cards = []
    for i, row in enumerate(newest.itertuples(index=False)):
        rule, n = str(row.rule), int(counts[i])
        setting = settings.get(rule, default)
        if n == 1:
            title, detail = str(row.message), ""
        else:
            title = _group_title(rule, setting.group, n, _details(row.details))
            detail = "Newest: " + str(row.message)
        lon, lat = float(row.lon), float(row.lat)
        if setting.group not in (RULE_GROUP, NO_GROUP):
            # grouped on what the alerts share (a power plant, a unit): ring that, not the newest incident
            d = _details(row.details)
            if isinstance(d.get("target_lon"), (int, float)) and isinstance(d.get("target_lat"), (int, float)):
                lon, lat = float(d["target_lon"]), float(d["target_lat"])
        severity = str(top_severity[i])
        cards.append({
            "card": row.group, "rule": rule, "severity": severity,
            "needs_action": needs_action(severity, setting), "count": n,
            "time": row.time, "first_time": first_times[i], "title": title, "detail": detail,
            "keys": members_keys[i], "lon": lon, "lat": lat,
        })
    out = pd.DataFrame(cards, columns=CARD_COLUMNS)
    out["_rank"] = out["severity"].map(SEVERITY_RANK).fillna(-1)
    out = out.sort_values(["needs_action", "_rank", "time", "card"], ascending=[False, False, False, True],
                          kind="stable").drop(columns="_rank")
    out["time"] = pd.to_datetime(out["time"], utc=True)
    out["first_time"] = pd.to_datetime(out["first_time"], utc=True)
    return out.reset_index(drop=True)


def summary(cards: pd.DataFrame) -> dict[str, object]:
    """Counts for a one-line summary: open alerts needing action by severity, and information."""
    act = cards[cards["needs_action"].astype(bool)] if not cards.empty else cards
    info = cards[~cards["needs_action"].astype(bool)] if not cards.empty else cards
    return {
        "action_cards": len(act),
        "action_alerts": int(act["count"].sum()) if not act.empty else 0,
        "action_by_severity": {s: int((act["severity"] == s).sum()) if not act.empty else 0
                               for s in reversed(SEVERITIES)},
        "info_cards": len(info),
        "info_alerts": int(info["count"].sum()) if not info.empty else 0,
    }


def _details(text: object) -> dict:
    if not isinstance(text, str):
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _subject_of(subjects: object, layer: str) -> str | None:
    """The first subject of ``layer`` an alert names ("layer/source/source_id")."""
    if not isinstance(subjects, str):
        return None
    try:
        items = json.loads(subjects)
    except ValueError:
        return None
    if not isinstance(items, list):
        return None
    prefix = layer + "/"
    return next((s for s in items if isinstance(s, str) and s.startswith(prefix)), None)


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _group_title(rule: str, group: str, n: int, details: dict) -> str:
    template = (BY_TRACK_TITLES.get(rule) if group == "tracks" else None) or GROUP_TITLES.get(rule)
    if template is None:
        return f"{n} {rule.replace('_', ' ')} alerts"
    fields = _Blank({k: str(v).replace("_", " ") if k == "target_kind" else v for k, v in details.items()})
    fields["n"] = n
    return template.format_map(fields)


# Bundled defaults; alerts.toml overrides them per rule ("attention", "group").
DEFAULT_SETTINGS: dict[str, RuleTriage] = {
    "incident_near_infrastructure": RuleTriage("high", "infrastructure"),
    "incident_near_deployment": RuleTriage("high", "deployments"),
    "border_crossing": RuleTriage("medium", RULE_GROUP),
    "disputed_area_entry": RuleTriage("high", "disputed_areas"),
    "restricted_zone_entry": RuleTriage("high", NO_GROUP),
    "loitering": RuleTriage("high", "infrastructure"),
    "coverage_gap": RuleTriage(None, RULE_GROUP),
    "stale_track": RuleTriage(None, RULE_GROUP),
    "stale_deployment": RuleTriage("medium", RULE_GROUP),
    "hotspot": RuleTriage(None, RULE_GROUP),
}
