"""Cached loaders shared by the pages.

`st.cache_resource` returns the one shared object (no copy: a cache_data hit
on a large GeoDataFrame costs a pickle round trip), so callers must never
mutate what they get; `layers.filters.apply_view` only selects. Keys include
the store tables' versions, so a write by a feed poller shows up on the next
rerun or refresh without any timer of ours.

Releasability (layers/access/policy.py): the raw store reads (`_standing`, `_custom`,
`_read_alerts`, ...) are shared by every session and never returned to a page.
Everything a page gets has been through `layers.access.restrict` for the viewer,
in `_restricted` (the picture and its alerts), `_trips` and `_track_points`,
whose caches are keyed on `access.signature(viewer)` -- nation, clearance level,
administrator or not -- and computed from a stand-in viewer built from that
signature alone, so an entry can only ever hold what every viewer with that key
may see. Everything downstream (map layers, tooltips, tables, key figures,
ticker, exports) is built from those restricted frames, and its cache keys carry
the signature too.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import pandas as pd
import streamlit as st

from ingest.markings import LEVELS
from ingest.schema import LAYERS
from ingest.store import Store, open_store
from layers.access import ADMIN, Viewer, may, require, restrict, signature
from layers.filters import View, apply_view
from layers.picture import Window, as_seen_by, load_picture, operational_bounds, subject_markings

log = logging.getLogger("watchfloor.dashboard")

# The standing picture covers the widest preset window; narrower windows filter it in memory.
STANDING_HOURS = 24 * 7


@st.cache_resource
def store() -> Store:
    return open_store()


@st.cache_resource(ttl=1)
def _table_versions(names: tuple[str, ...]) -> tuple:
    """Store table versions, looked up at most once a second: a rerun asks for them a few dozen
    times (every cache key) and each lookup opens a table. Our own writes clear it at once."""
    s = store()
    return tuple(getattr(s, "version", lambda _l: 0)(name) for name in names)


def versions() -> tuple:
    return _table_versions(tuple(LAYERS))


@st.cache_resource(max_entries=4, ttl=3600)
def _standing(versions_key: tuple, hour: str) -> tuple[dict[str, gpd.GeoDataFrame], tuple | None]:
    s = store()
    end = pd.Timestamp(hour).to_pydatetime() + timedelta(hours=1)
    bounds = operational_bounds(s)
    return load_picture(s, Window(end - timedelta(hours=STANDING_HOURS + 1), end), bounds), bounds


@st.cache_resource(max_entries=8, ttl=600)
def _custom(versions_key: tuple, start: str, end: str) -> tuple[dict[str, gpd.GeoDataFrame], tuple | None]:
    s = store()
    bounds = operational_bounds(s)
    return load_picture(s, Window(pd.Timestamp(start).to_pydatetime(), pd.Timestamp(end).to_pydatetime()),
                        bounds), bounds


def now() -> datetime:
    return datetime.now(UTC)


Signature = tuple[str, int, bool]


def stand_in(sig: Signature) -> Viewer:
    """A viewer who sees exactly what every viewer with this signature sees, and nothing that
    could tell them apart: what a shared per-signature cache entry is computed for."""
    nation, level, admin = sig
    return Viewer("signature", nation, LEVELS[level], ADMIN if admin else "viewer")


def _source(view: View, at: datetime) -> tuple[str, ...]:
    """Which raw picture a view reads: the standing one (this hour) or a custom window's."""
    start, end = view.span(at)
    if start < at - timedelta(hours=STANDING_HOURS):
        return ("custom", pd.Timestamp(start).isoformat(), pd.Timestamp(end).isoformat())
    return ("standing", at.replace(minute=0, second=0, microsecond=0).isoformat())


def _raw(source: tuple[str, ...], v: tuple) -> tuple[dict[str, gpd.GeoDataFrame], tuple | None]:
    if source[0] == "custom":
        return _custom(v, source[1], source[2])
    return _standing(v, source[1])


@st.cache_resource(max_entries=4, ttl=600)
def _subjects(source: tuple, v: tuple, alerts_v: tuple, _picture: dict, _alerts: gpd.GeoDataFrame) -> dict:
    """Markings of the records alerts name that are outside this picture (older, or elsewhere)."""
    return subject_markings(store(), _alerts, _picture)


@st.cache_resource(max_entries=24, ttl=900)
def _restricted(source: tuple, v: tuple, alerts_v: tuple, sig: Signature) -> dict[str, gpd.GeoDataFrame]:
    """The one place the picture is filtered for a viewer, before any page or per-view cache sees
    it: every layer, and the alerts (shown only if all their subjects are visible; coverage gaps
    and hot spots evaluated over what the viewer may see: layers.picture.as_seen_by)."""
    frames, _ = _raw(source, v)
    alerts_ = _read_alerts(alerts_v)
    extra = _subjects(source, v, alerts_v, frames, alerts_)
    return as_seen_by({**frames, "alerts": alerts_}, stand_in(sig), rules=rules(), now=now(), extra_subjects=extra)


def picture(view: View, at: datetime | None = None, *, viewer: Viewer
            ) -> tuple[dict[str, gpd.GeoDataFrame], tuple | None]:
    """The picture for `view` as `viewer` may see it: the shared raw read, restricted per
    signature, then filtered by the view on each rerun."""
    at = at or now()
    ensure_evaluator()
    v = versions()
    source = _source(view, at)
    _, bounds = _raw(source, v)
    frames = _restricted(source, v, _alerts_version(), signature(viewer))
    return apply_view(frames, view, at), bounds


def visible_alerts(at: datetime, *, viewer: Viewer) -> gpd.GeoDataFrame:
    """Every alert `viewer` may see (not narrowed by the view's filters): the alert list."""
    at = at or now()
    ensure_evaluator()
    source = ("standing", at.replace(minute=0, second=0, microsecond=0).isoformat())
    return _restricted(source, versions(), _alerts_version(), signature(viewer))["alerts"]


@st.cache_resource(ttl=15)
def layer_stats(versions_key: tuple) -> list:
    """Whole-store statistics: administrators only (counts and newest times of every record)."""
    s = store()
    return [s.stats(name) for name in LAYERS]


@st.cache_resource(ttl=15)
def feeds(versions_key: tuple, minute: str) -> pd.DataFrame:
    """Feed health with staleness recomputed from the clock (a dead runner's "ok" turns "stale")."""
    from ingest.feeds.health import feed_health

    return feed_health(store(), now())


feed_health = feeds


def feeds_for(viewer: Viewer, at: datetime) -> pd.DataFrame:
    """Feed health as ``viewer`` may see it: a feed is named, and its state counted, only for those
    its marking (the feed's default marking) is releasable to; undeclared ones for administrators."""
    return restrict({"feeds": feeds(versions(), at.strftime("%H:%M"))}, viewer)["feeds"]


@st.cache_resource(ttl=15)
def quarantined(versions_key: tuple) -> pd.DataFrame:
    """Raw quarantined records (never marked as read: administrators only)."""
    return store().quarantined(limit=5000)


@st.cache_resource(ttl=60)
def marking_health(versions_key: tuple) -> pd.DataFrame:
    """Per layer: records stored, with a missing marking, with an unreadable one. Counts only."""
    from layers.figures import marking_counts

    return marking_counts({name: store().read(name, columns=["marking"]) for name in LAYERS})


def fingerprint(frame: gpd.GeoDataFrame) -> int:
    """Which rows a filtered frame holds (its index into the cached standing frame): cheap, and
    equal for equal selections, so a layer a filter did not touch is not rebuilt."""
    return int(pd.util.hash_array(frame.index.to_numpy()).sum()) ^ len(frame)


@st.cache_resource(max_entries=128, ttl=900)
def _layer(name: str, rows: int, source: tuple, sig: Signature, versions_key: tuple, minute: str, zoom: float,
           max_points: int, triage: tuple, _frame: gpd.GeoDataFrame, _at: datetime) -> list:
    from layers.map.deck import build_layer

    return build_layer(name, _frame, _at, zoom=zoom, max_points=max_points, triage=dict(triage))


@st.cache_resource(max_entries=32, ttl=900)
def _deck(key: tuple, _view: View, _at: datetime, layers: tuple, max_points: int, height: int, _viewer: Viewer):
    from layers.map.deck import LAYER_SOURCE, MAP_LAYERS, build_deck, initial_view

    picture_, bounds = picture(_view, _at, viewer=_viewer)
    initial = initial_view(_view.viewport, bounds)
    built: list = []
    v, alerts_v = versions(), _alerts_version()
    source, sig = _source(_view, _at), signature(_viewer)
    for name in MAP_LAYERS:
        origin = LAYER_SOURCE.get(name, name)
        if name in layers and origin in picture_:
            frame = picture_[origin]
            # a new evaluation changes the alerts, not the other layers: only the rings are rebuilt
            key_v = (*v, alerts_v) if origin == "alerts" else v
            built += _layer(name, fingerprint(frame), source, sig, key_v, _at.isoformat(), round(initial.zoom, 1),
                            max_points, rules().triage if origin == "alerts" else (), frame, _at)
    deck_ = build_deck(built, initial, height=height)
    deck_.to_json()  # encode once, here, not on every rerun that shows it
    return deck_


# A wall's map may lag its clock by this much while the next minute's map is built (see `deck`).
STALE_MAP_MINUTES = 2
# Maps remembered, one per (view, layers, size, signature): the newest built for it.
REMEMBERED_MAPS = 32


@st.cache_resource
def _maps() -> dict:
    """The newest map built for each (view, layers, size, signature), with the data versions and
    minute it was built for, and the builds under way in the background."""
    return {"lock": threading.Lock(), "newest": OrderedDict(), "building": set()}


def deck(view: View, at: datetime, *, viewer: Viewer, layers: tuple | None = None, max_points: int = 5_000,
         height: int = 700):
    """The map for `view` as `viewer` may see it, built once per (view, minute, store version,
    viewer signature) and shared by every session with that signature and view.

    A map depends on the minute only through the sliding window and the tracks' ages: with the same
    view, data and signature, the map of a minute or two ago is the right picture but for that.
    So when the minute turns, the refresh shows the previous minute's map at once and the new one
    is built in a background thread for the next refresh: at the scale scenario a full rebuild is
    seconds, and no refresh of the wall waits for it (issue 13). A new view, new data, another
    signature or an older map are built before they are shown, as before: a filter change or a
    feed's new records never show an old picture, and nothing built for one signature is ever
    shown to another."""
    minute = at.replace(second=0, microsecond=0)
    ensure_evaluator()
    layers = tuple(layers if layers is not None else view.layers)
    which = (tuple(sorted(view.to_params().items())), signature(viewer), layers, max_points, height)
    data = (versions(), _alerts_version())
    state = _maps()
    with state["lock"]:
        newest = state["newest"].get(which)
        stale = newest is not None and newest[0] == data and \
            timedelta(0) < minute - newest[1] <= timedelta(minutes=STALE_MAP_MINUTES)
        if stale and (which, data, minute) not in state["building"]:
            state["building"].add((which, data, minute))
            threading.Thread(target=_build_in_background, args=(state, which, data, minute, view, viewer),
                             daemon=True, name="watchfloor-map").start()
    if stale:
        return newest[2]
    deck_ = _build(which, data, minute, view, viewer)
    _remember(state, which, data, minute, deck_)
    return deck_


def _build(which: tuple, data: tuple, minute: datetime, view: View, viewer: Viewer):
    params, sig, layers, max_points, height = which
    return _deck((params, minute.isoformat(), *data, sig), view, minute, layers, max_points, height, viewer)


def _build_in_background(state: dict, which: tuple, data: tuple, minute: datetime, view: View,
                         viewer: Viewer) -> None:
    try:
        _remember(state, which, data, minute, _build(which, data, minute, view, viewer), background=True)
    except Exception:
        log.exception("the map for %s could not be built; the previous one stays shown", minute.isoformat())
    finally:
        with state["lock"]:
            state["building"].discard((which, data, minute))


def _remember(state: dict, which: tuple, data: tuple, minute: datetime, deck_, *, background: bool = False) -> None:
    """Keep ``deck_`` as the newest map for ``which``. A rerun's map is the newest by definition; a
    background build is kept only if no rerun kept a map of other data or a later minute meanwhile."""
    with state["lock"]:
        newest = state["newest"].get(which)
        if not background or newest is None or (newest[0] == data and newest[1] <= minute):
            state["newest"][which] = (data, minute, deck_)
            state["newest"].move_to_end(which)
            while len(state["newest"]) > REMEMBERED_MAPS:
                state["newest"].popitem(last=False)


@st.cache_resource(max_entries=2)
def _rules(stamp: tuple):
    from layers.alerts import load_rules

    return load_rules()


def rules():
    """The alert rules in force (bundled defaults under the site's alerts.toml), read again when
    the site file changes: a watch officer's new triage settings show on the next refresh."""
    from ingest.config import home
    from layers.alerts import FILE_NAME

    try:
        st_ = (home() / FILE_NAME).stat()
        stamp = (st_.st_mtime_ns, st_.st_size)
    except FileNotFoundError:
        stamp = (0, 0)
    return _rules(stamp)


@st.cache_resource(max_entries=32, ttl=900)
def _cards(rows: int, sig: Signature, alerts_v: tuple, settings: tuple, _alerts: gpd.GeoDataFrame) -> pd.DataFrame:
    from layers.triage import triage

    return triage(_alerts, dict(settings))


def cards(picture: dict[str, gpd.GeoDataFrame], *, viewer: Viewer) -> pd.DataFrame:
    """The picture's open alerts as triaged cards (layers/triage.py), built once per selection of
    alerts and viewer signature: what needs a person first, grouped, information after."""
    alerts = picture.get("alerts")
    if alerts is None or alerts.empty:
        from layers.triage import empty_cards

        return empty_cards()
    return _cards(fingerprint(alerts), signature(viewer), _alerts_version(), rules().triage, alerts)


@st.cache_resource(max_entries=8, ttl=900)
def _trips(versions_key: tuple, start: str, end: str, sig: Signature) -> list[dict]:
    from layers.map.deck.playback import trips

    points = store().read("track_points", start=pd.Timestamp(start), end=pd.Timestamp(end),
                          columns=["track_id", "time", "marking"])
    points = restrict({"track_points": points}, stand_in(sig))["track_points"]
    return trips(points, pd.Timestamp(start).to_pydatetime())


def trips(start: datetime, end: datetime, *, viewer: Viewer) -> list[dict]:
    """Playback trips for the window from the fixes `viewer` may see (rounded to the minute)."""
    s = pd.Timestamp(start).floor("min")
    e = pd.Timestamp(end).ceil("min")
    return _trips(versions(), s.isoformat(), e.isoformat(), signature(viewer))


def _alerts_version() -> tuple:
    return _table_versions(("_alerts", "_alert_acks"))


@st.cache_resource(max_entries=4, ttl=600)
def _read_alerts(version_key: tuple) -> gpd.GeoDataFrame:
    return store().alerts(limit=5000)


@st.cache_resource
def _evaluator() -> dict:
    """This server's alert evaluator child (layers/alerts/background.py), shared by every session,
    and when it may be started again if it stopped."""
    return {"lock": threading.Lock(), "process": None, "not_before": 0.0}


def ensure_evaluator() -> None:
    """Have this server's alert evaluator running: a child process that evaluates the rules every
    refresh interval (30 s at least) while it holds the store's alerts lease and stands by while
    another process (`watchfloor alerts run`, another dashboard) holds it. No page run ever waits
    for an evaluation: they read the alerts the store holds. Nothing at all when told so
    (`watchfloor up` sets WATCHFLOOR_ALERTS_IN_DASHBOARD=0; or `[alerts] evaluate_in_dashboard =
    false`), nor on a PostGIS reader login (`Store.scoped`). A child that stopped is started
    again, once a minute at most."""
    import os
    import time

    from ingest.config import refresh_seconds, settings

    if os.environ.get("WATCHFLOOR_ALERTS_IN_DASHBOARD") == "0" or \
            not settings().get("alerts", {}).get("evaluate_in_dashboard", True) or store().scoped():
        return  # a reader login sees part of the records: evaluating on them would resolve the rest
    state = _evaluator()
    with state["lock"]:
        process = state["process"]
        if process is not None and process.is_alive():
            return
        if time.monotonic() < state["not_before"]:
            return
        if process is not None:
            log.warning("alert evaluation: the evaluator (pid %s) stopped with exit code %s; starting another",
                        process.pid, process.exitcode)
        from layers.alerts.background import start

        state["process"] = start(refresh_seconds())
        state["not_before"] = time.monotonic() + 60.0


def acknowledge(keys: list[str], *, viewer: Viewer, at: datetime) -> int:
    """Acknowledge, in the signed-in person's name, those of `keys` they may see and act on."""
    if not may(viewer, "acknowledge"):
        return 0
    allowed = set(visible_alerts(at, viewer=viewer)["key"].astype(str))
    by = f"{viewer.display_name or viewer.username} ({viewer.username}, {viewer.nation})"
    done = sum(store().acknowledge(k, by) for k in keys if k in allowed)
    _table_versions.clear()
    return done


def save_zone(name: str, wkt: str, *, viewer: Viewer, marking: str) -> str:
    """Store a drawn area as a restricted zone; the next alert evaluation geofences it.

    The marking must be readable and one the author may see: nobody can create a record
    they would not be shown (layers/zones.py: zone_marking_error)."""
    from ingest.pipeline import ingest_frame
    from layers.zones import ZONE_SOURCE, zone_frame, zone_marking_error

    require(viewer, "draw_zone")
    problem = zone_marking_error(marking, viewer)
    if problem:
        raise ValueError(problem)
    summary = ingest_frame(store(), "infrastructure", zone_frame(name, wkt, by=viewer.username, now=now()),
                           source=ZONE_SOURCE, default_marking=marking)
    st.cache_resource.clear()  # the standing picture holds the infrastructure layer
    return summary.line()


@st.cache_resource(max_entries=4, ttl=300)
def _track_points(versions_key: tuple, start: str, end: str, sig: Signature) -> gpd.GeoDataFrame:
    points = store().read("track_points", start=pd.Timestamp(start), end=pd.Timestamp(end))
    return restrict({"track_points": points}, stand_in(sig))["track_points"]


def track_points(start: datetime, end: datetime, *, viewer: Viewer) -> gpd.GeoDataFrame:
    """The fixes `viewer` may see in the window (exports write tracks as time-stamped tracks)."""
    return _track_points(versions(), pd.Timestamp(start).floor("min").isoformat(),
                         pd.Timestamp(end).ceil("min").isoformat(), signature(viewer))
