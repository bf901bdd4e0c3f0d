"""Marking text that means what it says: what an alert holds, never "REL TO NONE" for what someone sees."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import shapely

from ingest.markings import derived_text, highest_marking
from layers.access import Viewer, restrict

GBR_ADMIN = Viewer("gbr.admin", "GBR", "SECRET", "administrator")


def test_derived_text_is_highest_level_and_common_nations_and_says_when_something_is_unmarked():
    assert derived_text(["UNCLASSIFIED//REL TO USA, GBR", "RESTRICTED//REL TO GBR, FRA"]) == "RESTRICTED//REL TO GBR"
    assert derived_text(["RESTRICTED//REL TO GBR", None]) == "RESTRICTED//REL TO GBR + UNMARKED DATA PRESENT"
    assert derived_text(["R//REL TO GBR", "garbled ###"]) == "RESTRICTED//REL TO GBR + UNMARKED DATA PRESENT"
    assert derived_text([None]) == "UNMARKED DATA PRESENT"
    assert derived_text(["UNCLASSIFIED"]) == "UNCLASSIFIED"


def test_summaries_of_summaries_add_up_like_the_records():
    parts = ["SECRET//REL TO GBR, USA", "RESTRICTED//REL TO GBR + UNMARKED DATA PRESENT", "UNCLASSIFIED"]
    assert highest_marking(parts) == "SECRET//REL TO GBR + UNMARKED DATA PRESENT"
    assert highest_marking(["UNMARKED DATA PRESENT", "RESTRICTED//REL TO GBR"]) == (
        "RESTRICTED//REL TO GBR + UNMARKED DATA PRESENT")


def test_an_alert_over_a_readable_and_an_unreadable_record_as_an_administrator_sees_it():
    incidents = gpd.GeoDataFrame(
        {"source": ["feed", "feed"], "source_id": ["GBR-1", "NOMARK-1"],
         "marking": ["RESTRICTED//REL TO GBR", None]},
        geometry=[shapely.Point(20, 42), shapely.Point(20.1, 42)], crs=4326)
    alerts = gpd.GeoDataFrame(
        {"key": ["k"], "rule": ["hotspot"], "severity": ["high"], "time": [pd.Timestamp("2026-12-04T12:00Z")],
         "subjects": [json.dumps(["incidents/feed/GBR-1", "incidents/feed/NOMARK-1"])], "message": ["m"],
         "details": ["{}"], "state": ["open"]},
        geometry=[shapely.Point(20, 42)], crs=4326)
    seen = restrict({"incidents": incidents, "alerts": alerts}, GBR_ADMIN)
    assert seen["alerts"]["marking"].tolist() == ["RESTRICTED//REL TO GBR + UNMARKED DATA PRESENT"]
    banner = highest_marking([m for f in seen.values() for m in f["marking"].astype(object)])
    assert banner == "RESTRICTED//REL TO GBR + UNMARKED DATA PRESENT"
    # a GBR analyst sees neither the unmarked incident nor the alert that names it
    analyst = restrict({"incidents": incidents, "alerts": alerts}, Viewer("gbr.a", "GBR", "SECRET", "analyst"))
    assert analyst["alerts"].empty and analyst["incidents"]["source_id"].tolist() == ["GBR-1"]
