"""Feature tables and details for the analyst, and quicklooks read only from their own folder."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from layers.table import feature_details, feature_table, quicklook


def scenes(path: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"source": ["s"], "source_id": ["scene-1"], "quicklook": [path],
                             "acquired_at": [pd.Timestamp("2026-11-20T10:00Z")], "platform": ["sentinel-2a"]},
                            geometry=[shapely.box(20, 42, 21, 43)], crs=4326)


def test_table_has_lon_lat_and_newest_first():
    frame = scenes("x.png")
    table = feature_table(frame, "imagery")
    assert table.loc[0, ["lon", "lat"]].tolist() == [20.5, 42.5]
    details = feature_details(frame, "imagery", table.iloc[0]).set_index("field")["value"]
    assert details["source_id"] == "scene-1"


def test_quicklook_is_read_from_the_quicklook_folder_only(tmp_path, monkeypatch):
    monkeypatch.setenv("WATCHFLOOR_HOME", str(tmp_path))
    (tmp_path / "quicklooks").mkdir()
    png = tmp_path / "quicklooks" / "abc.png"
    png.write_bytes(b"\x89PNG fake")
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"secret")
    row = pd.Series({"source": "s", "source_id": "scene-1"})
    assert quicklook(scenes(str(png)), row) == b"\x89PNG fake"
    assert quicklook(scenes(str(outside)), row) is None
    assert quicklook(scenes("../secret.png"), row) is None
    assert quicklook(scenes("/etc/passwd"), row) is None
