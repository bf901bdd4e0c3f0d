"""GDACS GeoRSS (ingest/adapters/georss.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from ingest import reasons
from ingest.adapters.georss import read_georss, rfc822_to_iso
from ingest.errors import HostileInputError, UnreadableInputError
from ingest.validate import validate
from tests.ingest.adapters.conftest import DATA, SRC, by_id, xy

# rasterio.transform.from_origin still uses Affine's `*`, which affine 3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")


def test_georss_gdacs_mapping() -> None:
    res = read_georss(DATA / "georss/gdacs_rss.xml", source=SRC)
    assert (len(res.frame), len(res.rejected), res.records_read) == (4, 2, 6)
    rows = by_id(res.frame)
    eq = rows["EQ1500001"]
    assert xy(eq.geometry) == (19.8187, 41.3275)  # georss:point is "lat lon"
    assert (eq.category, eq.severity, eq.status) == ("Earthquake", "high", "reported")  # Orange
    assert eq.occurred_at == "2026-11-20T10:15:30Z"  # gdacs:fromdate, Fri, 20 Nov 2026 10:15:30 GMT
    assert eq.updated_at == "2026-11-20T11:00:00Z"  # pubDate
    assert eq.location_name == "Albania"
    assert eq.title.startswith("Orange earthquake alert (Magnitude 6.1M")
    assert "Severity: Magnitude 6.1M, Depth:10km" in eq.description
    assert "Population: 210000 people within 100km" in eq.description
    assert "Link: https://www.gdacs.org/report.aspx?eventtype=EQ&eventid=1500001" in eq.description
    tc = rows["TC1000801"]
    assert xy(tc.geometry) == (59.8, -19.4)  # geo:Point only
    assert (tc.category, tc.severity, tc.status) == ("Tropical cyclone", "low", "closed")
    assert tc.subcategory == "ALVIN-26" and tc.occurred_at == "2026-11-15T00:00:00Z"
    fl = rows["FL1103001"]
    assert (fl.category, fl.severity) == ("Flood", "critical")
    assert (fl.occurred_at, fl.updated_at) == ("2026-11-18T06:12:00Z", "2026-11-20T22:05:12Z")
    wf = rows["WF1020304"]  # no guid: event type + event id
    assert (wf.category, wf.severity, wf.occurred_at) == ("Wildfire", "low", "2026-11-19T00:00:00Z")
    rej = res.rejected.set_index("source_id")
    assert rej.loc["DR1017001"].reason == reasons.MALFORMED_RECORD
    assert rej.loc["VO1000077"].reason == reasons.BAD_COORDINATE_TEXT
    assert "north 14.9" in rej.loc["VO1000077"].detail
    ok = validate(res.frame, "incidents", source=SRC).valid.set_index("source_id")
    assert len(ok) == 4
    assert ok.loc["EQ1500001"].occurred_at == pd.Timestamp("2026-11-20T10:15:30Z")


def test_rfc822_dates() -> None:
    assert rfc822_to_iso("Sun, 29 Dec 2019 12:00:00 GMT") == "2019-12-29T12:00:00Z"
    assert rfc822_to_iso("Fri, 20 Nov 2026 12:15:30 +0200") == "2026-11-20T10:15:30Z"
    assert rfc822_to_iso("Fri, 20 Nov 2026 12:15:30 -0000") == "Fri, 20 Nov 2026 12:15:30 -0000"
    assert rfc822_to_iso("yesterday") == "yesterday"


@pytest.mark.parametrize("name", ["billion_laughs_georss.xml", "xxe_georss.xml"])
def test_georss_hostile_xml_is_refused(name: str) -> None:
    with pytest.raises(HostileInputError, match="DOCTYPE") as err:
        read_georss(DATA / "hostile" / name, source=SRC)
    assert name in str(err.value)


def test_georss_not_rss() -> None:
    with pytest.raises(UnreadableInputError, match="<rss> root"):
        read_georss(DATA / "kml/infrastructure.kml", source=SRC)
