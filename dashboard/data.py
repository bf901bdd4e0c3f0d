"""Cached loaders shared by the pages.

`st.cache_resource` returns the one shared object (no copy: a cache_data hit
on a large GeoDataFrame costs a pickle round trip), so callers must never
mutate what they get; `layers.filters.apply_view` only selects. Keys include
the store tables' versions, so a write by a feed poller shows up on the next
rerun or refresh without any timer of ours.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import geopandas as gpd
import pandas as pd
import streamlit as st

from ingest.schema import LAYERS
from ingest.store import Store, open_store
from layers.filters import View, apply_view
from layers.picture import Window, load_picture, operational_bounds

# The standing picture covers the widest preset window; narrower windows filter it in memory.
STANDING_HOURS = 24 * 7


@st.cache_resource
def store() -> Store:
    return open_store()


def versions() -> tuple:
    s = store()
    return tuple(getattr(s, "version", lambda _l: 0)(name) for name in LAYERS)


@st.cache_resource(max_entries=4, ttl=3600)
def _standing(versions_key: tuple, hour: str) -> tuple[dict[str, gpd.GeoDataFrame], tuple | None]:
    s = store()
    end = pd.Timestamp(hour).to_pydatetime() + timedelta(hours=1)
    bounds = operational_bounds(s)
    return load_picture(s, Window(end - timedelta(hours=STANDING_HOURS + 1), end), bounds), bounds


@st.cache_resource(max_entries=8, ttl=600)
def _custom(versions_key: tuple, start: str, end: str) -> dict[str, gpd.GeoDataFrame]:
    s = store()
    return load_picture(s, Window(pd.Timestamp(start).to_pydatetime(), pd.Timestamp(end).to_pydatetime()),
                        operational_bounds(s))


def now() -> datetime:
    return datetime.now(timezone.utc)


def picture(view: View, at: datetime | None = None) -> tuple[dict[str, gpd.GeoDataFrame], tuple | None]:
    """The picture for `view`: cached standing data, filtered per viewer and per rerun."""
    at = at or now()
    v = versions()
    frames, bounds = _standing(v, at.replace(minute=0, second=0, microsecond=0).isoformat())
    start, end = view.span(at)
    if start < at - timedelta(hours=STANDING_HOURS):
        frames = _custom(v, pd.Timestamp(start).isoformat(), pd.Timestamp(end).isoformat())
    frames = {**frames, "alerts": alerts(at)}
    return apply_view(frames, view, at), bounds


@st.cache_resource(ttl=15)
def layer_stats(versions_key: tuple) -> list:
    s = store()
    return [s.stats(name) for name in LAYERS]


@st.cache_resource(ttl=15)
def feeds(versions_key: tuple, minute: str) -> pd.DataFrame:
    """Feed health with staleness recomputed from the clock (a dead runner's "ok" turns "stale")."""
    from ingest.feeds.health import feed_health

    return feed_health(store(), now())


feed_health = feeds


@st.cache_resource(ttl=15)
def quarantined(versions_key: tuple) -> pd.DataFrame:
    return store().quarantined(limit=5000)


def fingerprint(frame: gpd.GeoDataFrame) -> int:
    """Which rows a filtered frame holds (its index into the cached standing frame): cheap, and
    equal for equal selections, so a layer a filter did not touch is not rebuilt."""
    return int(pd.util.hash_array(frame.index.to_numpy()).sum()) ^ len(frame)


@st.cache_resource(max_entries=128, ttl=900)
def _layer(name: str, rows: int, versions_key: tuple, minute: str, zoom: float, max_points: int,
           _frame: gpd.GeoDataFrame, _at: datetime) -> list:
    from layers.map import build_layer

    return build_layer(name, _frame, _at, zoom=zoom, max_points=max_points)


@st.cache_resource(max_entries=32, ttl=900)
def _deck(key: tuple, _view: View, _at: datetime, layers: tuple, max_points: int, height: int):
    from layers.map import LAYER_SOURCE, MAP_LAYERS, build_deck, initial_view

    picture_, bounds = picture(_view, _at)
    initial = initial_view(_view.viewport, bounds)
    built: list = []
    v = versions()
    for name in MAP_LAYERS:
        source = LAYER_SOURCE.get(name, name)
        if name in layers and source in picture_:
            frame = picture_[source]
            built += _layer(name, fingerprint(frame), v, _at.isoformat(), round(initial.zoom, 1), max_points,
                            frame, _at)
    deck_ = build_deck(built, initial, height=height)
    deck_.to_json()  # encode once, here, not on every rerun that shows it
    return deck_


def deck(view: View, at: datetime, *, layers: tuple | None = None, max_points: int = 5_000, height: int = 700):
    """The map for `view`, built once per (view, minute, store version) and shared by every session
    that asks for the same view: a rerun that changes nothing else re-sends it without rebuilding."""
    minute = at.replace(second=0, microsecond=0)
    layers = tuple(layers if layers is not None else view.layers)
    key = (tuple(sorted(view.to_params().items())), minute.isoformat(), versions())
    return _deck(key, view, minute, layers, max_points, height)


@st.cache_resource(max_entries=4, ttl=900)
def _trips(versions_key: tuple, start: str, end: str) -> list[dict]:
    from layers.map.playback import trips

    points = store().read("track_points", start=pd.Timestamp(start), end=pd.Timestamp(end),
                          columns=["track_id", "time"])
    return trips(points, pd.Timestamp(start).to_pydatetime())


def trips(start: datetime, end: datetime) -> list[dict]:
    """Playback trips for the window, shared across sessions (rounded to the minute)."""
    s = pd.Timestamp(start).floor("min")
    e = pd.Timestamp(end).ceil("min")
    return _trips(versions(), s.isoformat(), e.isoformat())


def _alerts_version() -> tuple:
    s = store()
    return tuple(getattr(s, "version", lambda _l: 0)(t) for t in ("_alerts", "_alert_acks"))


@st.cache_resource(max_entries=2, ttl=600)
def _evaluate(bucket: str):
    """At most one evaluation per refresh interval per dashboard process (and none when a
    separate `watchfloor alerts run` process does it: `[alerts] evaluate_in_dashboard = false`)."""
    from layers.alerting import refresh_alerts

    return refresh_alerts(store())


@st.cache_resource(max_entries=4, ttl=600)
def _read_alerts(version_key: tuple) -> gpd.GeoDataFrame:
    return store().alerts(limit=5000)


def alerts(at: datetime | None = None) -> gpd.GeoDataFrame:
    """Alerts with their state and acknowledgement, as every viewer sees them."""
    from ingest.config import refresh_seconds, settings

    at = at or now()
    if settings().get("alerts", {}).get("evaluate_in_dashboard", True):
        period = max(30.0, refresh_seconds())
        _evaluate(str(int(at.timestamp() // period)))
    return _read_alerts(_alerts_version())


def acknowledge(key: str, by: str) -> bool:
    ok = store().acknowledge(key, by)
    return ok


def save_zone(name: str, wkt: str, by: str, marking: str | None) -> str:
    """Store a drawn area as a restricted zone; the next alert evaluation geofences it."""
    from ingest.pipeline import ingest_frame
    from layers.zones import ZONE_SOURCE, zone_frame

    summary = ingest_frame(store(), "infrastructure", zone_frame(name, wkt, by=by, now=now()), source=ZONE_SOURCE,
                           default_marking=marking)
    st.cache_resource.clear()  # the standing picture holds the infrastructure layer
    return summary.line()


@st.cache_resource(max_entries=2, ttl=300)
def _track_points(versions_key: tuple, start: str, end: str) -> gpd.GeoDataFrame:
    return store().read("track_points", start=pd.Timestamp(start), end=pd.Timestamp(end))


def track_points(start: datetime, end: datetime) -> gpd.GeoDataFrame:
    """Raw fixes for the window (exports write tracks as time-stamped tracks from them)."""
    return _track_points(versions(), pd.Timestamp(start).floor("min").isoformat(),
                         pd.Timestamp(end).ceil("min").isoformat())
