"""Incidents near things that matter: critical infrastructure, partner units.

Distances are ellipsoidal metres, pyproj.Geod's to the last shown digit,
found through 3D chords and confirmed with Geod where it matters (see `_geo`),
so the answer is the same in Kosovo, on Svalbard and across the antimeridian.
50,000 incidents against 30,000 facilities take a fraction of a second, most
of it spent writing the 100,000 findings' text (in Arrow, see `_text`); `python
-m bench analysis` times it against a projected STRtree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from ingest.schema import SEVERITIES
from layers.analysis import _text
from layers.analysis._geo import (
    Targets,
    distance_text,
    first_text,
    pairs_within,
    place_text,
    subject_text,
    xy,
)
from layers.analysis.findings import Taken, empty_findings, findings_frame, json_columns

DEFAULT_KEY = "*"  # in a distances dict: the distance for kinds not listed


# Finds the pairs in the store instead (Store.near_pairs): (left layer, its records, right layer, its
# records, limit per right record) -> (left positions, right positions, metres), or None to do it here.
PairSearch = Callable[[str, gpd.GeoDataFrame, str, gpd.GeoDataFrame, np.ndarray],
                      "tuple[np.ndarray, np.ndarray, np.ndarray] | None"]


def incidents_near(incidents: gpd.GeoDataFrame, targets: gpd.GeoDataFrame, *,
                   distances_m: Mapping[str, float] | float, target_layer: str = "infrastructure",
                   rule: str | None = None, severity: str | Mapping[str, str] | None = None,
                   pair_search: PairSearch | None = None) -> gpd.GeoDataFrame:
    """One finding per (incident, target) pair closer than the target's distance.

    ``distances_m``: one distance for every target, or per target ``kind``
    (infrastructure), with an optional ``"*"`` entry for kinds not listed; a
    kind with no distance is not checked at all (so "other" can stay quiet).
    ``severity``: None keeps the incident's own severity (an explosion near a
    dam is as serious as the explosion); a string fixes it; a mapping gives it
    per target kind (falling back to the incident's).
    The key is rule + incident + target: the pair is the situation, whatever
    refresh finds it, and it has no time of its own beyond the incident's.
    ``pair_search`` finds the pairs where the records are kept (a database: `Store.near_pairs`)
    rather than here; the findings are built from its pairs and distances the same way.
    """
    rule = rule or ("incident_near_" + ("deployment" if target_layer == "deployments" else target_layer))
    if incidents is None or targets is None or incidents.empty or targets.empty:
        return empty_findings()
    targets = targets[~(targets.geometry.isna() | targets.geometry.is_empty)]
    if targets.empty:
        return empty_findings()
    kinds = (targets["kind"].astype(object).to_numpy() if "kind" in targets
             else np.full(len(targets), None, dtype=object))
    if isinstance(distances_m, Mapping):
        default = distances_m.get(DEFAULT_KEY)
        table = {k: float(v) for k, v in distances_m.items() if k != DEFAULT_KEY}
        limit = (pd.Series(kinds, dtype=object).map(table)
                 .fillna(np.nan if default is None else float(default)).to_numpy(dtype="float64"))
    else:
        limit = np.full(len(targets), float(distances_m))
    lon, lat = xy(incidents)
    found = pair_search("incidents", incidents, target_layer, targets, limit) if pair_search else None
    pi, tj, dist = found if found is not None else pairs_within(lon, lat, Targets(targets.geometry.values), limit)
    if len(pi) == 0:
        return empty_findings()

    # Text per feature once, then taken per pair and joined in Arrow: 100k pairs share 50k incidents.
    inc_subj = subject_text(incidents, "incidents")
    tgt_subj = subject_text(targets, target_layer)
    title = first_text(incidents, "title", "category", "source_id", default="incident")
    where = place_text(title, first_text(incidents, "location_name"), " (", ")")
    tname, tlabel = _target_labels(targets, target_layer)
    message = _text.join(_text.take(_text.join("Incident '", title, "' is "), pi), distance_text(dist),
                         _text.take(_text.join(" from ", tlabel), tj), _text.take(where, pi))
    inc_sev = incidents["severity"].astype(object).to_numpy() if "severity" in incidents else None
    tlon, tlat = xy(targets)
    detail_cols: dict[str, object] = {
        "distance_m": np.round(dist, 1),
        "threshold_m": Taken(limit, tj),
        "target_kind": Taken(kinds, tj) if "kind" in targets else np.full(len(tj), target_layer, dtype=object),
        "target_name": Taken(tname, tj),
        "target_lon": Taken(np.round(tlon, 6), tj),
        "target_lat": Taken(np.round(tlat, 6), tj),
    }
    if inc_sev is not None:
        detail_cols["incident_severity"] = Taken(inc_sev, pi)
    times = (incidents["occurred_at"].iloc[pi] if "occurred_at" in incidents
             else pd.Series(pd.NaT, index=range(len(pi))))
    return findings_frame(
        rule=rule, severity=_severities(severity, inc_sev, kinds, pi, tj), time=times,
        key=_text.join(_text.take(_text.join(rule + "|", inc_subj, "|"), pi), _text.take(tgt_subj, tj)),
        subjects=_text.join(_text.take(_text.join('["', _esc(inc_subj), '","'), pi),
                            _text.take(_text.join(_esc(tgt_subj), '"]'), tj)),
        message=message, details=json_columns(detail_cols), geometry=_points(incidents, pi, lon, lat),
    )


def _esc(values: pa.Array) -> pa.Array:
    """Escape for JSON string bodies (the subjects list is built without json.dumps for speed)."""
    return pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')


def _target_labels(tgt: gpd.GeoDataFrame, layer: str) -> tuple[pa.Array, pa.Array]:
    """(name, phrase) per target: "power plant 'Kosovo B'", "partner unit '1 RIFLES' (GBR)"."""
    if layer == "deployments":
        name = first_text(tgt, "unit_name", "source_id", default="unit")
        nation = first_text(tgt, "nation")
        known = pc.not_equal(nation, "")
        return name, _text.join("partner unit '", name, "'", pc.if_else(known, _text.join(" (", nation, ")"),
                                                                         pa.scalar("", _text.TEXT)))
    name = first_text(tgt, "name", "source_id", default="facility")
    kind = pc.replace_substring(first_text(tgt, "kind", default=layer), "_", " ")
    return name, _text.join(kind, " '", name, "'")


def _severities(severity: str | Mapping[str, str] | None, incident_severity: np.ndarray | None,
                kinds: np.ndarray, pi: np.ndarray, tj: np.ndarray) -> str | pa.Array:
    """Per pair: the incident's own severity (unknown ones count as medium), a fixed one, or one per
    target kind (falling back to the incident's)."""
    if isinstance(severity, str):
        return severity
    if incident_severity is None:
        own: pa.Array = _text.constant("medium", len(pi))
    else:
        known = pd.Series(incident_severity, dtype=object).isin(SEVERITIES).to_numpy()
        own = _text.take(_text.strings(np.where(known, incident_severity, "medium")), pi)
    if severity is None:
        return own
    per_kind = _text.strings([severity.get(k) if isinstance(k, str) else None for k in kinds.tolist()])
    return pc.coalesce(_text.take(per_kind, tj), own)


def _points(frame: gpd.GeoDataFrame, idx: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The findings' points: the incidents' own geometries when they are points (no copy of coordinates)."""
    g = np.asarray(frame.geometry.values)
    if (shapely.get_type_id(g) == 0).all():
        return np.asarray(g)[idx]
    return shapely.points(lon[idx], lat[idx])
