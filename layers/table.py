"""Feature tables for the analyst: one row per feature, plain values, most useful columns first."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

TABLE_COLUMNS: dict[str, list[str]] = {
    "incidents": ["occurred_at", "severity", "status", "category", "subcategory", "title", "location_name",
                  "fatalities", "actors", "description", "source", "source_id", "marking"],
    "tracks": ["track_id", "callsign", "first_seen", "last_seen", "point_count", "last_speed_mps",
               "last_heading_deg", "last_altitude_m", "platform_type", "stale_at", "source", "marking"],
    "deployments": ["nation", "unit_name", "unit_type", "echelon", "strength", "symbol_code", "reported_at",
                    "source", "source_id", "marking"],
    "imagery": ["acquired_at", "platform", "collection", "cloud_cover", "gsd", "source_id", "source", "marking"],
    "infrastructure": ["kind", "name", "subkind", "code", "capacity", "country_code", "source", "marking"],
}


def feature_table(frame: gpd.GeoDataFrame, layer: str) -> pd.DataFrame:
    """The layer as a plain table with lon/lat of each feature's representative point."""
    cols = [c for c in TABLE_COLUMNS.get(layer, []) if c in frame]
    out = pd.DataFrame(frame[cols]).copy()
    if not frame.empty:
        pts = shapely.point_on_surface(frame.geometry.values)
        out["lon"] = shapely.get_x(pts).round(5)
        out["lat"] = shapely.get_y(pts).round(5)
    sort = next((c for c in ("occurred_at", "last_seen", "reported_at", "acquired_at") if c in out), None)
    if sort:
        out = out.sort_values(sort, ascending=False, kind="stable")
    return out.reset_index(drop=True)


def feature_details(frame: gpd.GeoDataFrame, layer: str, row: pd.Series) -> pd.DataFrame:
    """Every field of one feature as (field, value) text rows, for a details panel."""
    match = frame[(frame["source"] == row.get("source")) & (frame["source_id"] == row.get("source_id"))] \
        if "source_id" in row and "source" in row else frame.iloc[0:0]
    record = match.iloc[0] if len(match) else row
    items = [(k, "" if v is None or (not isinstance(v, (list, tuple)) and pd.isna(v)) else
              (v.wkt[:200] if isinstance(v, shapely.Geometry) else str(v))) for k, v in record.items()]
    return pd.DataFrame(items, columns=["field", "value"])


def quicklook(frame: gpd.GeoDataFrame, row: pd.Series) -> bytes | None:
    """The PNG quicklook of an imagery record, if one was made at ingest (rasters) and is still there.

    Only files under the quicklook folder are read: the path comes from the store, and a
    record must not be able to make the dashboard read an arbitrary file."""
    from ingest.config import home

    match = frame[(frame["source"] == row.get("source")) & (frame["source_id"] == row.get("source_id"))]
    if match.empty or "quicklook" not in match or pd.isna(match["quicklook"].iloc[0]):
        return None
    root = (home() / "quicklooks").resolve()
    path = (root / str(match["quicklook"].iloc[0])).resolve()
    if root not in path.parents or path.suffix.lower() != ".png" or not path.is_file():
        return None
    return path.read_bytes()


SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def alert_table(alerts: gpd.GeoDataFrame) -> pd.DataFrame:
    """Alerts as a table: open before acknowledged before resolved, most severe and newest first."""
    if alerts.empty:
        return pd.DataFrame(columns=["time", "severity", "state", "rule", "message", "acknowledged_by",
                                     "acknowledged_at", "first_seen", "key"])
    state_order = {"open": 0, "acknowledged": 1, "resolved": 2}
    t = pd.DataFrame(alerts[["time", "severity", "state", "rule", "message", "acknowledged_by", "acknowledged_at",
                             "first_seen", "key"]]).copy()
    t["rule"] = t["rule"].astype(str).str.replace("_", " ")
    order = t.assign(_s=t["state"].map(state_order).fillna(3), _v=t["severity"].map(SEVERITY_ORDER).fillna(4))
    return order.sort_values(["_s", "_v", "time"], ascending=[True, True, False], kind="stable") \
        .drop(columns=["_s", "_v"]).reset_index(drop=True)
