"""A geofence drawn in TAK raises the restricted-zone alert when a track enters it
(layers/alerts/evaluate.py `tak_geofences`; `include_tak_geofences` in alerts.toml).

The fence is the real WinTAK geofence circle of tests/data/cot/wintak_geofence.cot (radius
297.72 m around lon -77.06586686880725, lat 38.830898851915514), read by the CoT adapter and
validated as at ingest; the track is hand-made: 1 km west of the centre, then 100 m west of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import shapely

from ingest.adapters import read
from ingest.validate import validate
from layers.alerts import evaluate, parse_rules

FENCE = Path(__file__).resolve().parents[2] / "data" / "cot" / "wintak_geofence.cot"
NOW = datetime(2020, 12, 16, 20, 0, tzinfo=UTC)
LON, LAT = -77.06586686880725, 38.830898851915514
DEG_PER_M = 1 / (111_320 * 0.7785)  # metres to degrees of longitude at 38.83 N (cos 38.83 = 0.7785)


def overlays() -> gpd.GeoDataFrame:
    (result,) = read(FENCE, source="tak")
    conformed = validate(result.frame, "overlays", source="tak", default_marking="UNCLASSIFIED", now=NOW)
    assert conformed.quarantined.empty
    return conformed.valid


def fixes() -> gpd.GeoDataFrame:
    xs = [LON - 1000 * DEG_PER_M, LON - 100 * DEG_PER_M]
    return gpd.GeoDataFrame({"track_id": ["UAV-1", "UAV-1"], "source": ["drones"] * 2,
                             "source_id": ["UAV-1@1", "UAV-1@2"],
                             "time": [datetime(2020, 12, 16, 19, 55, tzinfo=UTC), datetime(2020, 12, 16, 19, 56, tzinfo=UTC)]},
                            geometry=[shapely.Point(x, LAT) for x in xs], crs=4326)


def test_a_track_entering_a_drawn_tak_geofence_raises_the_restricted_zone_alert():
    found = evaluate({"overlays": overlays()}, parse_rules({}), NOW, track_points=fixes())
    hits = found[found["rule"] == "restricted_zone_entry"]
    assert len(hits) == 1
    hit = hits.iloc[0]
    assert hit["severity"] == "critical"
    assert "overlays/tak/d0be1c6b-4d86-40ec-bf8f-0e94b621eb3b" in hit["subjects"]
    assert "Geo Fence Circle" in hit["message"]
    # it enters where the track crosses the circle: 297.72 m west of the centre
    assert abs((hit.geometry.x - LON) / DEG_PER_M + 297.72) < 2


def test_tak_geofences_can_be_left_out_and_a_plain_drawing_is_no_fence():
    rules = parse_rules({"rules": {"restricted_zone_entry": {"include_tak_geofences": False}}})
    assert not rules.restricted_zone_entry.include_tak_geofences
    found = evaluate({"overlays": overlays()}, rules, NOW, track_points=fixes())
    assert (found["rule"] != "restricted_zone_entry").all()
    plain = overlays().assign(geofence=False)
    found = evaluate({"overlays": plain}, parse_rules({}), NOW, track_points=fixes())
    assert (found["rule"] != "restricted_zone_entry").all()
