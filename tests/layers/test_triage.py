"""Alert triage: open alerts become ranked cards; repeated findings become one card; only what needs
a person is marked so, and acknowledged or resolved alerts make no card."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from ingest.errors import ConfigError
from layers.alerts import parse_rules
from layers.triage import RuleTriage, summary, triage

T = pd.Timestamp("2026-12-04T12:00:00Z")


def alert(key, rule, severity, minutes_ago, subjects, message, state="open", details=None, xy=(20.0, 42.0)):
    return {"key": key, "rule": rule, "severity": severity, "time": T - pd.Timedelta(minutes=minutes_ago),
            "subjects": json.dumps(subjects), "message": message, "details": json.dumps(details or {}),
            "state": state, "geometry": shapely.Point(*xy)}


def frame(rows):
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)


PLANT = "infrastructure/ref/gppd:1"
PLANT_DETAILS = {"target_kind": "power_plant", "target_name": "Kakanj", "target_lon": 18.1, "target_lat": 44.1}
SETTINGS = {
    "incident_near_infrastructure": RuleTriage("high", "infrastructure"),
    "coverage_gap": RuleTriage(None, "rule"),
    "border_crossing": RuleTriage("medium", "rule"),
    "restricted_zone_entry": RuleTriage("high", "none"),
}


@pytest.fixture
def alerts():
    return frame([
        alert("p1", "incident_near_infrastructure", "medium", 30, ["incidents/a/1", PLANT], "Incident 1 near Kakanj",
              details=PLANT_DETAILS),
        alert("p2", "incident_near_infrastructure", "critical", 50, ["incidents/a/2", PLANT], "Incident 2 near Kakanj",
              details=PLANT_DETAILS),
        alert("p3", "incident_near_infrastructure", "high", 5, ["incidents/a/3", "infrastructure/ref/apt:9"],
              "Incident 3 near the airport", details={"target_kind": "airport", "target_name": "Tuzla"}),
        alert("c1", "coverage_gap", "critical", 10, ["incidents/a/1"], "No clear imagery of 1"),
        alert("c2", "coverage_gap", "high", 20, ["incidents/a/2"], "No clear imagery of 2"),
        alert("c3", "coverage_gap", "high", 1, ["incidents/a/4"], "No clear imagery of 4", state="acknowledged"),
        alert("b1", "border_crossing", "medium", 2, ["tracks/d/X"], "X crossed"),
        alert("z1", "restricted_zone_entry", "critical", 90, ["tracks/d/Y", "zones/config/Z"], "Y entered Z",
              state="resolved"),
    ])


def test_repeated_findings_become_one_card_at_what_they_share(alerts):
    cards = triage(alerts, SETTINGS).set_index("card")
    plant = cards.loc[f"incident_near_infrastructure|{PLANT}"]
    assert plant["count"] == 2 and plant["title"] == "2 incidents near power plant 'Kakanj'"
    assert plant["severity"] == "critical"  # the most severe member
    assert plant["time"] == T - pd.Timedelta(minutes=30)  # the newest member
    assert plant["detail"] == "Newest: Incident 1 near Kakanj"
    assert (plant["lon"], plant["lat"]) == (18.1, 44.1)  # ringed at the power plant
    assert set(plant["keys"]) == {"p1", "p2"}
    gaps = cards.loc["coverage_gap"]
    assert gaps["count"] == 2 and gaps["title"] == "2 incidents lack clear post-event imagery"
    single = cards.loc["incident_near_infrastructure|infrastructure/ref/apt:9"]
    assert single["count"] == 1 and single["title"] == "Incident 3 near the airport" and single["detail"] == ""


def test_only_open_alerts_make_cards(alerts):
    keys = {k for ks in triage(alerts, SETTINGS)["keys"] for k in ks}
    assert keys == {"p1", "p2", "p3", "c1", "c2", "b1"}  # c3 acknowledged, z1 resolved


def test_cards_that_need_action_come_first_by_severity_then_recency(alerts):
    cards = triage(alerts, SETTINGS)
    assert list(zip(cards["card"], cards["needs_action"])) == [
        (f"incident_near_infrastructure|{PLANT}", True),            # critical
        ("incident_near_infrastructure|infrastructure/ref/apt:9", True),  # high
        ("border_crossing", True),                                  # medium
        ("coverage_gap", False),                                    # information, however severe
    ]
    assert summary(cards) == {"action_cards": 3, "action_alerts": 4,
                              "action_by_severity": {"critical": 1, "high": 1, "medium": 1, "low": 0},
                              "info_cards": 1, "info_alerts": 2}


def test_below_its_rules_attention_a_card_is_information(alerts):
    settings = {**SETTINGS, "border_crossing": RuleTriage("high", "rule")}
    cards = triage(alerts, settings).set_index("card")
    assert not cards.loc["border_crossing", "needs_action"]


def test_no_alerts_no_cards():
    assert triage(frame([alert("x", "coverage_gap", "high", 1, ["incidents/a/1"], "m", state="resolved")]),
                  SETTINGS).empty


def test_triage_settings_come_from_the_rules_file_and_are_checked():
    rules = parse_rules({"rules": {"coverage_gap": {"attention": "High", "group": "none"}},
                         "retention": {"resolved": "2 d"}})
    assert rules.triage_settings["coverage_gap"] == RuleTriage("high", "none")
    assert rules.triage_settings["stale_track"] == RuleTriage(None, "rule")  # the bundled default
    assert rules.retention_s == 2 * 86_400
    with pytest.raises(ConfigError, match="rules.coverage_gap.attention"):
        parse_rules({"rules": {"coverage_gap": {"attention": "urgent"}}})
    with pytest.raises(ConfigError, match="rules.loitering.group"):
        parse_rules({"rules": {"loitering": {"group": "nation"}}})
    with pytest.raises(ConfigError, match="retention.kept"):
        parse_rules({"retention": {"kept": "2 d"}})
