"""H3 incident hot spots (layers/analysis/hotspots.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import h3
import pandas as pd
import shapely

from layers.analysis import (
    hex_density,
    hotspots,
)
from tests.support.frames import NOW, assert_findings, incidents


def test_hex_density_and_hotspot_finding():
    spot = (21.1655, 42.6629)  # Pristina
    times = [NOW - timedelta(hours=h) for h in (5, 4, 3, 2, 1)]
    inc = incidents([spot] * 5 + [(19.26, 42.44), spot], times=times + [NOW - timedelta(hours=1),
                                                                       NOW - timedelta(days=3)],
                    places=["Pristina"] * 5 + ["Podgorica", "Pristina"])
    cell = h3.latlng_to_cell(spot[1], spot[0], 6)
    dens = hex_density(inc, resolution=6, start=NOW - timedelta(hours=24), end=NOW)
    assert dens["h3"].iloc[0] == cell
    assert (dens["count"].iloc[0], dens["score"].iloc[0]) == (5, 20.0)  # 5 high = 5 x 4; the 3-day-old one is out
    assert dens.geometry.iloc[0].contains(shapely.Point(spot))
    assert dens["count"].sum() == 6
    f = hotspots(inc, NOW, window=timedelta(hours=24), resolution=6, min_score=20, min_count=3)
    assert_findings(f)
    assert len(f) == 1
    assert f["key"].iloc[0] == f"hotspot|h3/{cell}|2026-11-21T00:00:00Z"
    assert f["time"].iloc[0] == pd.Timestamp(NOW - timedelta(hours=1))  # the 5th incident reached 20
    assert f["message"].iloc[0].startswith("Hot spot near Pristina: 5 incidents (score 20)")
    assert len(json.loads(f["subjects"].iloc[0])) == 5
    assert hotspots(inc, NOW, min_score=24).empty


def test_hexagon_on_the_antimeridian_is_split_not_wrapped_round_the_world():
    from layers.analysis.hotspots import cell_polygon

    poly = cell_polygon(h3.latlng_to_cell(0.0, 179.99, 3))
    minx, _, maxx, _ = poly.bounds
    assert poly.geom_type == "MultiPolygon" and minx == -180.0 and maxx == 180.0
    assert shapely.area(poly) < 2.0  # a res-3 cell is ~0.1 square degrees, not a 360-degree band
