"""A drawn restricted zone is stored as a shared record and the restricted-zone rule geofences it."""

from __future__ import annotations

from datetime import datetime, timezone

import geopandas as gpd
import pandas as pd
import shapely

from ingest.pipeline import ingest_frame
from layers.alerts import evaluate, load_rules
from layers.zones import ZONE_SOURCE, zone_frame

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
BOX = "POLYGON ((21.10 42.60, 21.20 42.60, 21.20 42.70, 21.10 42.70, 21.10 42.60))"


def test_a_drawn_zone_is_stored_once_and_raises_an_entry_alert(store):
    for _ in range(2):
        s = ingest_frame(store, "infrastructure", zone_frame("Camp exclusion", BOX, by="J3", now=NOW),
                         source=ZONE_SOURCE, default_marking="UNCLASSIFIED")
        assert s.quarantined == 0
    zones = store.read("infrastructure", where={"kind": "restricted_zone"})
    assert len(zones) == 1 and zones["name"].iloc[0] == "Camp exclusion"
    # A drone flying west to east through the box.
    times = pd.date_range(NOW - pd.Timedelta(minutes=10), periods=11, freq="1min")
    fixes = gpd.GeoDataFrame({"track_id": "uav-9", "time": times, "source": "t", "source_id": [str(i) for i in
                              range(11)], "marking": "UNCLASSIFIED"},
                             geometry=[shapely.Point(21.0 + 0.03 * i, 42.65) for i in range(11)], crs=4326)
    findings = evaluate({"infrastructure": zones}, load_rules(), NOW, track_points=fixes)
    entries = findings[findings["rule"] == "restricted_zone_entry"]
    assert len(entries) == 1 and "Camp exclusion" in entries["message"].iloc[0]
