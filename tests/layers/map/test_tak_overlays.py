"""TAK drawings on both maps (deck.gl and Leaflet), in the colours their authors gave them in TAK."""

from __future__ import annotations

from datetime import UTC, datetime

import geopandas as gpd
import pandas as pd

from ingest.adapters import read
from ingest.validate import validate
from layers.map.deck import build_layers
from layers.map.deck.overlays import rgba
from layers.map.leaflet.overlays import _tak_features
from tests.ingest.adapters.conftest import DATA


def drawings() -> gpd.GeoDataFrame:
    frames = []
    for name in ("wintak_geofence.cot", "atak_route.cot"):
        (result,) = read(DATA / "cot" / name, source="tak")
        frames.append(validate(result.frame, "overlays", source="tak", default_marking="UNCLASSIFIED").valid)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326)


def test_colours_are_taken_from_tak():
    assert rgba("#0000FFFF", [0, 0, 0, 0]) == [0, 0, 255, 255]
    assert rgba("#FFFFFF96", [0, 0, 0, 0]) == [255, 255, 255, 150]
    assert rgba(None, [1, 2, 3, 4]) == [1, 2, 3, 4] and rgba("red", [1, 2, 3, 4]) == [1, 2, 3, 4]


def test_a_fence_is_an_area_and_a_route_a_line_on_both_maps():
    frame = drawings()
    deck = {layer.id: layer for layer in build_layers({"overlays": frame}, ["overlays"], datetime.now(UTC))}
    assert set(deck) == {"overlays", "overlay_lines"}
    fence = deck["overlays"].data[0]
    assert fence["line"] == [255, 255, 255, 255] and fence["fill"] == [255, 255, 255, 150]  # -1, -1761607681
    assert "Geo Fence Circle" in fence["tip"] and "Entry" in fence["tip"]
    assert deck["overlay_lines"].data[0]["color"] == [0, 0, 255, 255]  # the route's -16776961
    leaflet = _tak_features(frame)["features"]
    assert [f["geometry"]["type"] for f in leaflet] == ["Polygon", "LineString"]
    assert leaflet[0]["properties"]["style"]["fill"] is True and leaflet[1]["properties"]["style"]["fill"] is False
