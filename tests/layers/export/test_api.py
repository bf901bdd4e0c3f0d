"""An export holds exactly what is on screen (layers/export/api.py), and the formats registry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from layers.export import (
    FORMATS,
    ExportError,
    selected_layers,
)
from layers.filters import View, apply_view
from tests.support.exports import (
    ALL_FORMATS,
    DATA_FORMATS,
    NOW,
    export,
    ids,
    read_back,
    shapefile_columns,
)


@pytest.mark.parametrize("fmt", DATA_FORMATS)
def test_filtered_export_holds_exactly_what_apply_view_selects(picture, fixes, fmt, tmp_path):
    aoi = "POLYGON ((20 41.5, 22 41.5, 22 43.5, 20 43.5, 20 41.5))"
    view = View(window="6h", severities=("high", "critical"), aoi_wkt=aoi,
                layers=("incidents", "tracks", "imagery", "deployments"))
    result = export(picture, view, fmt=fmt, tmp_path=tmp_path, track_points=fixes)
    on_screen = apply_view(picture, view, NOW)
    # The one incident left: critical, in the 6 h window, inside the area (not Paris, not Chile,
    # not the low one, not the old one).
    assert ids("incidents", on_screen["incidents"]) == [("demo-incidents", "INC-KOS")]
    back = read_back(fmt, result.path, [n for n in view.layers if len(on_screen[n])])
    for layer in view.layers:
        if len(on_screen[layer]) == 0:
            assert result.counts[layer] == 0
            continue
        assert ids(layer, back[layer] if fmt != "shp" else back[layer].rename(
            columns=shapefile_columns(on_screen[layer]))) == ids(layer, on_screen[layer]), (fmt, layer)
    # nothing the view does not show: no other layer, no fixes of other tracks or outside the window
    assert set(result.counts) == {*view.layers, "track_points"}
    shown_points = selected_layers(picture, view, NOW, fixes)["track_points"]
    assert set(shown_points["track_id"]) <= set(on_screen["tracks"]["track_id"])
    assert (shown_points["time"] >= NOW - timedelta(hours=6)).all()


def test_an_area_selects_the_reference_layers_too_and_keeps_their_shapes_whole(picture, tmp_path):
    """--bbox 20,41.5,22,43.5 (Kosovo): France, Paris and its places are left out; Kosovo's border, the
    disputed zone, the airport, the range and Pristina are in, with their whole geometries."""
    view = View(window="24h", aoi_wkt="POLYGON ((20 41.5, 22 41.5, 22 43.5, 20 43.5, 20 41.5))",
                layers=("borders", "disputed_areas", "infrastructure", "places"))
    result = export(picture, view, fmt="gpkg", tmp_path=tmp_path)
    assert result.counts == {"borders": 1, "disputed_areas": 1, "infrastructure": 2, "places": 1}
    back = read_back("gpkg", result.path, list(view.layers))
    assert ids("borders", back["borders"]) == [("reference", "XKX")]
    assert ids("places", back["places"]) == [("reference", "PRI")]
    assert ids("infrastructure", back["infrastructure"]) == [("reference", "PRN"), ("reference", "ZONE")]
    assert back["borders"].geometry.iloc[0].bounds == (20.0, 41.8, 21.8, 43.3)  # not cut at the area


def test_nothing_on_screen_is_an_error_not_an_empty_file(picture, tmp_path):
    view = View(window="1h", severities=("medium",), layers=("incidents",))
    with pytest.raises(ExportError, match="nothing to export"):
        export(picture, view, fmt="gpkg", tmp_path=tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ExportError, match="does not exist"):
        export(picture, fmt="gpkg", tmp_path=tmp_path / "missing" / "x.gpkg")
    with pytest.raises(ExportError, match="unknown export format"):
        export(picture, fmt="docx", tmp_path=tmp_path)


def test_formats_registry():
    assert set(FORMATS) == set(ALL_FORMATS)
    for spec in FORMATS.values():
        assert spec.mime and spec.extension and callable(spec.writer)
