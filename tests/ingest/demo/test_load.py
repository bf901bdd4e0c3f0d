"""The demo scenario loads through the real ingest path, at the stated sizes, with nothing quarantined."""

from __future__ import annotations

import pandas as pd

from ingest.store.delta import DeltaStore
from tests.conftest import DEMO_NOW


def test_demo_loads_with_zero_quarantined_records(demo_home):
    rows = [line.split("\t") for line in (demo_home / "summaries.txt").read_text().splitlines()]
    assert rows, "no summaries"
    for source, layer, read, stored, quarantined, superseded in rows:
        assert int(quarantined) == 0, f"{source} quarantined {quarantined}"
        assert int(read) == int(stored) + int(superseded), f"{source}: records lost"
    sources = {r[0] for r in rows}
    assert {"demo-cot", "demo-gpx", "demo-csv-tracks", "demo-incidents", "demo-relief", "demo-stac",
            "demo-deployments"} <= sources
    assert DeltaStore(demo_home / "store").quarantined().empty


def test_demo_has_the_stated_sizes(demo_home):
    store = DeltaStore(demo_home / "store")
    deployments = store.read("deployments")
    assert deployments["nation"].nunique() >= 5 and deployments["area"].notna().all()
    assert store.stats("tracks").count >= 20
    assert store.stats("incidents").count >= 300
    assert store.stats("imagery").count >= 50
    for layer in ("borders", "infrastructure", "places"):
        assert store.stats(layer).count > 0


def test_demo_looks_live_relative_to_its_clock(demo_home):
    store = DeltaStore(demo_home / "store")
    now = pd.Timestamp(DEMO_NOW)
    incidents = store.read("incidents")
    assert incidents["occurred_at"].max() <= now
    assert incidents["occurred_at"].min() >= now - pd.Timedelta(hours=48)
    tracks = store.read("tracks")
    assert (tracks["last_seen"] > now - pd.Timedelta(minutes=10)).any(), "no drone is flying at 'now'"


def test_loading_the_demo_twice_changes_nothing(demo_home, tmp_path):
    from ingest.demo import load_demo

    store = DeltaStore(demo_home / "store")
    before = {layer: store.stats(layer).count for layer in ("incidents", "track_points", "imagery")}
    again = load_demo(store, now=DEMO_NOW, workdir=tmp_path / "again")
    assert all(s.inserted == 0 and s.updated == 0 for s in again)
    assert {layer: store.stats(layer).count for layer in before} == before
