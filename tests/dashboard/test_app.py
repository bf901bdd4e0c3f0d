"""Every dashboard page, run in-process with Streamlit's AppTest over the demo store."""

from __future__ import annotations

import json

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, session_for

PAGES = {"operations": "views/operations.py", "commander": "views/commander.py",
         "analyst": "views/analyst.py", "health": "views/health.py"}


@pytest.fixture
def open_page(demo_home, monkeypatch):
    monkeypatch.setenv("WATCHFLOOR_HOME", str(demo_home))
    monkeypatch.delenv("WATCHFLOOR_STORE", raising=False)
    st.cache_resource.clear()

    def _open(page: str, user: str = "admin", **params: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
        for k, v in params.items():
            at.query_params[k] = v
        at.session_state["wf_session"] = session_for(demo_home, user)
        at.run()
        if page != "operations":
            at.switch_page(PAGES[page]).run()
        assert not at.exception, at.exception
        return at

    return _open


def deck_layers(at: AppTest) -> dict[str, int]:
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    return {layer["id"]: len(layer.get("data", [])) for layer in spec["layers"]}


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_runs_without_exception(open_page, page):
    open_page(page)


def test_operations_draws_every_layer_and_the_key_figures(open_page):
    at = open_page("operations")
    layers = deck_layers(at)
    for layer in ("borders", "disputed_areas", "infrastructure", "deployments", "tracks", "incidents"):
        assert layers.get(layer, 0) > 0, f"{layer} missing from the map"
    assert "imagery" not in layers  # footprints are for analysts: on the wall they cross out symbols
    labels = {m.label: m.value for m in at.metric}
    assert int(labels["Partner units"]) >= 15 and 0 < int(labels["Needs action"]) <= 12
    assert int(labels["Incidents, 24 h"].replace(",", "")) > 0
    ticker = next(h.proto.body for h in at.get("html") if 'data-testid="wf-ticker"' in h.proto.body)
    cards = ticker.count('class="wf-card"')
    assert 0 < cards <= 10  # what needs a person, grouped: not a line per alert


def test_analyst_filters_change_what_is_shown(open_page):
    at = open_page("analyst")
    every = deck_layers(at)["incidents"]
    at.multiselect(key="severities").set_value(["critical"]).run()
    assert not at.exception
    critical = deck_layers(at)["incidents"]
    assert 0 < critical < every
    at.segmented_control(key="window").set_value("1h").run()
    assert deck_layers(at).get("incidents", 0) < critical


def test_layer_toggles_change_the_map(open_page):
    at = open_page("analyst")
    at.pills(key="layers").set_value(["borders", "incidents"]).run()
    assert set(deck_layers(at)) <= {"borders", "incidents", "incident_density"}


def test_a_shared_link_reopens_the_same_view(open_page):
    at = open_page("analyst", sev="critical,high", w="6h", lyr="borders,incidents")
    assert at.multiselect(key="severities").value == ["critical", "high"]
    assert at.segmented_control(key="window").value == "6h"
    assert set(deck_layers(at)) <= {"borders", "incidents", "incident_density"}
    assert at.query_params["sev"] in ("critical,high", ["critical,high"])


def test_commander_shows_the_summary_and_a_light_map(open_page):
    at = open_page("commander")
    lines = [h.proto.body for h in at.get("html") if 'class="wf-line"' in h.proto.body]
    assert len(lines) == 2 and "partner units" in lines[0] and "Needs action" in lines[1]
    assert "places" not in deck_layers(at)


def test_data_health_lists_every_layer(open_page):
    at = open_page("health")
    layers = set(at.dataframe[0].value["layer"])
    assert {"incidents", "tracks", "imagery", "borders"} <= layers


def test_feed_text_reaches_tooltips_escaped(open_page):
    # 7 days: the demo's hostile texts sit on incidents up to a day old, which a slow run could see
    # leave a 24 h window
    spec = open_page("operations", w="7d").get("deck_gl_json_chart")[0].proto.json
    assert "<script>" not in spec and "&lt;script&gt;" in spec


def test_analyst_can_switch_to_the_drawing_map(open_page):
    at = open_page("analyst")
    at.segmented_control(key="map_mode").set_value("Draw area / measure").run()
    assert not at.exception


def test_a_drawn_area_in_the_link_limits_the_view(open_page):
    every = deck_layers(open_page("analyst"))["incidents"]
    at = open_page("analyst", aoi="POLYGON ((20.5 42, 21.5 42, 21.5 43, 20.5 43, 20.5 42))")
    inside = deck_layers(at).get("incidents", 0)
    assert 0 < inside < every


def test_playback_replays_tracks_up_to_the_cursor(open_page):
    at = open_page("analyst")
    at.segmented_control(key="map_mode").set_value("Playback").run()
    assert not at.exception
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    trips = next(l for l in spec["layers"] if l["id"] == "playback_tracks")
    assert trips["data"] and trips["currentTime"] == 0
    assert all(len(t["path"]) == len(t["timestamps"]) for t in trips["data"])


def test_a_custom_window_selects_by_its_own_span(open_page):
    at = open_page("analyst", w="custom", **{"from": "2000-01-01T00:00Z", "to": "2000-01-02T00:00Z"})
    assert at.segmented_control(key="window").value == "custom"
    assert "incidents" not in deck_layers(at)  # nothing happened in January 2000


def test_alerts_are_raised_listed_and_acknowledged_for_every_viewer(open_page, demo_home):
    at = open_page("analyst")
    assert "alerts" in deck_layers(at)
    table = at.dataframe(key="alert-table") if hasattr(at, "dataframe") else None
    from ingest.store.delta import DeltaStore

    store = DeltaStore(demo_home / "store")
    alerts = store.alerts(states=["open"])
    assert {"incident_near_infrastructure", "border_crossing", "loitering", "coverage_gap"} <= set(alerts["rule"])
    key = str(alerts["key"].iloc[0])
    assert store.acknowledge(key, "test watch officer")
    st.cache_resource.clear()
    other = open_page("analyst")  # another viewer, another session
    again = DeltaStore(demo_home / "store").alerts()
    assert again.set_index("key").loc[key, "state"] == "acknowledged"
    assert not other.exception and table is not None


def test_hot_spots_can_be_shown_as_hexagons(open_page):
    at = open_page("analyst", lyr="borders,hotspots")
    assert deck_layers(at).get("hotspots", 0) > 0


def test_analyst_exports_the_view_on_screen(open_page):
    at = open_page("analyst", sev="critical")
    at.selectbox(key="export_fmt").set_value("geojson").run()
    at.button(key="export_go").click().run()
    assert not at.exception
    assert any(getattr(b, "key", None) == "export_download" or "Download" in str(getattr(b, "label", ""))
               for b in at.get("download_button"))


@pytest.mark.parametrize("page", ["operations", "commander", "analyst"])
def test_every_page_carries_the_marking_banner_top_and_bottom(open_page, page):
    at = open_page(page)
    banners = [h.value for h in at.get("html") if "letter-spacing:.06em" in str(h.value)]
    assert len(banners) == 2
    assert banners[0] == banners[-1]
    # RESTRICTED//REL TO GBR, FRA and REL TO USA, GBR records: the highest level, REL TO intersected.
    assert "RESTRICTED//REL TO GBR" in banners[0]


def test_without_an_alerts_process_the_dashboard_evaluates_in_the_background(tmp_path, monkeypatch):
    """No rerun waits for an evaluation: the first one starts it in a thread and returns; the alerts
    reach the store (and the next reruns) when it is done."""
    import time

    from ingest.demo import load_demo
    from ingest.store.delta import DeltaStore
    from tests.conftest import DEMO_NOW, add_test_users

    st.cache_resource.clear()  # the dashboard's store handle is cached per process: open this home's
    store = DeltaStore(tmp_path / "store")
    load_demo(store, now=DEMO_NOW, workdir=tmp_path / "inputs")
    add_test_users(tmp_path)
    monkeypatch.setenv("WATCHFLOOR_HOME", str(tmp_path))
    monkeypatch.delenv("WATCHFLOOR_STORE", raising=False)
    monkeypatch.setenv("WATCHFLOOR_ALERTS_IN_DASHBOARD", "1")
    assert store.alerts().empty
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    at.session_state["wf_session"] = session_for(tmp_path, "admin")
    at.run()
    assert not at.exception
    deadline = time.monotonic() + 120
    while store.alerts().empty and time.monotonic() < deadline:
        time.sleep(0.5)  # polling the store for the thread's result, with a deadline
    assert not store.alerts().empty
