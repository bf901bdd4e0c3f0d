"""The bundled reference layers in data/reference/ (built by data/build_reference.py)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest

from ingest.schema import INFRASTRUCTURE_KINDS, LAYERS

DATA = Path(__file__).resolve().parents[2] / "data"
REFERENCE = DATA / "reference"
ATTRIBUTION = DATA / "ATTRIBUTION.md"

POLYGONAL = {"Polygon", "MultiPolygon"}
LAYER_FILES = {
    "borders": (["source_id", "country_code", "name"], POLYGONAL),
    "disputed_areas": (["source_id", "name", "claimants", "note"], POLYGONAL),
    "infrastructure": (
        ["source_id", "kind", "name", "subkind", "country_code", "capacity", "code"],
        {"Point"},
    ),
    "places": (["source_id", "name", "country_code", "population"], {"Point"}),
}


@pytest.fixture(scope="module", params=sorted(LAYER_FILES))
def layer(request) -> tuple[str, gpd.GeoDataFrame]:
    path = REFERENCE / f"{request.param}.parquet"
    assert path.is_file(), f"{path} missing: run data/build_reference.py"
    return request.param, gpd.read_parquet(path)


@pytest.fixture(scope="module")
def borders() -> gpd.GeoDataFrame:
    return gpd.read_parquet(REFERENCE / "borders.parquet")


@pytest.fixture(scope="module")
def infrastructure() -> gpd.GeoDataFrame:
    return gpd.read_parquet(REFERENCE / "infrastructure.parquet")


def test_crs_is_4326(layer):
    _, df = layer
    assert df.crs is not None and df.crs.to_epsg() == 4326


def test_columns(layer):
    name, df = layer
    expected, _ = LAYER_FILES[name]
    assert list(df.columns) == expected + ["geometry"]
    # every column is one the canonical layer spec knows
    known = set(LAYERS[name].column_names)
    assert set(expected) <= known


def test_source_ids_present_and_unique(layer):
    _, df = layer
    assert len(df) > 0
    assert df["source_id"].notna().all()
    assert (df["source_id"].str.len() > 0).all()
    assert df["source_id"].is_unique


def test_required_columns_filled(layer):
    name, df = layer
    for col in LAYERS[name].columns:
        if col.required and col.name in df:
            assert df[col.name].notna().all(), f"{name}.{col.name} has nulls"


def test_geometries_valid_and_typed(layer):
    name, df = layer
    _, types = LAYER_FILES[name]
    assert df.geometry.notna().all()
    assert not df.geometry.is_empty.any()
    assert df.geometry.is_valid.all()
    assert set(df.geom_type.unique()) <= types
    assert set(df.geom_type.unique()) <= set(LAYERS[name].geometry_types)


def test_bounds_are_lon_lat(layer):
    _, df = layer
    x0, y0, x1, y1 = df.total_bounds
    assert -180 <= x0 <= x1 <= 180
    assert -90 <= y0 <= y1 <= 90


def test_borders_cover_the_western_balkans(borders):
    codes = set(borders["country_code"])
    assert {"SRB", "XKX", "MKD", "ALB", "MNE", "BIH"} <= codes
    kosovo = borders[borders["country_code"] == "XKX"]
    assert len(kosovo) == 1 and kosovo["name"].iloc[0] == "Kosovo"
    # Kosovo is its own feature, not part of Serbia's polygon
    serbia = borders.loc[borders["country_code"] == "SRB"].geometry.iloc[0]
    assert serbia.intersection(kosovo.geometry.iloc[0]).area < 1e-6


def test_disputed_areas_come_from_borders(borders):
    disputed = gpd.read_parquet(REFERENCE / "disputed_areas.parquet")
    assert "Kosovo" in set(disputed["name"])
    by_code = borders.set_index("country_code").geometry
    for sid, geom in zip(disputed["source_id"], disputed.geometry):
        code = sid.removeprefix("ne-disputed:")
        assert geom.equals(by_code[code]), sid


def test_infrastructure_kinds(infrastructure):
    assert set(infrastructure["kind"]) <= set(INFRASTRUCTURE_KINDS)
    assert {"airport", "power_plant", "port"} <= set(infrastructure["kind"])


def test_belgrade_airport(infrastructure):
    lybe = infrastructure[infrastructure["code"] == "LYBE"]
    assert len(lybe) == 1
    row = lybe.iloc[0]
    assert row["kind"] == "airport"
    assert row["country_code"] == "SRB"
    assert row.geometry.x == pytest.approx(20.31, abs=0.05)
    assert row.geometry.y == pytest.approx(44.82, abs=0.05)


def test_country_codes_are_alpha3(infrastructure):
    places = gpd.read_parquet(REFERENCE / "places.parquet")
    for df in (infrastructure, places):
        codes = df["country_code"].dropna()
        assert codes.str.fullmatch(r"[A-Z]{3}").all()


def test_data_folder_under_10_mb():
    total = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    assert total < 10 * 1024 * 1024, f"data/ is {total} bytes"


def test_every_reference_file_is_attributed():
    text = ATTRIBUTION.read_text(encoding="utf-8")
    files = sorted(p for p in REFERENCE.iterdir() if p.is_file())
    assert files
    for path in files:
        assert f"data/reference/{path.name}" in text, f"{path.name} not in ATTRIBUTION.md"
