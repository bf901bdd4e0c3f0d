"""Deployment and infrastructure CSV (ingest/adapters/layer_csv.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyproj
import pytest
import shapely

from ingest import reasons
from ingest.adapters.layer_csv import read_deployments_csv, read_infrastructure_csv, read_layer_csv
from ingest.errors import UnreadableInputError
from ingest.validate import validate
from tests.ingest.adapters.conftest import DATA, SRC, by_id, xy

# rasterio.transform.from_origin still uses Affine's `*`, which affine 3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")


def test_deployments_csv() -> None:
    res = read_deployments_csv(DATA / "csv/deployments_partner.csv", source=SRC)
    assert (len(res.frame), len(res.rejected), res.records_read) == (3, 3, 6)
    rows = by_id(res.frame)
    fra = rows["FRA-1"]
    assert xy(fra.geometry) == (21.1655, 42.6629)
    assert (fra.nation, fra.unit_name, fra.unit_type, fra.echelon, fra.strength) == (
        "FRA",
        "1er RIMa",
        "infantry",
        "company",
        140.0,
    )
    assert fra.area.equals(shapely.box(21.1, 42.62, 21.2, 42.7))
    assert fra.marking == "UNCLASSIFIED//REL TO NATO"
    deu = rows["DEU/Panzergrenadier Company 3"]
    assert deu.geometry.x == pytest.approx(20 + 51 / 60 + 56 / 3600, abs=1e-12)  # 20°51'56"E
    assert deu.geometry.y == pytest.approx(42 + 53 / 60 + 28 / 3600, abs=1e-12)  # 42°53'28"N
    ita = rows["ITA-1"]  # MGRS 34T EN 13294 23380: Pristina, see test_adapters' MGRS check
    t = pyproj.Transformer.from_crs("EPSG:32634", "EPSG:4326", always_xy=True)
    assert xy(ita.geometry) == pytest.approx(t.transform(513294.5, 4723380.5), abs=1e-7)
    assert ita.strength == "about 300"
    rej = res.rejected.set_index("source_id")
    assert rej.loc["GBR-1"].reason == reasons.BAD_COORDINATE_TEXT
    assert rej.loc["NLD-1"].reason == reasons.MALFORMED_RECORD and "WKT" in rej.loc["NLD-1"].detail
    assert "expected 13 fields" in rej.loc["POL-1"].detail
    ok = validate(res.frame, "deployments", source=SRC).valid.set_index("source_id")
    assert ok.loc["DEU/Panzergrenadier Company 3"].reported_at == pd.Timestamp("2026-11-20T08:00Z")


def test_infrastructure_csv_and_options(tmp_path: Path) -> None:
    res = read_infrastructure_csv(DATA / "csv/infrastructure_partner.csv", source=SRC)
    assert (len(res.frame), len(res.rejected), res.records_read) == (3, 1, 4)
    rows = by_id(res.frame)
    assert (rows["pristina-airport"].kind, rows["pristina-airport"].code) == ("airport", "BKPR")
    plant = rows["kosovo-b"]
    assert plant.kind == "power_plant" and plant.capacity == 678.0
    assert plant.geometry.equals(shapely.box(21.030, 42.684, 21.046, 42.694))
    hosp = rows["infrastructure_partner#2"]
    assert hosp.geometry.x == pytest.approx(21 + 9 / 60 + 8.6 / 3600, abs=1e-12)
    assert hosp.geometry.y == pytest.approx(42 + 38 / 60 + 58.6 / 3600, abs=1e-12)
    (rej,) = res.rejected.itertuples()
    assert (rej.source_id, rej.reason) == ("gazivoda-dam", reasons.MALFORMED_RECORD)

    p = tmp_path / "hospitals.csv"
    p.write_text("Site;Northing;Easting\nClinic A;42.5;21.0\n")
    res = read_layer_csv(
        p,
        source=SRC,
        layer="infrastructure",
        sep=";",
        columns={"name": "Site", "lat": "Northing", "lon": "Easting"},
        defaults={"kind": "hospital"},
    )
    row = res.frame.iloc[0]
    assert (row["name"], row.kind, row.source_id, xy(row.geometry)) == (
        "Clinic A",
        "hospital",
        "hospitals#0",
        (21.0, 42.5),
    )
    p.write_text("name,kind\nx,airport\n")
    with pytest.raises(UnreadableInputError, match="location columns"):
        read_infrastructure_csv(p, source=SRC)
