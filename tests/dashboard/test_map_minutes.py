"""When the minute turns, the wall shows the previous minute's map at once and the new one is built
in the background (dashboard/loaders.py `deck`): at the scale scenario a rebuild is seconds, and no
refresh waits for it (issue 13). New data, another view or another signature never get an old map."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
import streamlit as st

from dashboard import loaders
from layers.access import load_users
from layers.filters import View
from tests.conftest import DEMO_NOW
from tests.support.waiting import wait_until


@pytest.fixture
def home(demo_home, tmp_path, monkeypatch):
    home = tmp_path / "home"
    shutil.copytree(demo_home / "store", home / "store")
    shutil.copy(demo_home / "users.toml", home / "users.toml")
    monkeypatch.setenv("WATCHFLOOR_HOME", str(home))
    monkeypatch.setenv("WATCHFLOOR_ALERTS_IN_DASHBOARD", "0")
    monkeypatch.delenv("WATCHFLOOR_STORE", raising=False)
    st.cache_resource.clear()
    yield home
    wait_until(lambda: not loaders._maps()["building"], "the background map builds to end")
    st.cache_resource.clear()


def _viewer(home, name):
    return load_users(home / "users.toml")[name].viewer()


def test_the_next_minute_shows_the_previous_map_at_once_then_its_own(home):
    admin, view = _viewer(home, "admin"), View()
    first = loaders.deck(view, DEMO_NOW, viewer=admin)
    assert loaders.deck(view, DEMO_NOW + timedelta(seconds=30), viewer=admin) is first  # the same minute
    assert loaders.deck(view, DEMO_NOW + timedelta(minutes=1), viewer=admin) is first  # at once, built behind
    wait_until(lambda: loaders.deck(view, DEMO_NOW + timedelta(minutes=1), viewer=admin) is not first,
               "the next minute's map, built in the background")
    assert loaders.deck(view, DEMO_NOW + timedelta(minutes=1), viewer=admin).to_json() == \
        loaders._build(*_args(view, admin, DEMO_NOW + timedelta(minutes=1))).to_json()


def _args(view, viewer, at):
    which = (tuple(sorted(view.to_params().items())), loaders.signature(viewer), tuple(view.layers), 5_000, 700)
    return which, (loaders.versions(), loaders._alerts_version()), at, view, viewer


def test_a_map_more_than_two_minutes_old_another_view_or_another_viewer_is_built_before_it_is_shown(home):
    admin, view = _viewer(home, "admin"), View()
    first = loaders.deck(view, DEMO_NOW, viewer=admin)
    later = loaders.deck(view, DEMO_NOW + timedelta(minutes=5), viewer=admin)
    assert later is not first
    other_view = View(severities=("critical",))
    assert loaders.deck(other_view, DEMO_NOW + timedelta(minutes=6), viewer=admin) is not later
    viewers = {name: _viewer(home, name) for name in load_users(home / "users.toml")}
    other = next(v for v in viewers.values() if loaders.signature(v) != loaders.signature(admin))
    assert loaders.deck(view, DEMO_NOW + timedelta(minutes=6), viewer=other) is not later


def test_new_data_is_never_shown_on_an_old_map(home):
    from ingest.store import open_store

    admin, view = _viewer(home, "admin"), View()
    first = loaders.deck(view, DEMO_NOW, viewer=admin)
    store = open_store()
    incidents = store.read("incidents").head(1).assign(source_id="new-one", title="A new incident")
    store.write("incidents", incidents)
    loaders._table_versions.clear()
    fresh = loaders.deck(view, DEMO_NOW + timedelta(minutes=1), viewer=admin)
    assert fresh is not first
    assert "A new incident" in fresh.to_json()
