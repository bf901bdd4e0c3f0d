"""Staleness: tracks that stopped reporting, partner units whose position is old.

A stale track on a wall screen looks exactly like a live one; a unit symbol
from three days ago looks like a unit that is there now. Both are findings so
they reach the alert list rather than relying on someone noticing a faded icon.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd

from ingest.tracks import DEFAULT_STALE_AFTER
from layers.analysis._geo import fmt_duration, subject_ids, text_column, xy
from layers.analysis.findings import (
    empty_findings,
    findings_frame,
    iso_series,
    json_columns,
    json_lists,
)


def stale_tracks(tracks: gpd.GeoDataFrame | None, now: datetime, *,
                 max_age: timedelta = DEFAULT_STALE_AFTER, severity: str = "low",
                 rule: str = "stale_track") -> gpd.GeoDataFrame:
    """One finding per track whose stale time has passed at ``now``.

    The stale time is the track's ``stale_at`` (CoT stale, or set at ingest),
    else ``last_seen + max_age``. ``time`` is that stale time (when it went
    stale); the key is rule + track + its last fix time, so a track that
    reports again and then goes quiet again is a new finding.
    """
    if tracks is None or tracks.empty:
        return empty_findings()
    now_ts = pd.Timestamp(now)
    last = pd.to_datetime(tracks["last_seen"], utc=True)
    stale_at = (pd.to_datetime(tracks["stale_at"], utc=True) if "stale_at" in tracks
                else pd.Series(pd.NaT, index=tracks.index, dtype="datetime64[us, UTC]"))
    stale_at = stale_at.fillna(last + pd.Timedelta(max_age))
    hit = (stale_at < now_ts).to_numpy() & last.notna().to_numpy()
    if not hit.any():
        return empty_findings()
    t = tracks[hit]
    last, stale_at = last[hit].reset_index(drop=True), stale_at[hit].reset_index(drop=True)
    subj = subject_ids(t, "tracks")
    name = text_column(t, "callsign", "track_id", "source_id", default="track")
    age = (now_ts - last).dt.total_seconds().to_numpy()
    if {"last_lon", "last_lat"} <= set(t.columns):
        lon = t["last_lon"].astype("float64").to_numpy()
        lat = t["last_lat"].astype("float64").to_numpy()
        miss = ~(np.isfinite(lon) & np.isfinite(lat))
        if miss.any():
            glon, glat = xy(t)
            lon[miss], lat[miss] = glon[miss], glat[miss]
    else:
        lon, lat = xy(t)
    message = ("Track '" + name + "' is stale: last fix " + np.array([fmt_duration(a) for a in age], dtype=object)
               + " ago (" + last.dt.strftime("%d %b %H:%M UTC").to_numpy(dtype=object) + ")")
    last_iso = iso_series(last)
    return findings_frame(
        rule=rule, severity=severity, time=stale_at, key=(rule + "|" + subj + "|" + last_iso.to_numpy(dtype=object)
                                                         ).tolist(),
        subjects=json_lists(subj), message=message.tolist(),
        details=json_columns({"last_seen": last_iso, "stale_at": iso_series(stale_at), "age_s": np.round(age, 1),
                              "track_id": text_column(t, "track_id", "source_id")}),
        lon=lon, lat=lat,
    )


def stale_deployments(deployments: gpd.GeoDataFrame | None, now: datetime, *, max_age: timedelta,
                      severity: str = "medium", rule: str = "stale_deployment") -> gpd.GeoDataFrame:
    """One finding per partner unit whose last report is older than ``max_age`` (or past its ``stale_at``).

    ``time`` is when the report went stale (the earlier of stale_at and
    reported_at + max_age); the key is rule + unit + its report time, so a new
    report clears it and a later silence is a new finding.
    """
    if deployments is None or deployments.empty:
        return empty_findings()
    now_ts = pd.Timestamp(now)
    reported = pd.to_datetime(deployments["reported_at"], utc=True)
    by_age = reported + pd.Timedelta(max_age)
    if "stale_at" in deployments:
        declared = pd.to_datetime(deployments["stale_at"], utc=True)
        went = pd.concat([by_age, declared], axis=1).min(axis=1)
    else:
        went = by_age
    hit = (went < now_ts).to_numpy() & reported.notna().to_numpy()
    if not hit.any():
        return empty_findings()
    d = deployments[hit]
    reported, went = reported[hit].reset_index(drop=True), pd.to_datetime(went[hit], utc=True).reset_index(drop=True)
    subj = subject_ids(d, "deployments")
    unit = text_column(d, "unit_name", "source_id", default="unit")
    nation = text_column(d, "nation")
    age = (now_ts - reported).dt.total_seconds().to_numpy()
    message = ("Partner unit '" + unit + "'" + np.where(nation != "", " (" + nation + ")", "")
               + " last reported its position " + np.array([fmt_duration(a) for a in age], dtype=object) + " ago")
    rep_iso = iso_series(reported)
    lon, lat = xy(d)
    return findings_frame(
        rule=rule, severity=severity, time=went, key=(rule + "|" + subj + "|" + rep_iso.to_numpy(dtype=object)
                                                     ).tolist(),
        subjects=json_lists(subj), message=message.tolist(),
        details=json_columns({"reported_at": rep_iso, "age_s": np.round(age, 1),
                              "max_age_s": np.full(len(d), pd.Timedelta(max_age).total_seconds()),
                              "nation": nation, "unit_name": unit}),
        lon=lon, lat=lat,
    )
