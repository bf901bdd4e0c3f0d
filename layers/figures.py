"""Key figures, the ticker and the charts' data: what a glance at the wall should tell."""

from __future__ import annotations

from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd

from ingest.schema import SEVERITIES


def key_figures(picture: dict[str, gpd.GeoDataFrame], now: datetime, feeds: pd.DataFrame | None = None,
                cards: pd.DataFrame | None = None) -> dict:
    """Incidents in the last 24 h by severity, active and stale tracks, stale feeds, units deployed;
    with triage ``cards`` (layers.triage), how many alert cards need action."""
    inc = picture.get("incidents", gpd.GeoDataFrame())
    recent = inc[inc["occurred_at"] >= pd.Timestamp(now) - pd.Timedelta(hours=24)] if not inc.empty else inc
    by_sev = {s: int((recent["severity"] == s).sum()) if not recent.empty else 0 for s in SEVERITIES}
    tracks = picture.get("tracks", gpd.GeoDataFrame())
    if tracks.empty:
        active = stale = 0
    else:
        is_stale = (tracks["stale_at"] < pd.Timestamp(now)).fillna(True)
        active, stale = int((~is_stale).sum()), int(is_stale.sum())
    dep = picture.get("deployments", gpd.GeoDataFrame())
    stale_feeds = 0
    if feeds is not None and not feeds.empty and "state" in feeds:
        stale_feeds = int(feeds["state"].isin(["stale", "failing"]).sum())
    alerts = picture.get("alerts", gpd.GeoDataFrame())
    open_alerts = alerts[alerts["state"] == "open"] if not alerts.empty else alerts
    return {
        "alerts_open": len(open_alerts),
        "alerts_critical": int((open_alerts["severity"] == "critical").sum()) if not open_alerts.empty else 0,
        "incidents_24h": len(recent),
        "incidents_by_severity": by_sev,
        "tracks_active": active,
        "tracks_stale": stale,
        "units": len(dep),
        "nations": int(dep["nation"].nunique()) if not dep.empty else 0,
        "personnel": int(dep["strength"].fillna(0).sum()) if not dep.empty else 0,
        "stale_feeds": stale_feeds,
        "feeds": 0 if feeds is None else len(feeds),
        "action_cards": 0 if cards is None or cards.empty else int(cards["needs_action"].astype(bool).sum()),
    }


def ticker(picture: dict[str, gpd.GeoDataFrame], now: datetime, limit: int = 12, *,
           with_alerts: bool = True) -> pd.DataFrame:
    """The newest events across layers as plain text lines (time, kind, severity, text), newest first;
    ``with_alerts=False`` leaves the alerts out (the wall shows them as triaged cards instead).

    Text is returned raw; whoever renders it must escape it (it comes from feeds)."""
    rows: list[pd.DataFrame] = []
    alerts = picture.get("alerts", gpd.GeoDataFrame()) if with_alerts else gpd.GeoDataFrame()
    if not alerts.empty:
        # The wall ticker carries what needs a person: medium and above (stale tracks are low).
        open_ = alerts[(alerts["state"] == "open") & alerts["severity"].isin(["medium", "high", "critical"])]
        rows.append(pd.DataFrame({"time": open_["time"], "kind": "alert", "severity": open_["severity"].astype(str),
                                  "text": "ALERT: " + open_["message"].astype(str)}))
    inc = picture.get("incidents", gpd.GeoDataFrame())
    if not inc.empty:
        title = inc["title"].fillna(inc["category"]).astype(str)
        place = inc["location_name"].fillna("").astype(str)
        rows.append(pd.DataFrame({"time": inc["occurred_at"], "kind": "incident",
                                  "severity": inc["severity"].astype(str),
                                  "text": np.where((place != "") & ~_contains(title, place), title + " — " + place,
                                                   title)}))
    tracks = picture.get("tracks", gpd.GeoDataFrame())
    if not tracks.empty:
        name = tracks["callsign"].fillna(tracks["track_id"]).astype(str)
        rows.append(pd.DataFrame({"time": tracks["first_seen"], "kind": "track", "severity": "",
                                  "text": "Track " + name + " appeared"}))
    img = picture.get("imagery", gpd.GeoDataFrame())
    if not img.empty:
        cloud = img["cloud_cover"].round().astype("Int64").astype(str)
        rows.append(pd.DataFrame({"time": img["acquired_at"], "kind": "imagery", "severity": "",
                                  "text": "New imagery: " + img["platform"].fillna("scene").astype(str)
                                  + " (" + cloud + "% cloud)"}))
    if not rows:
        return pd.DataFrame(columns=["time", "kind", "severity", "text"])
    out = pd.concat(rows, ignore_index=True)
    out = out[out["time"] <= pd.Timestamp(now)]
    return out.sort_values("time", ascending=False, kind="stable").head(limit).reset_index(drop=True)


def incidents_per_day(incidents: gpd.GeoDataFrame, borders: gpd.GeoDataFrame) -> pd.DataFrame:
    """Counts per UTC day by category and by region (the country each incident falls in)."""
    if incidents.empty:
        return pd.DataFrame(columns=["day", "category", "region", "count"])
    region = pd.Series("outside borders", index=incidents.index)
    if not borders.empty:
        hit = gpd.sjoin(incidents[["geometry"]], borders[["name", "geometry"]], predicate="within", how="left")
        hit = hit[~hit.index.duplicated()]
        region = hit["name"].fillna("outside borders").astype(str)
    frame = pd.DataFrame({"day": incidents["occurred_at"].dt.floor("D"), "category": incidents["category"].astype(str),
                          "region": region.values})
    return frame.groupby(["day", "category", "region"]).size().rename("count").reset_index()


def track_activity(tracks: gpd.GeoDataFrame, start: datetime, end: datetime, freq: str = "1h") -> pd.DataFrame:
    """Tracks airborne per interval: a track counts in every interval its [first, last] span touches."""
    bins = pd.date_range(pd.Timestamp(start).floor(freq), pd.Timestamp(end).ceil(freq), freq=freq)
    if tracks.empty or len(bins) < 2:
        return pd.DataFrame({"time": bins, "tracks": 0})
    first = tracks["first_seen"].to_numpy()
    last = tracks["last_seen"].to_numpy()
    lo, hi = bins[:-1].to_numpy(), bins[1:].to_numpy()
    counts = ((first[None, :] < hi[:, None]) & (last[None, :] >= lo[:, None])).sum(axis=1)
    return pd.DataFrame({"time": bins[:-1], "tracks": counts})


def imagery_timeline(imagery: gpd.GeoDataFrame) -> pd.DataFrame:
    if imagery.empty:
        return pd.DataFrame(columns=["acquired_at", "cloud_cover", "platform"])
    return pd.DataFrame({"acquired_at": imagery["acquired_at"], "cloud_cover": imagery["cloud_cover"],
                         "platform": imagery["platform"].fillna(imagery["collection"]).fillna("unknown").astype(str)})


def layer_health(stats: list, now: datetime, expected_minutes: dict[str, float] | None = None) -> pd.DataFrame:
    """Per layer: records, newest record, last write and how stale the newest record is. A layer
    with no expected refresh is 'reference' if it is reference data, else 'ok' (TAK drawings
    stand until redrawn)."""
    from ingest.schema import LAYERS

    expected_minutes = expected_minutes or {"track_points": 10, "tracks": 10, "incidents": 24 * 60,
                                            "imagery": 3 * 24 * 60, "deployments": 2 * 24 * 60}
    rows = []
    for s in stats:
        age = None if s.newest is None else (pd.Timestamp(now) - pd.Timestamp(s.newest))
        limit = expected_minutes.get(s.layer)
        stale = bool(limit is not None and (age is None or age > timedelta(minutes=limit)))
        rows.append({"layer": s.layer, "records": s.count, "newest": s.newest, "last write": s.last_write,
                     "age": _age_text(age),
                     "state": "stale" if stale else ("reference" if limit is None and (
                         s.layer not in LAYERS or LAYERS[s.layer].reference) else "ok")})
    return pd.DataFrame(rows)


def _age_text(age: pd.Timedelta | None) -> str:
    if age is None or pd.isna(age):
        return "—"
    minutes = int(age.total_seconds() // 60)
    if minutes < 0:
        return "future"
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} d"


def _contains(text: pd.Series, part: pd.Series) -> np.ndarray:
    return np.array([p in t for t, p in zip(text.tolist(), part.tolist())], dtype=bool)


def screen_marking(picture: dict[str, gpd.GeoDataFrame]) -> str:
    """The highest releasability marking of the records on screen, for the banners."""
    from ingest.markings import highest_marking
    from ingest.schema import LAYERS

    values: list = []
    for name, frame in picture.items():
        if name in LAYERS and frame is not None and not frame.empty and "marking" in frame:
            values += list(pd.unique(frame["marking"]))
    return highest_marking(values)


def visible_stats(stats: list, picture: dict[str, gpd.GeoDataFrame]) -> list:
    """Store statistics as a non-administrator may see them: counts and newest times from the
    records they may see in their picture (the store-wide numbers would tell them how much is
    hidden). Layers outside the picture (raw fixes) are left out; last-write times stay (they
    say when a table changed, not what it holds)."""
    from dataclasses import replace

    from ingest.schema import LAYERS

    out = []
    for s in stats:
        frame = picture.get(s.layer)
        if frame is None:
            continue
        col = LAYERS[s.layer].time_column
        newest = None
        if col and col in frame.columns and not frame.empty and frame[col].notna().any():
            newest = frame[col].max()
        out.append(replace(s, count=len(frame), newest=newest))
    return out


def marking_counts(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per layer: records, records with no marking, records whose marking cannot be read.
    Those are shown to administrators only until their source fixes them (layers/access/policy.py)."""
    from ingest.markings import parse_column

    rows = []
    for name, frame in frames.items():
        n = len(frame)
        if n == 0:
            rows.append({"layer": name, "records": 0, "missing marking": 0, "unreadable marking": 0})
            continue
        values = frame["marking"] if "marking" in frame.columns else pd.Series([None] * n)
        missing = values.isna() | (values.astype("string").str.strip() == "").fillna(True)
        parsed = parse_column(values)
        unreadable = parsed.unreadable & ~missing.to_numpy(dtype=bool)
        rows.append({"layer": name, "records": n, "missing marking": int(missing.sum()),
                     "unreadable marking": int(unreadable.sum())})
    return pd.DataFrame(rows)
