"""What goes out comes back in: every export format that holds layers, read back by `ingest auto`.

The demo is exported with the real export API as the administrator sees it (every layer of the
picture and the tracks' fixes), read back with format detection and no --layer, and ingested
into an empty store, where every layer must hold the same records (ids, times, markings,
attributes, geometries on the 7-decimal grid), and into a copy of the store it came from, where
every layer must be 0 new, 0 updated.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import shapely

from ingest.adapters import detect, read
from ingest.errors import UnreadableInputError, UnsupportedOptionError
from ingest.pipeline import ingest
from ingest.store.delta import DeltaStore
from tests.conftest import DEMO_NOW, ROOT, TEST_PASSWORD

LAYERS = ("incidents", "deployments", "tracks", "imagery", "borders", "disputed_areas", "infrastructure", "places")
# (format, file name): every format that can hold layers, each as one file or a zip of tables.
FORMATS = [("geojson", "x.zip"), ("gpkg", "x.gpkg"), ("parquet", "x.zip"), ("csv", "x.zip"), ("kml", "x.kml"),
           ("kmz", "x.kmz"), ("shp", "x.zip")]


@pytest.fixture(scope="module")
def picture(demo_home):
    from layers.access import load_users
    from layers.filters import View
    from layers.picture import Window, load_picture, operational_bounds

    store = DeltaStore(demo_home / "store")
    view = View(layers=LAYERS)
    start, end = view.span(DEMO_NOW)
    pic = load_picture(store, Window(start, end), operational_bounds(store))
    points = store.read("track_points", start=start, end=end)
    viewer = load_users(demo_home / "users.toml")["admin"].viewer()
    return store, view, pic, points, viewer


@pytest.fixture(scope="module")
def original(demo_home, tmp_path_factory) -> DeltaStore:
    """A copy of the demo store: re-ingesting must change nothing, but the session's store is shared."""
    target = tmp_path_factory.mktemp("original") / "store"
    shutil.copytree(demo_home / "store", target)
    return DeltaStore(target)


def _export(picture, fmt: str, out: Path):
    from layers.export import export_view

    _, view, pic, points, viewer = picture
    return export_view(pic, view, viewer=viewer, fmt=fmt, out=out, now=DEMO_NOW, track_points=points)


def _ingest_all(store, path: Path, **options) -> dict:
    results = read(path, source="round-trip", **options)
    assert isinstance(results, list)
    return {r.layer: ingest(store, r, source="round-trip") for r in results}


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.drop(columns=["ingested_at"]).sort_values(["source", "source_id"]).reset_index(drop=True)
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_convert("UTC")
    return out


@pytest.mark.parametrize("fmt,name", FORMATS)
def test_an_export_comes_back_layer_by_layer(picture, original, tmp_path, fmt, name):
    result = _export(picture, fmt, tmp_path / name)
    exported = {layer: n for layer, n in result.counts.items() if n}
    assert {"incidents", "tracks", "track_points", "borders", "places"} <= set(exported)
    assert detect(result.path) == "watchfloor-export"

    empty = DeltaStore(tmp_path / "empty")
    summaries = _ingest_all(empty, result.path)
    assert set(summaries) == set(exported)
    store = picture[0]
    for layer, n in exported.items():
        s = summaries[layer]
        assert (s.read, s.stored, s.quarantined) == (n, n, 0), (layer, s.line())
        back = _comparable(empty.read(layer))
        want = store.read(layer)
        want = _comparable(want.merge(back[["source", "source_id"]], on=["source", "source_id"]))
        assert len(want) == n
        for col in want.columns:
            if col == "geometry":
                assert shapely.equals_exact(back.geometry.values, want.geometry.values, tolerance=1e-7).all(), layer
            elif fmt == "gpkg" and isinstance(want[col].dtype, pd.DatetimeTZDtype):  # GDAL keeps milliseconds
                assert (back[col].dt.floor("ms").fillna(pd.Timestamp(0, tz="UTC"))
                        == want[col].dt.floor("ms").fillna(pd.Timestamp(0, tz="UTC"))).all(), (layer, col)
            else:
                pd.testing.assert_series_equal(back[col], want[col], check_names=False, obj=f"{layer}.{col}")

    again = _ingest_all(original, result.path)
    for layer, n in exported.items():
        s = again[layer]
        assert (s.inserted, s.updated, s.unchanged) == (0, 0, n), (layer, s.line())
        assert "0 new, 0 updated" in s.line()


def test_one_layer_of_csv_is_a_plain_csv_read_by_its_sidecar(picture, original, tmp_path):
    from layers.export import export_view
    from layers.filters import View

    pic, viewer = picture[2], picture[4]

    result = export_view(pic, View(layers=("incidents",)), viewer=viewer, fmt="csv", out=tmp_path / "inc.csv",
                         now=DEMO_NOW)
    assert (tmp_path / "inc.csv.provenance.txt").is_file()
    assert detect(result.path) == "watchfloor-export"
    (summary,) = _ingest_all(original, result.path).values()
    assert (summary.layer, summary.inserted, summary.updated, summary.unchanged) == \
        ("incidents", 0, 0, result.counts["incidents"])
    (tmp_path / "inc.csv.provenance.txt").unlink()  # without its provenance, it is a foreign CSV
    with pytest.raises(UnreadableInputError, match="cannot tell the format"):
        detect(result.path)


def test_layer_and_table_pick_one_layer_and_are_refused_when_they_contradict(picture, tmp_path):
    result = _export(picture, "gpkg", tmp_path / "x.gpkg")
    store = DeltaStore(tmp_path / "s")
    assert set(_ingest_all(store, result.path, layer="incidents")) == {"incidents"}
    assert set(_ingest_all(store, result.path, table="borders")) == {"borders"}
    with pytest.raises(UnsupportedOptionError, match="holds .*incidents.*not hotspots"):
        read(result.path, source="x", layer="hotspots")
    with pytest.raises(UnsupportedOptionError, match="name different layers"):
        read(result.path, source="x", layer="incidents", table="borders")


def test_a_zip_without_its_provenance_is_foreign_and_a_damaged_one_is_named(picture, tmp_path):
    import zipfile

    result = _export(picture, "geojson", tmp_path / "x.zip")
    bare = tmp_path / "bare.zip"
    with zipfile.ZipFile(result.path) as src, zipfile.ZipFile(bare, "w") as dst:
        for n in src.namelist():
            if n != "PROVENANCE.txt":
                dst.writestr(n, src.read(n))
    with pytest.raises(UnreadableInputError, match="cannot tell the format"):
        detect(bare)
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(result.path) as src, zipfile.ZipFile(broken, "w") as dst:
        for n in src.namelist():
            dst.writestr(n, b"{not json" if n == "incidents.geojson" else src.read(n))
    with pytest.raises(UnreadableInputError, match=r"broken.zip!incidents.geojson.*not JSON"):
        read(broken, source="x")


@pytest.mark.parametrize("fmt,name", [("parquet", "x.zip"), ("kmz", "x.kmz"), ("shp", "x.zip")])
def test_the_command_line_reads_an_export_without_layer(picture, demo_home, tmp_path, fmt, name):
    result = _export(picture, fmt, tmp_path / name)
    home = tmp_path / "home"
    home.mkdir()
    env = {"WATCHFLOOR_HOME": str(home), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "layers.cli", "ingest", "auto", "--source", "rt", str(result.path)],
                       env=env, capture_output=True, text=True, input=TEST_PASSWORD, timeout=300,
                       check=False)
    assert r.returncode == 0, r.stderr
    assert f"incidents: {result.counts['incidents']} stored, 0 quarantined" in r.stdout
    assert "tracks: " in r.stdout and "track_points: " in r.stdout


def test_a_shapefile_zip_comes_back_with_its_layers_columns_and_geometry_types(tmp_path):
    """A shapefile has 10-character field names and no Polygon/MultiPolygon distinction: FIELDS.json
    maps both back. Hand-made: Kosovo's border is a one-part MultiPolygon, France's two parts; the
    infrastructure mixes a point, a polygon with a hole and a one-part MultiPolygon (one polygon
    shapefile holding both types)."""
    import json
    import zipfile

    from tests.support.exports import ALL_SEEING, _valid, export, make_picture

    picture = make_picture()
    dam = _valid("infrastructure", [{"source_id": "DAM", "kind": "dam", "name": "Gazivoda",
                                     "geometry": shapely.MultiPolygon([shapely.box(20.6, 42.9, 20.7, 43.0)])}],
                 source="reference", marking="UNCLASSIFIED")
    picture["infrastructure"] = pd.concat([picture["infrastructure"], dam], ignore_index=True)
    from layers.filters import View

    view = View(window="24h", layers=("incidents", "deployments", "borders", "infrastructure"))
    result = export(picture, view, fmt="shp", tmp_path=tmp_path, viewer=ALL_SEEING)
    with zipfile.ZipFile(result.path) as zf:
        index = json.loads(zf.read("FIELDS.json"))["shapefiles"]
    assert index["borders_polygon.shp"]["geometry_type"] == "MultiPolygon"
    assert index["infrastructure_polygon.shp"]["multi_rows"] == [1]  # ZONE (a Polygon), then DAM
    assert index["incidents_point.shp"]["fields"]["occurred"] == "occurred_at"
    area = index["deployments_area_polygon.shp"]
    assert (area["layer"], area["column"], area["fields"]["source_id"]) == ("deployments", "area", "source_id")
    assert detect(result.path) == "watchfloor-export"

    store = DeltaStore(tmp_path / "s")
    summaries = _ingest_all(store, result.path)
    assert {layer: s.stored for layer, s in summaries.items()} == {"incidents": 4, "deployments": 2, "borders": 2,
                                                                   "infrastructure": 3}
    kinds = {r.source_id: r.geometry.geom_type for r in store.read("infrastructure").itertuples()}
    assert kinds == {"PRN": "Point", "ZONE": "Polygon", "DAM": "MultiPolygon"}
    borders = store.read("borders").set_index("source_id").geometry
    assert borders["XKX"].geom_type == "MultiPolygon" and len(borders["XKX"].geoms) == 1
    assert len(borders["FRA"].geoms) == 2
    zone = store.read("infrastructure").set_index("source_id").geometry["ZONE"]
    assert len(zone.interiors) == 1  # the hole is still a hole
    units = store.read("deployments").set_index("source_id")
    assert units.loc["GBR-1", "area"].equals(picture["deployments"].set_index("source_id").loc["GBR-1", "area"])
    assert units.loc["FRA-1", "area"] is None
    inc = store.read("incidents").set_index("source_id")
    assert inc.loc["INC-PARIS", "occurred_at"] == pd.Timestamp("2026-11-21T11:30:00.123456Z")
    assert inc.loc["INC-PARIS", "marking"] == "UNCLASSIFIED//REL TO NATO"


def test_a_kml_that_says_it_is_ours_but_names_no_layer_is_refused_with_the_way_out(tmp_path):
    old = tmp_path / "old.kml"  # an export written before folders named their layers
    old.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
                   '<ExtendedData><Data name="watchfloor:provenance"><value>{}</value></Data></ExtendedData>'
                   '<Folder><name>incidents</name></Folder></Document></kml>', encoding="utf-8")
    assert detect(old) == "watchfloor-export"
    with pytest.raises(UnreadableInputError, match=r"no folder naming its layer.*--layer"):
        read(old, source="x")
