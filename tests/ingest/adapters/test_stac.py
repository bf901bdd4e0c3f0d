"""STAC Items and ItemCollections (ingest/adapters/stac.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest import reasons
from ingest.adapters.stac import read_stac
from ingest.errors import UnreadableInputError
from tests.ingest.adapters.conftest import DATA, SRC, by_id


def test_stac_real_items() -> None:
    res = read_stac(DATA / "stac/sample-bands-in-item-properties.json", source=SRC)
    (r,) = [r for _, r in res.frame.iterrows()]
    assert r.source_id == "CS3-20160503_132131_05"
    assert r.acquired_at == "2016-05-03T13:22:30Z"
    assert (r.collection, r.platform, r.cloud_cover, r.gsd) == ("CS3", "coolsat2", 0.12, 0.512)
    assert r.thumbnail == "http://cool-sat.com/catalog/CS3-20160503_132130_04/thumbnail.png"
    assert r.geometry.geom_type == "Polygon"
    assert r.geometry.exterior.coords[0] == (-122.308150179, 37.488035566)

    (r,) = [
        r for _, r in read_stac(DATA / "stac/eo-landsat-example.json", source=SRC).frame.iterrows()
    ]
    assert r.source_id == "LC08_L1TP_107018_20181001_20181001_01_RT"
    assert (r.collection, r.platform, r.cloud_cover, r.gsd) == (
        "landsat-8-l1",
        "landsat-8",
        78.0,
        30.0,
    )
    assert r.acquired_at == "2018-10-01T01:08:32.033000Z"
    assert r.thumbnail.endswith("_thumb_large.jpg")
    assert r.geometry.exterior.coords[0] == (152.52758, 60.63437)


def test_stac_item_collection() -> None:
    res = read_stac(DATA / "stac/item_collection.json", source=SRC)
    assert (len(res.frame), len(res.rejected), res.records_read) == (2, 1, 3)
    assert res.default_marking == "UNCLASSIFIED//REL TO NATO"
    rows = by_id(res.frame)
    s2 = rows["S2B_34TEN_20240504_0_L2A"]
    assert s2.acquired_at == "2024-05-04T09:40:19Z"  # start_datetime: datetime is null
    assert (s2.collection, s2.platform, s2.constellation) == (
        "sentinel-2-l2a",
        "sentinel-2b",
        "sentinel-2",
    )
    assert (s2.cloud_cover, s2.gsd, s2.native_crs) == (12.5, 10.0, "EPSG:32634")
    assert s2.thumbnail == "./S2B_34TEN_20240504_0_L2A/preview.jpg"  # found by role
    assert s2.marking == "UNCLASSIFIED"
    assert list(s2.geometry.exterior.coords)[1] == (21.8, 42.3)
    (rej,) = [r for _, r in res.rejected.iterrows()]
    assert rej.source_id == "BROKEN-NO-DATETIME" and rej.reason == reasons.MALFORMED_RECORD
    assert "pystac" in rej.detail and "datetime" in rej.detail


def test_stac_collection_is_not_items(tmp_path: Path) -> None:
    p = tmp_path / "collection.json"
    p.write_text(json.dumps({"type": "Collection", "stac_version": "1.1.0", "id": "c"}))
    with pytest.raises(UnreadableInputError, match="found type 'Collection'"):
        read_stac(p, source=SRC)
