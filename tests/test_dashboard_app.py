"""The dashboard pages, run in-process with Streamlit's AppTest over the demo store."""

from __future__ import annotations

import json

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


@pytest.fixture
def app(demo_home, monkeypatch):
    monkeypatch.setenv("WATCHFLOOR_HOME", str(demo_home))
    monkeypatch.delenv("WATCHFLOOR_STORE", raising=False)
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    return at.run()


def deck_layers(at: AppTest) -> dict[str, int]:
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    return {layer["id"]: len(layer.get("data", [])) for layer in spec["layers"]}


def test_operations_page_runs_and_draws_every_layer(app):
    assert not app.exception
    layers = deck_layers(app)
    for layer in ("borders", "disputed_areas", "infrastructure", "deployments", "tracks", "incidents", "imagery"):
        assert layers.get(layer, 0) > 0, f"{layer} missing from the map"


def test_layer_toggles_change_the_map(app):
    app.multiselect(key="layers").set_value(["borders", "incidents"]).run()
    assert not app.exception
    assert set(deck_layers(app)) == {"borders", "incidents"}


def test_time_window_changes_what_is_shown(app):
    full = deck_layers(app)["incidents"]
    app.segmented_control(key="window").set_value("1 h").run()
    assert not app.exception
    assert 0 < deck_layers(app)["incidents"] < full


def test_counts_are_shown(app):
    labels = {m.label: m.value for m in app.metric}
    assert int(labels["Incidents"].replace(",", "")) == deck_layers(app)["incidents"]
    assert int(labels["Partner deployments"].replace(",", "")) >= 15


def test_feed_text_reaches_tooltips_escaped(app):
    spec = app.get("deck_gl_json_chart")[0].proto.json
    assert "<script>" not in spec
