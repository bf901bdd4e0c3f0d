"""Run the alert rules over the picture: `evaluate` is pure, the picture in, findings out;
`findings_as_alerts` gives findings evaluated for one viewer the shape of stored alerts.

The rules come normalised from `layers.alerts.rules`; each rule is one function of
`layers.analysis`. Keeping alerts and acknowledgements is the store's job
(Store.put_alerts / alerts / acknowledge), driven by `layers.alerts.refresh`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd

from ingest.schema import CRS
from layers.alerts.rules import RULE_NAMES, Rules, Zone
from layers.analysis.coverage import coverage_gaps
from layers.analysis.findings import concat_findings, empty_findings
from layers.analysis.geofence import Fixes, area_entries, border_crossings, loitering, prepare_fixes
from layers.analysis.hotspots import hotspots
from layers.analysis.proximity import PairSearch, incidents_near
from layers.analysis.staleness import stale_deployments, stale_tracks


def zones_frame(zones: tuple[Zone, ...]) -> gpd.GeoDataFrame:
    """Config and analyst zones as an area layer: source "config", source_id the zone's name."""
    return gpd.GeoDataFrame({"source": ["config"] * len(zones), "source_id": [z.name for z in zones],
                             "name": [z.name for z in zones]},
                            geometry=gpd.GeoSeries([z.geometry for z in zones], crs=CRS), crs=CRS)


def findings_as_alerts(findings: gpd.GeoDataFrame, stored: pd.DataFrame, now: datetime) -> gpd.GeoDataFrame:
    """Findings evaluated for one viewer, as `Store.alerts` rows: live ("open"), or "acknowledged"
    when someone acknowledged that key; first seen when the store first saw the key, else now."""
    from ingest.store.base import ALERT_COLUMNS

    out = findings.reset_index(drop=True).copy()
    known = stored.drop_duplicates("key").set_index("key") if not stored.empty else None
    keys = out["key"].astype(str)

    def column(name: str, default: object) -> pd.Series:
        if known is None or name not in known:
            return pd.Series([default] * len(out), dtype=object)
        return keys.map(known[name]).astype(object).where(keys.isin(known.index), default)

    stamp = pd.Timestamp(now)
    out["first_seen"] = pd.to_datetime(column("first_seen", stamp), utc=True)
    out["last_seen"] = stamp
    out["acknowledged_by"] = column("acknowledged_by", None)
    out["acknowledged_at"] = pd.to_datetime(column("acknowledged_at", pd.NaT), utc=True)
    out["state"] = np.where(out["acknowledged_at"].notna(), "acknowledged", "open")
    return gpd.GeoDataFrame(out[ALERT_COLUMNS], geometry="geometry", crs=CRS)


def _of_categories(incidents: gpd.GeoDataFrame, categories: tuple[str, ...]) -> gpd.GeoDataFrame:
    """The incidents of the listed categories (case-insensitive); all of them when none are listed."""
    if not categories:
        return incidents
    wanted = {c.lower() for c in categories}
    return incidents[incidents["category"].astype("string").str.lower().isin(wanted).fillna(False).to_numpy()]


def tak_geofences(overlays: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """The TAK drawings marked as geofences that fire on entry (trigger Entry, Both or not given),
    polygons only, named by their label: the restricted zones TAK users drew."""
    if overlays is None or overlays.empty or "geofence" not in overlays:
        return None
    fence = overlays["geofence"].fillna(False).astype(bool).to_numpy().copy()
    trigger = overlays.get("geofence_trigger")
    if trigger is not None:
        fence &= ~trigger.astype("string").str.strip().str.lower().eq("exit").fillna(False).to_numpy(dtype=bool)
    fence &= overlays.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    fences = overlays[fence]
    return fences.assign(name=fences["label"]) if "label" in fences else fences


def evaluate(picture: Mapping[str, gpd.GeoDataFrame], rules: Rules, now: datetime, *,
             track_points: gpd.GeoDataFrame | Fixes | None = None,
             only: tuple[str, ...] | None = None, pair_search: PairSearch | None = None) -> gpd.GeoDataFrame:
    """Run every enabled rule over the picture; all findings, de-duplicated by key, newest first.

    ``picture`` is `layers.picture.load_picture`'s dict (incidents, tracks,
    imagery, deployments, borders, disputed_areas, infrastructure). Track fixes
    are not part of the picture (too many to hold for the map), so the
    geofencing rules run only when ``track_points`` is given (or the picture
    has a "track_points" entry); they are sorted once and shared by the three
    rules. Pure: nothing is read or written, and the same inputs give the same
    findings with the same keys. ``only`` runs just the named rules. ``pair_search`` lets the
    store find the incidents near facilities and units (layers/alerts/refresh.py); ``track_points``
    may be the store's selection of the fixes that matter (`Store.geofence_fixes`).
    """
    if only is not None:
        rules = replace(rules, **{name: replace(getattr(rules, name), enabled=False)
                                  for name in RULE_NAMES if name not in only})

    def layer(name: str) -> gpd.GeoDataFrame | None:
        f = picture.get(name)
        return f if f is not None and not f.empty else None

    incidents, infra = layer("incidents"), layer("infrastructure")
    parts: list[gpd.GeoDataFrame] = []
    r = rules
    if r.incident_near_infrastructure.enabled and incidents is not None and infra is not None:
        watched = _of_categories(incidents, r.incident_near_infrastructure.categories)
        parts.append(incidents_near(watched, infra, distances_m=r.incident_near_infrastructure.distances,
                                    target_layer="infrastructure", rule="incident_near_infrastructure",
                                    severity=r.incident_near_infrastructure.severity, pair_search=pair_search))
    if r.incident_near_deployment.enabled and incidents is not None and layer("deployments") is not None:
        parts.append(incidents_near(_of_categories(incidents, r.incident_near_deployment.categories),
                                    layer("deployments"),
                                    distances_m=r.incident_near_deployment.distance_m, target_layer="deployments",
                                    rule="incident_near_deployment", severity=r.incident_near_deployment.severity,
                                    pair_search=pair_search))
    if r.coverage_gap.enabled and incidents is not None:
        parts.append(coverage_gaps(incidents, layer("imagery"), max_cloud=r.coverage_gap.max_cloud,
                                   min_severity=r.coverage_gap.min_severity, severity=r.coverage_gap.severity))
    if r.stale_track.enabled:
        parts.append(stale_tracks(layer("tracks"), now, max_age=timedelta(seconds=r.stale_track.max_age_s),
                                  severity=r.stale_track.severity))
    if r.stale_deployment.enabled:
        parts.append(stale_deployments(layer("deployments"), now,
                                       max_age=timedelta(seconds=r.stale_deployment.max_age_s),
                                       severity=r.stale_deployment.severity))
    if r.hotspot.enabled and incidents is not None:
        h = r.hotspot
        parts.append(hotspots(incidents, now, window=timedelta(seconds=h.window_s), resolution=h.resolution,
                              min_score=h.min_score, min_count=h.min_count, severity=h.severity))

    points = track_points if track_points is not None else picture.get("track_points")
    geofencing = (r.border_crossing.enabled or r.disputed_area_entry.enabled or r.restricted_zone_entry.enabled
                  or r.loitering.enabled)
    fixes = prepare_fixes(points) if geofencing and points is not None else None
    if fixes is not None and len(fixes):
        if r.border_crossing.enabled:
            parts.append(border_crossings(fixes, layer("borders"), severity=r.border_crossing.severity))
        if r.disputed_area_entry.enabled:
            parts.append(area_entries(fixes, layer("disputed_areas"), rule="disputed_area_entry",
                                      severity=r.disputed_area_entry.severity, layer="disputed_areas",
                                      label="disputed area"))
        if r.restricted_zone_entry.enabled:
            rz = r.restricted_zone_entry
            if rz.include_infrastructure and infra is not None and "kind" in infra:
                zones = infra[(infra["kind"] == "restricted_zone").fillna(False).to_numpy()
                              & infra.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()]
                parts.append(area_entries(fixes, zones, rule="restricted_zone_entry", severity=rz.severity,
                                          layer="infrastructure", label="restricted zone"))
            if rz.zones:
                parts.append(area_entries(fixes, zones_frame(rz.zones), rule="restricted_zone_entry",
                                          severity=rz.severity, layer="zones", label="restricted zone"))
            fences = tak_geofences(layer("overlays")) if rz.include_tak_geofences else None
            if fences is not None and len(fences):
                parts.append(area_entries(fixes, fences, rule="restricted_zone_entry", severity=rz.severity,
                                          layer="overlays", label="TAK geofence"))
        if r.loitering.enabled and infra is not None:
            lt = r.loitering
            targets = infra
            if lt.kinds and "kind" in infra:
                targets = infra[infra["kind"].isin(lt.kinds).fillna(False).to_numpy()]
            parts.append(loitering(fixes, targets, radius_m=lt.radius_m, min_dwell_s=lt.min_dwell_s,
                                   max_gap_s=lt.max_gap_s, severity=lt.severity))
    return concat_findings(parts) if parts else empty_findings()
