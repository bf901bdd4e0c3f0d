"""USGS earthquake GeoJSON (ingest/adapters/usgs.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ingest import reasons
from ingest.adapters.usgs import derive_severity, epoch_ms_to_iso, read_usgs
from ingest.errors import UnreadableInputError
from ingest.validate import validate
from tests.ingest.adapters.conftest import DATA, SRC, by_id, xy

# rasterio.transform.from_origin still uses Affine's `*`, which affine 3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")


def test_usgs_mapping() -> None:
    res = read_usgs(DATA / "usgs/usgs_summary.geojson", source=SRC)
    assert (len(res.frame), len(res.rejected), res.records_read) == (3, 1, 4)
    rows = by_id(res.frame)
    a = rows["us7000wf01"]
    assert xy(a.geometry) == (21.4785, 42.0541) and not a.geometry.has_z
    # 1795169730000 ms: 2026-01-01 is day 20454 (56 years + 14 leap days) = 1767225600 s;
    # 20 Nov is 304 + 19 days later (+27907200 s) = 1795132800; +10:15:30 (36930 s).
    assert a.occurred_at == "2026-11-20T10:15:30.000Z"
    assert a.updated_at == "2026-11-20T11:00:00.123Z"  # 1795172400123 ms
    assert (a.category, a.subcategory, a.severity, a.status) == (
        "Earthquake",
        "mb",
        "medium",
        "verified",
    )
    assert a.title == "M 4.6 - 8 km NNE of Skopje, North Macedonia"
    assert a.location_name == "8 km NNE of Skopje, North Macedonia"
    assert "Depth: 10.0 km" in a.description and "Magnitude: 4.6 mb" in a.description
    b = rows["us7000wf02"]
    assert (b.severity, b.status) == ("medium", "reported")  # PAGER yellow beats M6.2; automatic
    assert "Depth: 35.25 km" in b.description and "Tsunami flag: 1" in b.description
    c = rows["us7000wf03"]
    assert (c.category, c.severity) == ("Quarry blast", "low")
    assert "Depth: -0.5 km" in c.description  # above sea level, as USGS gives it
    (rej,) = res.rejected.itertuples()
    assert (rej.source_id, rej.reason) == ("us7000wf04", reasons.MALFORMED_RECORD)
    assert "'21.0'" in rej.detail
    ok = validate(res.frame, "incidents", source=SRC).valid.set_index("source_id")
    assert ok.loc["us7000wf01"].updated_at == pd.Timestamp("2026-11-20T11:00:00.123Z")


def test_usgs_severity_and_epochs() -> None:
    assert derive_severity("red", 3.0) == "critical"
    assert derive_severity("Orange", None) == "high"
    assert derive_severity(None, 7.0) == "critical"
    assert derive_severity(None, 6.5) == "high"
    assert derive_severity(None, 4.5) == "medium"
    assert derive_severity(None, 2.0) == "low"
    assert derive_severity(None, None) == "low"
    assert epoch_ms_to_iso(0) == "1970-01-01T00:00:00.000Z"
    assert epoch_ms_to_iso("soon") == "soon" and epoch_ms_to_iso(True) is True


def test_usgs_not_a_feed(tmp_path: Path) -> None:
    p = tmp_path / "x.geojson"
    p.write_text(json.dumps({"type": "Feature", "geometry": None, "properties": {}}))
    with pytest.raises(UnreadableInputError, match="FeatureCollection"):
        read_usgs(p, source=SRC)
