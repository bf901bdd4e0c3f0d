"""Derived facts keep need-to-know: for every viewer, every alert, figure and chart value equals what
evaluating the store restricted to that viewer gives; a record the viewer may not see changes nothing
they can see (issue 17).

The world is small and hand-built so each hidden record has a known effect if it leaked:
- a SECRET//REL TO USA scene that would cover a coverage gap (and its cloud cover);
- two SECRET//REL TO USA incidents that would lift a cell over the hot-spot threshold;
- a SECRET//REL TO USA airport an incident is near;
- a RESTRICTED unit for GBR and FRA an incident is near.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from ingest.validate import validate
from layers.access import Viewer, restrict
from layers.alerts import evaluate, findings_as_alerts, load_rules
from layers.figures import imagery_timeline, incidents_per_day, key_figures
from layers.picture import as_seen_by
from layers.triage import triage

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
U, S_USA, R_GF = "UNCLASSIFIED", "SECRET//REL TO USA", "RESTRICTED//REL TO GBR, FRA"
VIEWERS = [Viewer("usa", "USA", "SECRET", "analyst"), Viewer("fra", "FRA", "RESTRICTED", "viewer"),
           Viewer("gbr", "GBR", "UNCLASSIFIED", "viewer"), Viewer("deu", "DEU", "SECRET", "administrator"),
           Viewer("tur", "TUR", "UNCLASSIFIED", "analyst")]


def valid(layer: str, rows: list[dict]) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(rows, geometry=[r.pop("geometry") for r in rows], crs=4326)
    result = validate(frame, layer, source="feed", now=NOW)
    assert result.quarantined.empty, result.quarantined.to_string()
    return result.valid


def incident(sid, marking, lon, lat, severity="high", hours_ago=3.0):
    return {"source_id": sid, "occurred_at": NOW - timedelta(hours=hours_ago), "category": "Riots",
            "title": f"Riot {sid}", "severity": severity, "status": "reported", "marking": marking,
            "geometry": shapely.Point(lon, lat)}


def scene(sid, marking, cloud, hours_ago=1.0, box=(19.8, 41.8, 20.4, 42.4)):
    return {"source_id": sid, "acquired_at": NOW - timedelta(hours=hours_ago), "platform": "sentinel-2a",
            "collection": "s2", "cloud_cover": cloud, "marking": marking, "geometry": shapely.box(*box)}


def world(extra_incidents=(), extra_scenes=()) -> dict[str, gpd.GeoDataFrame]:
    incidents = [
        incident("GAP-1", U, 20.00, 42.00),  # covered only by the hidden clear scene: a gap for others
        *[incident(f"HOT-U{i}", U, 20.10 + i * 0.001, 42.10) for i in range(3)],
        *[incident(f"HOT-S{i}", S_USA, 20.10 + i * 0.001, 42.101) for i in range(2)],
        incident("NEAR-AIRPORT", U, 20.30, 42.30, severity="critical"),
        incident("NEAR-UNIT", U, 20.20, 42.20, severity="medium"),
        *extra_incidents,
    ]
    return {
        "incidents": valid("incidents", incidents),
        "imagery": valid("imagery", [scene("CLEAR-USA", S_USA, 5.0), scene("CLOUDY", U, 80.0), *extra_scenes]),
        "infrastructure": valid("infrastructure", [
            {"source_id": "AIRPORT", "kind": "airport", "name": "Hidden Field", "marking": S_USA,
             "geometry": shapely.Point(20.305, 42.30)}]),
        "deployments": valid("deployments", [
            {"source_id": "UNIT", "nation": "GBR", "unit_name": "1 Fusiliers", "reported_at": NOW,
             "marking": R_GF, "geometry": shapely.Point(20.201, 42.20)}]),
        "borders": gpd.GeoDataFrame({"source": [], "source_id": [], "name": [], "marking": []},
                                    geometry=gpd.GeoSeries([], crs=4326), crs=4326),
    }


RULES = load_rules()


def stored_alerts(picture) -> gpd.GeoDataFrame:
    """What the evaluator keeps: every rule over everything."""
    return findings_as_alerts(evaluate(picture, RULES, NOW), pd.DataFrame(), NOW)


def comparable(alerts: pd.DataFrame) -> set[tuple]:
    return {(r.key, r.rule, r.severity, r.message, r.details, tuple(sorted(json.loads(r.subjects))))
            for r in alerts.itertuples()}


def facts(seen: dict) -> dict:
    """Everything a page shows that is computed, not copied: figures, charts, cards."""
    figures = key_figures(seen, NOW, cards=triage(seen["alerts"], RULES.triage_settings))
    return {"figures": figures,
            "per_day": incidents_per_day(seen["incidents"], seen["borders"]).to_dict("records"),
            "imagery": imagery_timeline(seen["imagery"]).to_dict("records"),
            "alerts": comparable(seen["alerts"])}


@pytest.mark.parametrize("viewer", VIEWERS, ids=lambda v: v.username)
def test_every_derived_fact_equals_evaluating_what_the_viewer_may_see(viewer):
    raw = world()
    seen = as_seen_by({**raw, "alerts": stored_alerts(raw)}, viewer, rules=RULES, now=NOW)
    own = restrict(raw, viewer)  # the store as this viewer may see it, before any evaluation
    expected = evaluate(own, RULES, NOW)
    assert comparable(seen["alerts"]) == comparable(findings_as_alerts(expected, pd.DataFrame(), NOW))
    assert facts(seen)["figures"] == facts({**own, "alerts": findings_as_alerts(expected, pd.DataFrame(),
                                                                                NOW)})["figures"]


def test_the_hidden_records_would_have_changed_the_answers():
    """Guards the world: for a FRA viewer the hidden scene, incidents, airport each make a difference."""
    raw = world()
    fra = as_seen_by({**raw, "alerts": stored_alerts(raw)}, VIEWERS[1], rules=RULES, now=NOW)["alerts"]
    usa = as_seen_by({**raw, "alerts": stored_alerts(raw)}, VIEWERS[0], rules=RULES, now=NOW)["alerts"]
    by_rule = lambda a: sorted(a["rule"].tolist())  # noqa: E731
    assert "coverage_gap|incidents/feed/GAP-1" in set(fra["key"]) - set(usa["key"])
    gap = fra.set_index("key").loc["coverage_gap|incidents/feed/GAP-1"]
    assert json.loads(gap["details"])["clearest_later_cloud"] == 80.0  # never the hidden scene's 5 %
    assert "1 later scene(s) too cloudy" in gap["message"]
    assert by_rule(usa).count("hotspot") >= 1 and "hotspot" not in by_rule(fra)
    assert any("Hidden Field" in m for m in usa["message"]) and not any("Hidden Field" in m for m in fra["message"])
    assert any("1 Fusiliers" in m for m in fra["message"])
    assert not any("1 Fusiliers" in m for m in usa["message"])


@pytest.mark.parametrize("viewer", [v for v in VIEWERS if v.nation != "USA"], ids=lambda v: v.username)
def test_adding_records_the_viewer_may_not_see_changes_nothing_they_see(viewer):
    before_raw = world()
    after_raw = world(
        extra_incidents=[incident(f"HOT-S{i}", S_USA, 20.0 + i * 0.0005, 42.0) for i in range(2, 7)],
        extra_scenes=[scene("CLEAR-USA-2", S_USA, 1.0, hours_ago=0.5)])
    before = as_seen_by({**before_raw, "alerts": stored_alerts(before_raw)}, viewer, rules=RULES, now=NOW)
    after = as_seen_by({**after_raw, "alerts": stored_alerts(after_raw)}, viewer, rules=RULES, now=NOW)
    assert facts(after) == facts(before)
