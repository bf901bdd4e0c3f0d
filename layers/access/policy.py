"""Who may see which record: the releasability model, applied per viewer.

Pure functions over frames and `Viewer` values, so every path (map, tooltip,
table, key figures, alerts, search, exports, shareable links) can call the
same code, and a shared cache can hold the unfiltered picture while each
session filters its own copy afterwards (shared/notes/security.md).

The rule (`may_see`), deny by default:

- a readable marking is visible when the viewer's clearance is at least its
  level AND (it is releasable to all partners OR the viewer's nation is in its
  REL TO list);
- a missing or unreadable marking is visible to administrators only (so they
  can find and fix it), and to nobody else;
- administrators get no other exception: an administrator cleared RESTRICTED
  does not see SECRET records, and a GBR administrator does not see USA-only
  records. Role 'analyst' sees exactly what 'viewer' does (roles decide what
  one may do, not what one may see).

Frames (`restrict`):

- a layer with a ``marking`` column is filtered row by row;
- a layer with a ``subjects`` column (alerts, findings such as hot spots) is
  filtered by `restrict_alerts`, whatever marking it carries: an alert is visible only if it
  names at least one subject and ALL its subjects are visible records, since
  its message and position describe them. Unparseable or empty subject lists,
  and subjects whose record is not known (neither in the picture nor in
  ``extra_subjects``), hide the alert from everyone, administrators included:
  an alert has no marking of its own that an administrator could fix;
  A visible alert leaves `restrict` with a ``marking`` column of its own: the
  `derived_text` of its subjects' markings (highest level, common REL TO, and
  "+ UNMARKED DATA PRESENT" when an administrator sees it over unmarked records),
  so banners and exports can carry it like any record's;
- any other layer has no marking at all, so it is treated as unmarked:
  administrators only.

Derived tracks (layer 'tracks', source 'derived'): a track is a record like
any other, visible exactly when its own marking is. That is only safe if the
track's marking is at least as restrictive as every fix it was built from:
its line, first_seen and point_count reveal all of them. ingest/tracks.py
therefore gives a track `ingest.markings.combine_markings` over its fixes
(highest level, intersected REL TO; nobody if any fix is unreadable).
tests/layers/access/test_policy.py checks that invariant.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from ingest.markings import (
    LEVELS,
    Marking,
    coalitions,
    derived_text,
    is_nation,
    level_of,
    parse_column,
    parse_marking,
    render_marking,
)

ROLES: tuple[str, ...] = ("viewer", "analyst", "administrator")
ADMIN = "administrator"

# What each role may DO (never what it may see: that is the marking's business). Every path that
# acts asks `require` here: the dashboard's pages and buttons, the CLI, the export API.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "analyse": ("analyst", ADMIN),           # the Analyst page: deep filters, playback, tables
    "export": ("analyst", ADMIN),            # files leave the dashboard (UI and `watchfloor export`)
    "acknowledge": ("analyst", ADMIN),       # acknowledge alerts (UI and `watchfloor alerts ack`)
    "draw_zone": ("analyst", ADMIN),         # store a drawn area as a restricted zone
    "manage_feeds": (ADMIN,),                # feed configuration and health details
    "see_quarantine": (ADMIN,),              # raw quarantined records were never checked for markings
}


@dataclass(frozen=True)
class Viewer:
    """A signed-in person, as far as visibility is concerned.

    ``nation``: ISO 3166-1 alpha-3 (or XKX). ``clearance``: a level name; abbreviations
    are accepted and stored canonically ('s' -> 'SECRET'). ``role``: one of ROLES.
    Invalid values raise ValueError here, so no half-valid viewer ever reaches a filter."""

    username: str
    nation: str
    clearance: str
    role: str = "viewer"
    display_name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.username, str) or not self.username:
            raise ValueError("viewer username: expected a non-empty string")
        if not is_nation(self.nation):
            raise ValueError(f"viewer {self.username!r} nation: expected an ISO 3166-1 alpha-3 code, "
                             f"found {self.nation!r}")
        level = level_of(self.clearance)
        if level is None:
            raise ValueError(f"viewer {self.username!r} clearance: expected one of {', '.join(LEVELS)}, "
                             f"found {self.clearance!r}")
        object.__setattr__(self, "clearance", LEVELS[level])
        if self.role not in ROLES:
            raise ValueError(f"viewer {self.username!r} role: expected one of {', '.join(ROLES)}, "
                             f"found {self.role!r}")

    @property
    def level(self) -> int:
        return LEVELS.index(self.clearance)

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


def may(viewer: Viewer, action: str) -> bool:
    """Whether ``viewer``'s role allows ``action`` (a key of PERMISSIONS; unknown actions: no)."""
    return isinstance(viewer, Viewer) and viewer.role in PERMISSIONS.get(action, ())


def require(viewer: Viewer, action: str) -> None:
    """Raise NotPermitted unless ``viewer`` may do ``action``."""
    if not may(viewer, action):
        from layers.access.errors import NotPermitted

        raise NotPermitted(getattr(viewer, "username", None), action, PERMISSIONS.get(action, ()))


def signature(viewer: Viewer) -> tuple[str, int, bool]:
    """Everything about a viewer that decides visibility: two viewers with equal signatures see
    exactly the same records, so a per-viewer cache may be keyed on this (not on the username)."""
    return (viewer.nation, viewer.level, viewer.is_admin)


def may_see(marking: Marking | str | None, viewer: Viewer) -> bool:
    """The rule in the module doc. Text is parsed first; anything unreadable is None."""
    if not isinstance(marking, Marking):
        marking = parse_marking(marking)
    if marking is None:
        return viewer.is_admin
    return viewer.level >= marking.level and (marking.rel_to is None or viewer.nation in marking.rel_to)


def releasable_mask(frame: pd.DataFrame, viewer: Viewer) -> np.ndarray:
    """Boolean per row: may ``viewer`` see it. Decided once per distinct marking.

    A frame without a ``marking`` column is unmarked: all False unless administrator."""
    if "marking" not in frame.columns:
        return np.full(len(frame), viewer.is_admin, dtype=bool)
    return parse_column(frame["marking"]).mask(lambda m: may_see(m, viewer))


def record_keys(layer: str, frame: pd.DataFrame) -> np.ndarray:
    """``"layer/source/source_id"`` per row: how alerts name their subjects (layers/analysis/findings.py).
    Rows missing either part get None, which matches no subject."""
    if "source" not in frame.columns or "source_id" not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    keys = f"{layer}/" + frame["source"].astype("string") + "/" + frame["source_id"].astype("string")
    return keys.to_numpy(dtype=object, na_value=None)


def _is_alert_like(frame: pd.DataFrame) -> bool:
    """Alerts and findings are judged by their subjects, even when an earlier `restrict` gave
    them a marking: so restricting twice gives what restricting once did."""
    return "subjects" in frame.columns


def restrict(picture: Mapping[str, gpd.GeoDataFrame], viewer: Viewer, *,
             extra_subjects: Mapping[str, object] | None = None) -> dict[str, gpd.GeoDataFrame]:
    """The picture as ``viewer`` may see it: every layer filtered (rules in the module doc).

    ``extra_subjects`` maps ``"layer/source/source_id"`` -> marking for records alerts may
    name that are not in the picture (outside the time window or map area); without it
    such alerts are hidden. A key that is in both and hidden in either stays hidden.
    Never mutates the input frames; a layer the viewer sees entirely is returned as is."""
    parsed = {n: _parse_subjects(f) for n, f in picture.items() if f is not None and _is_alert_like(f)}
    referenced = _referenced_subjects(parsed.values())
    out: dict[str, gpd.GeoDataFrame] = {}
    visible: set[str] = set()
    hidden: set[str] = set()
    marks: dict[str, object] = {}
    for name, frame in picture.items():
        if frame is None or name in parsed:
            continue
        mask = releasable_mask(frame, viewer)
        out[name] = frame if mask.all() else frame[mask]
        ids = referenced.get(name)
        if ids and "source_id" in frame.columns:
            # Build keys only for rows an alert may name: a million rows, a handful of subjects.
            rows = np.flatnonzero(frame["source_id"].isin(list(ids)).to_numpy(dtype=bool, na_value=False))
            keys = record_keys(name, frame.iloc[rows])
            values = (frame["marking"].iloc[rows].tolist() if "marking" in frame.columns
                      else [None] * len(rows))
            for key, ok, value in zip(keys.tolist(), mask[rows].tolist(), values):
                if key is not None:
                    (visible if ok else hidden).add(key)
                    marks[key] = value
    for key, marking in (extra_subjects or {}).items():
        (visible if may_see(marking if isinstance(marking, Marking) else parse_marking(marking), viewer)
         else hidden).add(key)
        marks.setdefault(key, render_marking(marking.level, marking.rel_to) if isinstance(marking, Marking)
                         else marking)
    visible -= hidden
    for name, subjects in parsed.items():
        out[name] = _filter_alerts(picture[name], subjects, visible, marks)
    return {name: out[name] for name in picture if name in out}


@dataclass(frozen=True)
class _Subjects:
    """An alert frame's subjects, each distinct value parsed once: ``codes`` per row index
    ``lists`` (-1: missing); a list is None when it cannot be read."""

    codes: np.ndarray
    lists: list[list[str] | None]


def _parse_subjects(alerts: pd.DataFrame) -> _Subjects:
    if "subjects" not in alerts.columns or alerts.empty:
        return _Subjects(np.full(len(alerts), -1, dtype=np.int64), [])
    codes, uniques = pd.factorize(alerts["subjects"].astype(object), use_na_sentinel=True)
    return _Subjects(np.asarray(codes, dtype=np.int64), [_subject_list(u) for u in uniques])


def _filter_alerts(alerts: gpd.GeoDataFrame, subjects: _Subjects, keys: set[str] | frozenset[str],
                   marks: Mapping[str, object] | None = None) -> gpd.GeoDataFrame:
    """Alerts whose every subject is in ``keys`` (and that name at least one). With ``marks``
    (key -> marking), each kept alert gets a ``marking``: the combination of its subjects'."""
    ok = np.fromiter((bool(items) and all(s in keys for s in items) for items in subjects.lists),
                     dtype=bool, count=len(subjects.lists))
    mask = np.where(subjects.codes >= 0, ok[np.maximum(subjects.codes, 0)] if len(ok) else False, False)
    kept = alerts if mask.all() else alerts[mask]
    if marks is None:
        return kept
    co = coalitions()  # once, not per alert: each lookup checks the site file
    combined = [derived_text([marks.get(s) for s in items], co) if good else None
                for items, good in zip(subjects.lists, ok.tolist())]
    out = kept.copy()
    out["marking"] = pd.array([combined[c] for c in subjects.codes[mask].tolist()], dtype="string")
    return out


def _referenced_subjects(parsed: Iterable[_Subjects]) -> dict[str, set[str]]:
    """layer -> every source_id an alert subject could stand for in that layer.

    A subject is "layer/source/source_id" and a source may itself hold '/', so every
    split point is a candidate; the exact key is compared afterwards."""
    out: dict[str, set[str]] = {}
    for subjects in parsed:
        for items in subjects.lists:
            for item in items or ():
                layer, sep, rest = item.partition("/")
                if not sep:
                    continue
                ids = out.setdefault(layer, set())
                pos = rest.find("/")
                while pos >= 0:
                    ids.add(rest[pos + 1:])
                    pos = rest.find("/", pos + 1)
    return out


def visible_keys(picture: Mapping[str, pd.DataFrame], viewer: Viewer) -> set[str]:
    """Keys of all the records ``viewer`` may see in a picture (alert-like layers ignored).
    Builds a key per row: for `restrict_alerts` outside `restrict`, on modest pictures."""
    keys: set[str] = set()
    for name, frame in picture.items():
        if frame is None or _is_alert_like(frame):
            continue
        mask = releasable_mask(frame, viewer)
        keys.update(k for k in record_keys(name, frame)[mask].tolist() if k is not None)
    return keys


def restrict_alerts(alerts: gpd.GeoDataFrame, visible_keys: Iterable[str]) -> gpd.GeoDataFrame:
    """Alerts whose every subject is in ``visible_keys`` (and that name at least one).

    ``subjects`` is a JSON list of "layer/source/source_id"; anything else (bad JSON, not
    a list, an empty list, non-text items, a missing value) hides the alert."""
    if alerts is None or alerts.empty:
        return alerts
    if "subjects" not in alerts.columns:
        return alerts.iloc[0:0]
    keys = visible_keys if isinstance(visible_keys, (set, frozenset)) else set(visible_keys)
    return _filter_alerts(alerts, _parse_subjects(alerts), keys)


def subject_items(subjects: object) -> list[str]:
    """The subjects of one alert, [] when they cannot be read."""
    return _subject_list(subjects) or []


def _subject_list(subjects: object) -> list[str] | None:
    """The subjects of one alert, or None when they cannot be read (then nobody sees it)."""
    if not isinstance(subjects, str):
        return None
    try:
        items = json.loads(subjects)
    except ValueError:
        return None
    if not isinstance(items, list) or not items or not all(isinstance(s, str) for s in items):
        return None
    return items
