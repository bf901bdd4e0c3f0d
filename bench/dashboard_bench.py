"""Dashboard benchmark on the scale scenario: server time per page rerun and bytes per feature sent.

Ours: each page run headless through Streamlit's AppTest over a store holding
1M track points (as 2,000 derived tracks), 50,000 incidents, 20,000
infrastructure points and 5,000 imagery footprints. Baseline, measured in the
same run: the naive build of the same map, every feature as one folium GeoJSON
layer (what many Streamlit map apps do).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import folium
import geopandas as gpd
import pandas as pd
import streamlit as st

from bench import scenario
from bench.common import Row, median_time, table
from ingest.reference import read_reference, reference_files
from ingest.pipeline import ingest
from ingest.store.delta import DeltaStore
from ingest.tracks import derive_tracks
from ingest.validate import validate

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"operations": None, "commander": "views/commander.py", "analyst": "views/analyst.py",
         "data health": "views/health.py"}


def build_store(root: Path) -> dict[str, int]:
    store = DeltaStore(root)
    now = pd.Timestamp.now(tz="UTC").floor("min")
    shift = now - pd.Timestamp(scenario.NOW)  # make the scenario end now, as the dashboard reads the clock
    points = scenario.track_points()
    points["time"] = points["time"] + shift
    incidents = scenario.incidents()
    incidents["occurred_at"] = incidents["occurred_at"] + shift
    imagery = scenario.imagery()
    imagery["acquired_at"] = imagery["acquired_at"] + shift
    store.write("track_points", points)
    tracks = validate(derive_tracks(points), "tracks").valid
    store.write("tracks", tracks)
    store.write("incidents", incidents)
    store.write("imagery", imagery)
    store.write("infrastructure", scenario.infrastructure())
    for layer, path in reference_files().items():
        if layer in ("borders", "disputed_areas"):
            ingest(store, read_reference(layer, path), source="reference")
    return {"track_points": len(points), "incidents": len(incidents)}


def page_run(page: str | None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=600)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def deck_bytes(at) -> dict[str, int]:
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    return {layer["id"]: len(json.dumps(layer, separators=(",", ":"))) for layer in spec["layers"]}


def naive_folium(picture: dict[str, gpd.GeoDataFrame], points: gpd.GeoDataFrame) -> str:
    m = folium.Map(location=[42.5, 21], zoom_start=7)
    every = pd.concat([points[["geometry"]].assign(kind="track point"),
                       picture["incidents"][["geometry", "category", "severity"]].assign(kind="incident"),
                       picture["infrastructure"][["geometry", "kind"]]], ignore_index=True)
    folium.GeoJson(gpd.GeoDataFrame(every, crs="EPSG:4326")).add_to(m)
    return m.get_root().render()


def run(repeats: int = 3) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        old = os.environ.get("WATCHFLOOR_HOME")
        os.environ["WATCHFLOOR_HOME"] = tmp
        try:
            sizes = build_store(Path(tmp) / "store")
            rows: list[Row] = []
            st.cache_resource.clear()
            t = time.perf_counter()
            at = page_run(None)
            cold = time.perf_counter() - t
            sent = deck_bytes(at)
            for name, page in PAGES.items():
                session = page_run(page)  # a viewer on the page; caches warm
                seconds = median_time(lambda: session.run(), repeats, warmup=1)
                rows.append(Row(f"{name}: one rerun with the map (server time)", seconds,
                                note="target < 1 s" if name != "data health" else "no map"))
            # A filter change: the map is rebuilt (new view) from the cached picture and re-sent.
            session = page_run(PAGES["analyst"])
            combos = iter([["critical"], ["high"], ["medium"], ["low"], ["critical", "high"], ["medium", "low"],
                           ["low", "high"], ["critical", "medium"], ["critical", "low"], ["high", "medium"]])
            changed = median_time(lambda: session.multiselect(key="severities").set_value(next(combos)).run(),
                                  repeats, warmup=1)
            rows.append(Row("analyst: filter change, map rebuilt and re-sent (server time)", changed,
                            note="target < 1 s"))
            # The Analyst table fragment: what a rerun that leaves the map alone costs.
            from layers.filters import View, apply_view
            from layers.table import feature_table
            store = DeltaStore(Path(tmp) / "store")
            now = pd.Timestamp.now(tz="UTC").to_pydatetime()
            from layers.picture import Window, load_picture, operational_bounds
            picture = load_picture(store, Window(now - timedelta(days=7), now), operational_bounds(store))
            frag = median_time(lambda: feature_table(apply_view(picture, View(), now)["incidents"], "incidents"),
                               repeats)
            rows.append(Row("analyst: table fragment rerun (filter + table, no map)", frag, note="target < 0.3 s"))
            in_window = apply_view(picture, View(), now)
            n_inc = len(in_window["incidents"])
            pts_window = int(in_window["tracks"]["point_count"].sum())
            track_bytes = sent.get("tracks", 0) + sent.get("track_heads", 0)
            inc_bytes = sent.get("incidents", 0) + sent.get("incident_density", 0)
            points = store.read("track_points", start=now - timedelta(hours=24), end=now)
            t = time.perf_counter()
            html = naive_folium(in_window, points)
            naive_s = time.perf_counter() - t
            naive_per_feature = len(html.encode()) / max(1, len(points) + len(in_window["incidents"]) +
                                                        len(in_window["infrastructure"]))
            ours_per_point = track_bytes / max(1, pts_window)
            ours_per_incident = inc_bytes / max(1, n_inc)
            rows.append(Row("operations: first run, cold caches", cold, "naive folium GeoJSON build", naive_s,
                            f"naive/ours = {naive_s / cold:.1f}x"))
            note = (f"bytes/track point: ours {ours_per_point:.2f} vs naive {naive_per_feature:.0f} "
                    f"({naive_per_feature / max(ours_per_point, 1e-9):.0f}x less); bytes/incident: ours "
                    f"{ours_per_incident:.1f} vs naive {naive_per_feature:.0f}")
            rows.append(Row("map payload sent to the browser", sum(sent.values()) / 1e6, note=f"MB; {note}"))
        finally:
            if old is None:
                os.environ.pop("WATCHFLOOR_HOME", None)
            else:
                os.environ["WATCHFLOOR_HOME"] = old
    return table(f"Dashboard on the scale scenario ({sizes['track_points']:,} track points, "
                 f"{sizes['incidents']:,} incidents; medians of {repeats})", rows)
