"""Zipped Shapefile exports (layers/export/shapefile.py): short, unique, documented field names."""

from __future__ import annotations

import zipfile

import pyogrio

from layers.export import (
    shapefile_field_names,
)
from tests.support.exports import VIEW, export


def test_shapefile_field_names_are_short_unique_and_deterministic():
    cols = ["source_id", "description", "description_long", "Description_x", "last_heading_deg",
            "ünïcode name", "1st", "a" * 30, "a" * 30 + "b", "a" * 8 + "_1"]
    names = shapefile_field_names(cols)
    assert names == shapefile_field_names(list(cols))  # same input, same output
    assert all(len(n) <= 10 for n in names.values())
    assert len({n.lower() for n in names.values()}) == len(cols)
    assert names["description"] == "descr" and names["last_heading_deg"] == "last_hdg"
    assert names["description_long"] == "descriptio" and names["Description_x"] == "Descript_1"
    assert names["1st"] == "f1st" and names["a" * 30] == "aaaaaaaaaa" and names["a" * 30 + "b"] == "aaaaaaaa_1"
    assert names["a" * 8 + "_1"] == "aaaaaaaa_2"


def test_shapefile_zip_documents_its_field_names(picture, tmp_path):
    result = export(picture, VIEW, fmt="shp", tmp_path=tmp_path)
    with zipfile.ZipFile(result.path) as zf:
        names = zf.namelist()
        fields = zf.read("FIELDS.txt").decode()
    # one shapefile per layer and geometry type, always suffixed; the second geometry apart
    assert {"incidents_point.shp", "infrastructure_point.shp", "infrastructure_polygon.shp",
            "deployments_point.shp", "deployments_area_polygon.shp", "tracks_line.shp",
            "tracks_point.shp"} <= set(names)
    for part in (".shx", ".dbf", ".prj", ".cpg"):
        assert f"incidents_point{part}" in names
    assert "occurred    <-  occurred_at" in fields and "descr       <-  description" in fields
    dbf_fields = pyogrio.read_info(f"/vsizip/{result.path}/incidents_point.shp")["fields"]
    mapping = shapefile_field_names([c for c in picture["incidents"].columns if c != "geometry"])
    assert list(dbf_fields) == list(mapping.values())
    assert "ingested_at" in fields and "FIELDS" not in fields.splitlines()[0]
